"""``StripePaymentIntent`` (one-off charges), ``StripeRefund``, ``StripePaymentMethod``."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from stripe_integrations import validation as v
from stripe_integrations.actions.base import (
    call,
    call_and_mirror,
    checked_metadata,
    mirror,
    op_key,
    service,
    stripe_id_of,
)
from stripe_integrations.exceptions import StripeValidationError
from stripe_integrations.models import Charge, Customer, PaymentIntent, PaymentMethod, Refund
from stripe_integrations.money import check_currency, to_minor_units
from stripe_integrations.sync.fetch import refresh_customer, refresh_object


class StripePaymentIntent:
    """Payments through PaymentIntents (never the legacy Charges API)."""

    @classmethod
    def charge(
        cls,
        customer: Customer,
        amount: Any,
        currency: str,
        *,
        payment_method: Any = None,
        off_session: bool = True,
        idempotency_key: str | None = None,
        **params: Any,
    ) -> PaymentIntent:
        """Charge ``customer`` now: ``amount`` in minor units (an ``int``) or major units (a
        ``Decimal``, converted for zero- and three-decimal currencies), with
        ``payment_method`` or the customer's default. Returns the mirrored PaymentIntent
        (its charge mirrored too). Identical parameters within 24 hours are one payment:
        pass your order id in ``metadata`` (or an ``idempotency_key``) to charge twice."""
        currency = check_currency(currency)
        minor = to_minor_units(amount, currency)
        pm = (
            stripe_id_of(payment_method, "payment_method")
            if payment_method is not None
            else customer.default_payment_method_id or customer.default_source_id
        )
        if not pm:
            raise StripeValidationError(
                "payment_method", "the customer has no default payment method; pass one"
            )
        params = checked_metadata(params)
        params.update(
            amount=minor,
            currency=currency,
            customer=customer.stripe_id,
            payment_method=pm,
            confirm=True,
            expand=["latest_charge"],
        )
        if off_session:
            params["off_session"] = True
        else:
            params.setdefault(
                "automatic_payment_methods", {"enabled": True, "allow_redirects": "never"}
            )
        key = idempotency_key or op_key("payment_intent.charge", customer.stripe_id, params)
        fetched_at = timezone.now()
        obj = call(service("payment_intents").create, key=key, **params)
        row = mirror(obj, fetched_at)
        # Not stored: the browser needs it to confirm a payment that requires action.
        row.client_secret = getattr(obj, "client_secret", None)
        return row

    @classmethod
    def retrieve(cls, stripe_id: str) -> PaymentIntent | None:
        """Fetch the PaymentIntent and mirror it."""
        row = refresh_object("payment_intent", stripe_id_of(stripe_id, "stripe_id", ("pi_",)))
        return row if isinstance(row, PaymentIntent) else None

    @classmethod
    def cancel(cls, payment_intent: PaymentIntent) -> PaymentIntent:
        """Cancel a PaymentIntent that has not succeeded."""
        return call_and_mirror(service("payment_intents").cancel, payment_intent.stripe_id)


class StripeRefund:
    """Refunds of a payment."""

    @classmethod
    def create(
        cls, payment: PaymentIntent | Charge | str, amount: Any = None, **params: Any
    ) -> Refund:
        """Refund all of a payment (a PaymentIntent or Charge, mirrored row or id), or
        ``amount``: an int in minor units, or a Decimal in major units when the payment's
        currency is known (a mirrored row)."""
        params = checked_metadata(params)
        payment_id = stripe_id_of(payment, "payment", ("pi_", "ch_", "py_"))
        is_intent = payment_id.startswith("pi_")
        params["payment_intent" if is_intent else "charge"] = payment_id
        if amount is not None:
            model: type[PaymentIntent | Charge] = PaymentIntent if is_intent else Charge
            currency = getattr(payment, "currency", None) or (
                model.objects.filter(stripe_id=payment_id)
                .values_list("currency", flat=True)
                .first()
            )
            if currency:
                params["amount"] = to_minor_units(amount, check_currency(currency))
            elif isinstance(amount, int) and not isinstance(amount, bool) and amount > 0:
                params["amount"] = amount
            else:
                raise StripeValidationError(
                    "amount", "give an int in minor units: the payment's currency is unknown"
                )
        if "payment_intent" in params:
            refunded = Refund.objects.filter(payment_intent=params["payment_intent"]).count()
        else:
            refunded = Refund.objects.filter(charge_id=params["charge"]).count()
        key = op_key("refund.create", payment_id, params, refunded)
        return call_and_mirror(service("refunds").create, key=key, **params)


class StripePaymentMethod:
    """A customer's payment methods."""

    @classmethod
    def attach(
        cls, customer: Customer, payment_method: Any, set_default: bool = True
    ) -> PaymentMethod:
        """Attach ``payment_method`` to ``customer`` (and make it the default)."""
        pm_id = stripe_id_of(payment_method, "payment_method", ("pm_",))
        pm = call_and_mirror(
            service("payment_methods").attach,
            pm_id,
            key=op_key("payment_method.attach", pm_id, {"customer": customer.stripe_id}),
            customer=customer.stripe_id,
        )
        if set_default:
            cls.set_default(customer, pm)
        return pm

    @classmethod
    def set_default(cls, customer: Customer, payment_method: Any) -> Customer:
        """Make ``payment_method`` the customer's default for invoices and charges."""
        from stripe_integrations.actions.customer import StripeCustomer

        pm_id = stripe_id_of(payment_method, "payment_method", ("pm_", "card_", "src_"))
        return StripeCustomer.update(customer, default_payment_method=pm_id)

    @classmethod
    def detach(cls, payment_method: PaymentMethod) -> PaymentMethod:
        """Detach the payment method from its customer."""
        pm = call_and_mirror(service("payment_methods").detach, payment_method.stripe_id)
        if payment_method.customer_id:
            refresh_customer(payment_method.customer_id, missing_ok=True)
        return pm

    @classmethod
    def list(cls, customer: Customer, type: str = "card") -> list[PaymentMethod]:
        """The customer's payment methods of ``type``, mirrored."""
        from stripe_integrations.sync import sync_payment_methods

        v.check_string("type", type, 64)
        fetched_at = timezone.now()
        with_pages = call(
            service("customers").payment_methods.list, customer.stripe_id, type=type, limit=100
        )
        return sync_payment_methods(list(with_pages.auto_paging_iter()), fetched_at=fetched_at)
