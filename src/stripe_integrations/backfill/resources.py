"""The built-in resources, in the order ``stripe_sync`` runs them.

Payment methods can only be listed per customer in Stripe's API, so:

- the ``customers`` pass expands each customer's ``invoice_settings.default_payment_method``
  and ``default_source``: the default of every customer is mirrored at no extra request;
- the ``payment_methods`` pass lists every payment method of every customer
  (``GET /v1/customers/{id}/payment_methods``): one request per customer, plus one per
  20 customers to list them, sliced by the customers' ``created``.
"""

from __future__ import annotations

from django.db.models import Q

from stripe_integrations.backfill.registry import Resource
from stripe_integrations.sync import mapping
from stripe_integrations.sync import upsert as up

#: Expansions on the customer list: the default payment method or source of each customer.
CUSTOMER_LIST_EXPAND = ["data.invoice_settings.default_payment_method", "data.default_source"]


def _billing_resources() -> list[Resource]:
    """Billing resources whose models and sync functions exist in this release."""
    try:
        from stripe_integrations.sync import mapping_billing as billing
    except ImportError:  # pragma: no cover - older tree without billing models
        return []
    deleted = Q(is_deleted=True)
    specs = [
        ("products", "product", "Product", "sync_products", "product_fields", 30,
         ("active", "name", "updated", "default_price"), deleted),
        ("prices", "price", "Price", "sync_prices", "price_fields", 40,
         ("active", "unit_amount", "nickname", "lookup_key"), deleted),
        ("coupons", "coupon", "Coupon", "sync_coupons", "coupon_fields", 50,
         ("valid", "times_redeemed", "name"), deleted),
        ("invoices", "invoice", "Invoice", "sync_invoices", "invoice_fields", 70,
         ("status", "amount_paid", "amount_remaining", "attempt_count"), deleted),
        ("payment_intents", "payment_intent", "PaymentIntent", "sync_payment_intents",
         "payment_intent_fields", 80, ("status", "amount_received", "latest_charge"), None),
        ("charges", "charge", "Charge", "sync_charges", "charge_fields", 90,
         ("status", "amount_refunded", "disputed", "captured"), None),
    ]  # fmt: skip
    found = []
    for name, obj, model, sync_name, fields_name, order, markers, gone in specs:
        sync = getattr(up, sync_name, None)
        fields = getattr(billing, fields_name, None)
        if sync is None or fields is None:
            continue
        found.append(
            Resource(
                name=name,
                object=obj,
                model=f"stripe_integrations.{model}",
                sync=sync,
                fields=fields,
                list_path=f"/v1/{name}",
                retrieve_path=f"/v1/{name}/{{id}}",
                order=order,
                markers=markers,
                gone=gone,
            )
        )
    return found


def builtin_resources() -> list[Resource]:
    """The resources this release of the library mirrors."""
    return [
        Resource(
            name="customers",
            object="customer",
            model="stripe_integrations.Customer",
            sync=up.sync_customers,
            fields=mapping.customer_fields,
            list_path="/v1/customers",
            list_params={"expand": CUSTOMER_LIST_EXPAND},
            retrieve_path="/v1/customers/{id}",
            order=10,
            markers=(
                "email",
                "name",
                "balance",
                "delinquent",
                "currency",
                "default_payment_method_id",
                "default_source_id",
                "metadata",
            ),
            gone=Q(is_active=False),
        ),
        Resource(
            name="payment_methods",
            object="payment_method",
            model="stripe_integrations.PaymentMethod",
            sync=up.sync_payment_methods,
            fields=mapping.payment_method_fields,
            list_path="/v1/customers",
            per_customer="/v1/customers/{id}/payment_methods",
            retrieve_path="/v1/payment_methods/{id}",
            order=20,
            markers=("customer_id", "card_exp_month", "card_exp_year", "metadata"),
        ),
        Resource(
            name="subscriptions",
            object="subscription",
            model="stripe_integrations.Subscription",
            sync=up.sync_subscriptions,
            fields=mapping.subscription_fields,
            list_path="/v1/subscriptions",
            list_params={"status": "all"},
            retrieve_path="/v1/subscriptions/{id}",
            order=60,
            markers=(
                "status",
                "customer_id",
                "current_period_end",
                "cancel_at_period_end",
                "canceled_at",
                "metadata",
            ),
        ),
        *_billing_resources(),
    ]
