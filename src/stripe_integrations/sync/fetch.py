"""Fetch one object from Stripe at the pinned API version and mirror it.

Used wherever the current state of an object is needed (webhook handlers, admin "sync",
``StripeCustomer.retrieve``): an event's payload is never trusted for state. The time is
taken just before the request and written with the row (``synced_at``): the write path's
freshness rule (:mod:`.fresh`) then keeps whichever fetch of an object is the latest, in
the upsert statement itself, whatever order concurrent refreshes, actions and the backfill
write in. No row is locked while Stripe answers.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from stripe_integrations.client import get_client
from stripe_integrations.exceptions import StripeAPIError, stripe_errors
from stripe_integrations.models import Customer, PaymentMethod, Subscription
from stripe_integrations.sync.upsert import (
    sync_customers,
    sync_payment_methods,
    sync_subscriptions,
)

#: Expansions asked for when a customer is fetched, so its default payment method or source
#: arrives in the same request.
CUSTOMER_EXPAND = ["invoice_settings.default_payment_method", "default_source"]


def is_missing(exc: StripeAPIError) -> bool:
    """True when Stripe says the object does not exist (``resource_missing`` or a 404)."""
    return exc.code == "resource_missing" or exc.http_status == 404


def refresh_customer(stripe_id: str, *, missing_ok: bool = False) -> Customer | None:
    """Fetch customer ``stripe_id`` (default payment method expanded) and mirror it.

    A deleted customer is mirrored inactive. With ``missing_ok``, an id Stripe does not know
    returns None instead of raising. Returns the stored row when a later fetch of the
    customer was written first.
    """
    fetched_at = timezone.now()
    try:
        with stripe_errors():
            obj = get_client().v1.customers.retrieve(stripe_id, params={"expand": CUSTOMER_EXPAND})
    except StripeAPIError as exc:
        if missing_ok and is_missing(exc):
            return None
        raise
    return sync_customers([obj], fetched_at=fetched_at)[0]


def refresh_payment_method(stripe_id: str, customer_id: str | None = None) -> Any:
    """Fetch a payment method (or, with ``customer_id``, a customer's card source) and
    mirror it; an object Stripe no longer has is removed from the mirror."""
    client = get_client()
    fetched_at = timezone.now()
    try:
        with stripe_errors():
            if stripe_id.startswith("pm_") or customer_id is None:
                obj: Any = client.v1.payment_methods.retrieve(stripe_id)
            else:
                obj = client.v1.customers.payment_sources.retrieve(customer_id, stripe_id)
    except StripeAPIError as exc:
        if not is_missing(exc):
            raise
        PaymentMethod.objects.filter(stripe_id=stripe_id).delete()
        return None
    if getattr(obj, "deleted", None) is True:
        PaymentMethod.objects.filter(stripe_id=stripe_id).delete()
        return None
    return sync_payment_methods([obj], fetched_at=fetched_at)[0]


def refresh_subscription(stripe_id: str) -> Subscription | None:
    """Fetch a subscription with its items and mirror it (None if Stripe does not know it)."""
    fetched_at = timezone.now()
    try:
        with stripe_errors():
            obj = get_client().v1.subscriptions.retrieve(stripe_id)
    except StripeAPIError as exc:
        if not is_missing(exc):
            raise
        return None
    return sync_subscriptions([obj], fetched_at=fetched_at)[0]


#: Stripe ``object`` -> (model, the v1 service that retrieves it).
RETRIEVABLE: dict[str, tuple[str, str]] = {
    "product": ("Product", "products"),
    "price": ("Price", "prices"),
    "plan": ("Price", "plans"),
    "coupon": ("Coupon", "coupons"),
    "promotion_code": ("PromotionCode", "promotion_codes"),
    "invoice": ("Invoice", "invoices"),
    "invoiceitem": ("InvoiceItem", "invoice_items"),
    "payment_intent": ("PaymentIntent", "payment_intents"),
    "charge": ("Charge", "charges"),
    "refund": ("Refund", "refunds"),
    "setup_intent": ("SetupIntent", "setup_intents"),
}


def refresh_object(kind: str, stripe_id: str) -> models.Model | None:
    """Fetch one billing object by its Stripe ``object`` kind and mirror it (None if Stripe
    no longer has it)."""
    from stripe_integrations.sync.upsert import sync_objects

    service_name = RETRIEVABLE[kind][1]
    service = getattr(get_client().v1, service_name)
    fetched_at = timezone.now()
    try:
        with stripe_errors():
            obj = service.retrieve(stripe_id)
    except StripeAPIError as exc:
        if not is_missing(exc):
            raise
        return None
    rows = sync_objects([obj], fetched_at=fetched_at)
    return rows[0] if rows else None
