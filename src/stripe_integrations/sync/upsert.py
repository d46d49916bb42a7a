"""Writes mirrored rows. Every path that stores Stripe objects (actions, webhook handlers,
backfill, admin) goes through the ``sync_*`` functions here.

Each call issues a constant number of SQL statements whatever the number of objects: one
``INSERT ... ON CONFLICT (stripe_id) DO UPDATE`` per model (batched by Django only past the
database's parameter limit), plus one ``DELETE`` for subscription items Stripe no longer lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.db import models, transaction
from django.utils import timezone

from stripe_integrations.models import (
    Customer,
    Event,
    PaymentMethod,
    Subscription,
    SubscriptionItem,
)
from stripe_integrations.sync import mapping

M = TypeVar("M", bound=models.Model)


def upsert_rows(
    model: type[M], rows: Sequence[Mapping[str, Any]], *, update_fields: Iterable[str] = ()
) -> list[M]:
    """Insert or update ``rows`` (attribute dicts keyed by ``stripe_id``) in one statement.

    Only the attributes present in the rows are written on conflict, so local columns (the
    subscriber link, ``is_active``...) survive a sync. Duplicate ids keep the last row.
    """
    if not rows:
        return []
    unique: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        unique[row["stripe_id"]] = row
    keys = set().union(*(r.keys() for r in unique.values()))
    fields = sorted((keys | set(update_fields)) - {"stripe_id"})
    instances = [model(**row) for row in unique.values()]
    return model._default_manager.bulk_create(
        instances,
        update_conflicts=True,
        unique_fields=["stripe_id"],
        update_fields=fields,
    )


def _split_deleted(
    objects: Iterable[Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    live: list[dict[str, Any]] = []
    deleted: list[dict[str, Any]] = []
    for obj in objects:
        data = mapping.as_dict(obj)
        if not data.get("id"):
            continue
        (deleted if mapping.is_deleted(data) else live).append(data)
    return live, deleted


def sync_customers(
    objects: Iterable[Any], *, local: Mapping[str, Any] | None = None
) -> list[Customer]:
    """Mirror customer objects (and payment methods expanded inside them).

    ``local`` adds local columns to every row (``subscriber_id``, ``is_active``...). A deleted
    stub marks the row inactive and purged, keeping its last known fields.
    """
    live, deleted = _split_deleted(objects)
    nested = [pm for obj in live for pm in mapping.customer_nested_payment_methods(obj)]
    embedded_subs = [s for obj in live for s in mapping.customer_nested_subscriptions(obj)]
    rows = [{**mapping.customer_fields(obj), **(local or {})} for obj in live]
    with transaction.atomic(savepoint=False):
        result = upsert_rows(Customer, rows)
        if deleted:
            result += mark_customers_deleted(deleted)
        if nested:
            sync_payment_methods(nested)
        if embedded_subs:
            sync_subscriptions(embedded_subs)
    return result


def mark_customers_deleted(stubs: Sequence[Mapping[str, Any]]) -> list[Customer]:
    """Record customers Stripe reports as deleted: inactive, purged, other fields kept."""
    now = timezone.now()
    rows = [
        {
            "stripe_id": stub["id"],
            "livemode": bool(stub.get("livemode") or False),
            "raw": dict(stub),
            "is_active": False,
            "date_purged": now,
            "synced_at": now,
        }
        for stub in stubs
    ]
    instances = [Customer(**row) for row in rows]
    return Customer.objects.bulk_create(
        instances,
        update_conflicts=True,
        unique_fields=["stripe_id"],
        update_fields=["is_active", "date_purged", "synced_at"],
    )


def sync_payment_methods(objects: Iterable[Any]) -> list[PaymentMethod]:
    """Mirror payment methods and legacy card sources."""
    rows = [mapping.payment_method_fields(mapping.as_dict(o)) for o in objects]
    return upsert_rows(PaymentMethod, [r for r in rows if r["stripe_id"]])


def sync_subscriptions(objects: Iterable[Any]) -> list[Subscription]:
    """Mirror subscriptions with their items; items Stripe no longer lists are removed."""
    subs = [d for d in (mapping.as_dict(o) for o in objects) if d.get("id")]
    if not subs:
        return []
    item_rows = [
        mapping.subscription_item_fields(item, sub["id"])
        for sub in subs
        for item in mapping.subscription_items(sub)
    ]
    with transaction.atomic(savepoint=False):
        result = upsert_rows(Subscription, [mapping.subscription_fields(s) for s in subs])
        upsert_rows(SubscriptionItem, item_rows)
        SubscriptionItem.objects.filter(subscription_id__in=[s["id"] for s in subs]).exclude(
            stripe_id__in=[r["stripe_id"] for r in item_rows]
        ).delete()
    return result


def sync_events(objects: Iterable[Any]) -> list[Event]:
    """Mirror event objects."""
    rows = [mapping.event_fields(mapping.as_dict(o)) for o in objects]
    return upsert_rows(Event, rows)


SYNCERS: dict[str, Any] = {
    "customer": sync_customers,
    "payment_method": sync_payment_methods,
    "card": sync_payment_methods,
    "source": sync_payment_methods,
    "subscription": sync_subscriptions,
    "event": sync_events,
}


def sync_objects(objects: Iterable[Any]) -> list[models.Model]:
    """Mirror Stripe objects of any supported type, grouped by ``object``."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        data = mapping.as_dict(obj)
        kind = str(data.get("object") or "")
        if kind not in SYNCERS:
            raise ValueError(f"cannot mirror Stripe objects of type {kind!r}")
        groups.setdefault(kind, []).append(data)
    result: list[models.Model] = []
    with transaction.atomic(savepoint=False):
        for kind, group in groups.items():
            result.extend(SYNCERS[kind](group))
    return result
