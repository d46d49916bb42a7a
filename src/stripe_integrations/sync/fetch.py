"""Fetch one object from Stripe at the pinned API version and mirror it.

Used wherever the current state of an object is needed (webhook handlers, admin "sync",
``StripeCustomer.retrieve``): an event's payload is never trusted for state. The time is
taken when the request is sent and written with the row (``synced_at``): the write path's
freshness rule (:mod:`.fresh`) then keeps whichever fetch of an object is the latest, in
the upsert statement itself, whatever order concurrent refreshes, actions and the backfill
write in. No row is locked while Stripe answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import models
from django.utils import timezone

from stripe_integrations.client import get_client
from stripe_integrations.exceptions import StripeAPIError, stripe_errors
from stripe_integrations.models import Customer, PaymentMethod, Subscription
from stripe_integrations.ratelimit.context import sent_at
from stripe_integrations.sync import mapping
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


@dataclass(frozen=True)
class Target:
    """One Stripe object to fetch: ``kind`` is ``customer``, ``payment_method``, ``source``
    (a card source of customer ``parent``), ``subscription`` or a kind of
    :data:`RETRIEVABLE`."""

    kind: str
    stripe_id: str
    parent: str | None = None


#: The object of a :class:`Fetched` that Stripe does not have (any more).
MISSING: Any = None


@dataclass(frozen=True)
class Fetched:
    """What :func:`fetch` got: the object as a plain dict (or :data:`MISSING`) and when its
    request was sent, which the write path's freshness rule compares."""

    obj: Any
    at: datetime


def fetch(target: Target, *, missing_ok: bool = True) -> Fetched:
    """The current Stripe object of ``target`` (:data:`MISSING` when Stripe does not have
    it, unless ``missing_ok`` is False: then Stripe's error is raised). Raises
    :class:`~stripe_integrations.exceptions.StripeAPIError` for other errors. No database
    access: safe in any thread.

    The time is taken when the request is sent, after the rate limiter let it through (it
    may have waited, or paused for a 429): the object is as of then."""
    client = get_client()
    asked = timezone.now()
    try:
        with stripe_errors():
            if target.kind == "customer":
                obj: Any = client.v1.customers.retrieve(
                    target.stripe_id, params={"expand": CUSTOMER_EXPAND}
                )
            elif (
                target.kind == "source" and target.parent and not target.stripe_id.startswith("pm_")
            ):
                obj = client.v1.customers.payment_sources.retrieve(target.parent, target.stripe_id)
            elif target.kind in ("payment_method", "source"):
                obj = client.v1.payment_methods.retrieve(target.stripe_id)
            elif target.kind == "subscription":
                obj = client.v1.subscriptions.retrieve(target.stripe_id)
            else:
                service = getattr(client.v1, RETRIEVABLE[target.kind][1])
                obj = service.retrieve(target.stripe_id)
    except StripeAPIError as exc:
        if missing_ok and is_missing(exc):
            return Fetched(MISSING, sent_at(asked))
        raise
    return Fetched(mapping.as_dict(obj), sent_at(asked))


def apply(target: Target, fetched: Fetched) -> models.Model | None:
    """Mirror what :func:`fetch` got for ``target``, stamped with its fetch time (a row
    written from a later fetch is left as it is); returns the row, or None. A payment
    method or source Stripe no longer has is removed from the mirror."""
    from stripe_integrations.sync.upsert import sync_objects

    obj, at = fetched.obj, fetched.at
    if target.kind in ("payment_method", "source"):
        if obj is MISSING or obj.get("deleted") is True:
            PaymentMethod.objects.filter(stripe_id=target.stripe_id).delete()
            return None
        return sync_payment_methods([obj], fetched_at=at)[0]
    if obj is MISSING:
        return None
    if target.kind == "customer":
        return sync_customers([obj], fetched_at=at)[0]
    if target.kind == "subscription":
        return sync_subscriptions([obj], fetched_at=at)[0]
    rows = sync_objects([obj], fetched_at=at)
    return rows[0] if rows else None


def refresh_customer(stripe_id: str, *, missing_ok: bool = False) -> Customer | None:
    """Fetch customer ``stripe_id`` (default payment method expanded) and mirror it.

    A deleted customer is mirrored inactive. With ``missing_ok``, an id Stripe does not know
    returns None instead of raising. Returns the stored row when a later fetch of the
    customer was written first.
    """
    target = Target("customer", stripe_id)
    return cast(Customer | None, apply(target, fetch(target, missing_ok=missing_ok)))


def refresh_payment_method(stripe_id: str, customer_id: str | None = None) -> Any:
    """Fetch a payment method (or, with ``customer_id``, a customer's card source) and
    mirror it; an object Stripe no longer has is removed from the mirror."""
    target = Target("source" if customer_id else "payment_method", stripe_id, customer_id)
    return apply(target, fetch(target))


def refresh_subscription(stripe_id: str) -> Subscription | None:
    """Fetch a subscription with its items and mirror it (None if Stripe does not know it)."""
    target = Target("subscription", stripe_id)
    return cast(Subscription | None, apply(target, fetch(target)))


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
    target = Target(kind, stripe_id)
    return apply(target, fetch(target))
