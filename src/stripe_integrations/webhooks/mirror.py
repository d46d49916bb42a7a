"""What the library itself does with an event: the object it names, fetched once and mirrored.

Each event type the library knows names one Stripe object (:func:`target_of`). The processor
fetches each distinct object of a batch once (:func:`fetch`, no database access, safe in
worker threads), then mirrors it once (:func:`apply`) before the events that name it run
their handlers. The event's own copy of the object is used only where Stripe can no longer
return it: a deleted customer, product, price... (:func:`apply_payload`).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from stripe_integrations.client import get_client
from stripe_integrations.exceptions import StripeAPIError, stripe_errors
from stripe_integrations.models import Customer, Event, PaymentMethod
from stripe_integrations.sync import mapping
from stripe_integrations.sync.fetch import CUSTOMER_EXPAND, RETRIEVABLE, is_missing
from stripe_integrations.sync.upsert import (
    mark_customers_deleted,
    sync_customers,
    sync_objects,
    sync_payment_methods,
    sync_subscriptions,
)

#: Event types whose object is a billing object, mirrored by its ``object`` kind.
BILLING_PATTERNS = (
    "product.*",
    "price.*",
    "plan.*",
    "coupon.*",
    "promotion_code.*",
    "invoice.*",
    "invoiceitem.*",
    "payment_intent.*",
    "charge.*",
    "refund.*",
    "setup_intent.*",
)


@dataclass(frozen=True)
class Target:
    """One Stripe object to fetch: ``kind`` is ``customer``, ``payment_method``, ``source``
    (a card source of customer ``parent``), ``subscription`` or a kind of
    :data:`~stripe_integrations.sync.fetch.RETRIEVABLE`."""

    kind: str
    stripe_id: str
    parent: str | None = None


#: The object of a :class:`Fetched` that Stripe does not have (any more).
MISSING: Any = None


@dataclass(frozen=True)
class Fetched:
    """What :func:`fetch` got: the object as a plain dict (or :data:`MISSING`) and the time
    taken just before the request, which the write path's freshness rule compares."""

    obj: Any
    at: datetime


def _matches(event_type: str, *patterns: str) -> bool:
    return any(fnmatch.fnmatchcase(event_type, p) for p in patterns)


def target_of(event: Event) -> Target | None:
    """The object the library fetches for ``event``, or None (nothing to fetch: a deletion
    mirrored from the payload, or a type the library does not mirror)."""
    obj = event.data_object
    event_type = event.type
    object_id = mapping.ref_id(obj.get("id"))
    if event_type == "customer.deleted":
        return None
    if _matches(event_type, "customer.created", "customer.updated", "customer.discount.*"):
        customer_id = mapping.customer_id_of(obj)
        return Target("customer", customer_id) if customer_id else None
    if not object_id:
        return None
    if _matches(event_type, "customer.source.*"):
        return Target("source", object_id, mapping.ref_id(obj.get("customer")))
    if _matches(event_type, "payment_method.*"):
        return Target("payment_method", object_id)
    if _matches(event_type, "customer.subscription.*"):
        return Target("subscription", object_id)
    if _matches(event_type, *BILLING_PATTERNS) and not event_type.endswith(".deleted"):
        kind = obj.get("object")
        if isinstance(kind, str) and kind in RETRIEVABLE:
            return Target(kind, object_id)
    return None


def fetch(target: Target) -> Fetched:
    """The current Stripe object of ``target`` (:data:`MISSING` when Stripe does not have
    it) with its fetch time. Raises :class:`~stripe_integrations.exceptions.StripeAPIError`
    for other errors. No database access: safe in any thread."""
    client = get_client()
    at = timezone.now()
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
        if is_missing(exc):
            return Fetched(MISSING, at)
        raise
    return Fetched(mapping.as_dict(obj), at)


def apply(target: Target, fetched: Fetched) -> None:
    """Mirror what :func:`fetch` got for ``target`` (:data:`MISSING`: remove what must go),
    stamped with its fetch time: a row written from a later fetch is left as it is."""
    obj, at = fetched.obj, fetched.at
    if target.kind == "customer":
        if obj is not MISSING:
            sync_customers([obj], fetched_at=at)
    elif target.kind in ("payment_method", "source"):
        if obj is MISSING or obj.get("deleted") is True:
            PaymentMethod.objects.filter(stripe_id=target.stripe_id).delete()
        else:
            sync_payment_methods([obj], fetched_at=at)
    elif target.kind == "subscription":
        if obj is not MISSING:
            sync_subscriptions([obj], fetched_at=at)
    elif obj is not MISSING:
        sync_objects([obj], fetched_at=at)


def apply_payload(event: Event) -> None:
    """Mirror what only the event's payload can tell: deletions Stripe no longer returns."""
    obj = event.data_object
    event_type = event.type
    if event_type == "customer.deleted":
        if mapping.customer_id_of(obj):
            sync_customers([obj])
            mark_customers_deleted([obj])
    elif event_type == "customer.discount.deleted":
        if obj.get("id"):
            sync_objects([{**obj, "deleted": True}])
    elif _matches(event_type, *BILLING_PATTERNS) and event_type.endswith(".deleted"):
        kind = obj.get("object")
        if isinstance(kind, str) and kind in RETRIEVABLE and mapping.ref_id(obj.get("id")):
            sync_objects([{**obj, "deleted": True}])


def customer_of(event: Event) -> str | None:
    """The customer ``event`` concerns: its object's (or the object itself), else the one its
    ``previous_attributes`` name (a detached payment method no longer names its customer)."""
    obj = event.data_object
    customer_id = mapping.customer_id_of(obj)
    if customer_id:
        return customer_id
    data = (event.raw or {}).get("data")
    previous = data.get("previous_attributes") if isinstance(data, dict) else None
    if isinstance(previous, dict):
        return mapping.ref_id(previous.get("customer"))
    return None


def customers_to_fetch(events: list[Event], targets: set[Target]) -> set[Target]:
    """The customers ``events`` concern that are neither mirrored nor fetched already as
    targets: linking mirrors them first (one query)."""
    wanted = {
        customer_id
        for event in events
        if event.type != "customer.deleted" and (customer_id := customer_of(event))
    }
    wanted -= {t.stripe_id for t in targets if t.kind == "customer"}
    if not wanted:
        return set()
    known = set(
        Customer.objects.filter(stripe_id__in=sorted(wanted)).values_list("stripe_id", flat=True)
    )
    return {Target("customer", customer_id) for customer_id in wanted - known}


def link(event: Event) -> None:
    """Set ``event.customer`` to the customer it concerns (mirrored first by the processor)."""
    customer_id = customer_of(event)
    if customer_id:
        Event.objects.filter(pk=event.pk).update(customer_id=customer_id)
        event.customer_id = customer_id
