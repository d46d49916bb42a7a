"""What the library itself does with an event: the object it names, fetched once and mirrored.

Each event type the library knows names one Stripe object (:func:`target_of`). The processor
fetches each distinct object of a batch once
(:func:`~stripe_integrations.sync.fetch.fetch`, no database access, safe in worker threads),
then mirrors it once (:func:`~stripe_integrations.sync.fetch.apply`) before the events that
name it run their handlers. The event's own copy of the object is used only where Stripe can
no longer return it: a deleted customer, product, price... (:func:`apply_payload`).
"""

from __future__ import annotations

import fnmatch

from stripe_integrations.models import Customer, Event
from stripe_integrations.sync import mapping
from stripe_integrations.sync.fetch import RETRIEVABLE, Fetched, Target, apply, fetch
from stripe_integrations.sync.upsert import mark_customers_deleted, sync_customers, sync_objects

__all__ = [
    "BILLING_PATTERNS",
    "Fetched",
    "Target",
    "apply",
    "apply_payload",
    "customer_of",
    "customers_to_fetch",
    "fetch",
    "link",
    "target_of",
]

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
