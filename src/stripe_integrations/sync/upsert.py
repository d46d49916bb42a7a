"""Writes mirrored rows. Every path that stores Stripe objects (actions, webhook handlers,
backfill, admin) goes through the ``sync_*`` functions here.

Each call issues a constant number of SQL statements whatever the number of objects: one
``INSERT ... ON CONFLICT (stripe_id) DO UPDATE`` per model (batched by Django only past the
database's parameter limit), one ``DELETE`` for children Stripe no longer lists (subscription
items, invoice lines), and one upsert per kind of expanded object found inside (a customer's
default payment method, an item's price...), which are mirrored too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.db import models, transaction
from django.utils import timezone

from stripe_integrations.models import (
    Charge,
    Coupon,
    Customer,
    Discount,
    Event,
    Invoice,
    InvoiceItem,
    InvoiceLineItem,
    PaymentIntent,
    PaymentMethod,
    Price,
    Product,
    PromotionCode,
    Refund,
    SetupIntent,
    Subscription,
    SubscriptionItem,
)
from stripe_integrations.sync import bulk, mapping
from stripe_integrations.sync import mapping_billing as billing

M = TypeVar("M", bound=models.Model)
Objects = Iterable[Any]

_SCALARS = frozenset({str, int, float, bool, type(None)})

#: Child objects written by their parent's function (not collected as nested objects).
CHILDREN = {"subscription": "subscription_item", "invoice": "line_item"}


def upsert_rows(
    model: type[M],
    rows: Sequence[Mapping[str, Any]],
    *,
    update_fields: Iterable[str] = (),
    returning: bool = True,
) -> list[M]:
    """Insert or update ``rows`` (attribute dicts keyed by ``stripe_id``) in one statement.

    Only the attributes present in the rows are written on conflict, so local columns (the
    subscriber link, ``is_active``...) survive a sync. Duplicate ids keep the last row.

    With ``returning=False`` nothing is returned, and on PostgreSQL the rows are written by
    :func:`~stripe_integrations.sync.bulk.upsert_json`, several times faster than building
    model instances.
    """
    if not rows:
        return []
    if not returning and bulk.usable(model):
        bulk.upsert_json(model, rows, update_fields=update_fields)
        return []
    unique: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        unique[row["stripe_id"]] = row
    keys = set().union(*(r.keys() for r in unique.values()))
    fields = sorted((keys | set(update_fields)) - {"stripe_id"})
    instances = [model(**row) for row in unique.values()]
    created = model._default_manager.bulk_create(
        instances,
        update_conflicts=True,
        unique_fields=["stripe_id"],
        update_fields=fields,
    )
    return created if returning else []


def _dicts(objects: Objects) -> list[dict[str, Any]]:
    return [d for d in (mapping.as_dict(o) for o in objects) if d.get("id")]


def _split_deleted(objects: Objects) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    live: list[dict[str, Any]] = []
    deleted: list[dict[str, Any]] = []
    for data in _dicts(objects):
        (deleted if mapping.is_deleted(data) else live).append(data)
    return live, deleted


def nested_objects(parents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Mirrorable objects expanded or embedded anywhere inside ``parents`` (not the parents
    themselves, nor the children their own function writes)."""
    found: list[dict[str, Any]] = []
    append = found.append

    def walk_list(items: list[Any], child_kind: str | None) -> None:
        for item in items:
            kind = type(item)
            if kind in _SCALARS:
                continue
            if kind is list:
                walk_list(item, child_kind)
            elif kind is dict or isinstance(item, Mapping):
                walk_mapping(item, child_kind)

    def walk_mapping(value: Mapping[str, Any], child_kind: str | None) -> None:
        kind = value.get("object")
        if kind in SYNCERS and kind != child_kind and value.get("id"):
            append(dict(value))
            return
        walk_children(value, CHILDREN.get(kind) if isinstance(kind, str) else None, child_kind)

    def walk_children(value: Mapping[str, Any], inner: str | None, child: str | None) -> None:
        child_kind = inner or child
        for item in value.values():
            kind = type(item)
            if kind in _SCALARS:
                continue
            if kind is list:
                walk_list(item, child_kind)
            elif kind is dict or isinstance(item, Mapping):
                walk_mapping(item, child_kind)

    for parent in parents:
        kind = parent.get("object")
        walk_children(parent, CHILDREN.get(kind) if isinstance(kind, str) else None, None)
    return found


def sync_nested(parents: Iterable[Mapping[str, Any]]) -> None:
    """Mirror the objects expanded inside ``parents``."""
    nested = nested_objects(parents)
    if nested:
        sync_objects(nested, returning=False)


def _mark_deleted(model: type[M], stubs: Sequence[Mapping[str, Any]], flag: str) -> list[M]:
    """Record objects Stripe reports deleted, keeping their last known fields."""
    if not stubs:
        return []
    now = timezone.now()
    extra: dict[str, Any] = {"is_active": False, "date_purged": now} if flag == "is_active" else {}
    if flag == "is_deleted":
        extra = {"is_deleted": True}
    rows = [
        {
            "stripe_id": stub["id"],
            "livemode": bool(stub.get("livemode") or False),
            "raw": dict(stub),
            "synced_at": now,
            **extra,
        }
        for stub in stubs
    ]
    return model._default_manager.bulk_create(
        [model(**row) for row in rows],
        update_conflicts=True,
        unique_fields=["stripe_id"],
        update_fields=[*extra, "synced_at"],
    )


def sync_customers(
    objects: Objects, *, local: Mapping[str, Any] | None = None, returning: bool = True
) -> list[Customer]:
    """Mirror customer objects (and what is expanded inside them).

    ``local`` adds local columns to every row (``subscriber_id``, ``is_active``...). A deleted
    stub marks the row inactive and purged, keeping its last known fields.
    """
    live, deleted = _split_deleted(objects)
    rows = [{**mapping.customer_fields(obj), **(local or {})} for obj in live]
    with transaction.atomic(savepoint=False):
        result = upsert_rows(Customer, rows, returning=returning)
        result += mark_customers_deleted(deleted)
        sync_nested(live)
    return result


def mark_customers_deleted(stubs: Sequence[Mapping[str, Any]]) -> list[Customer]:
    """Record customers Stripe reports as deleted: inactive, purged, other fields kept."""
    return _mark_deleted(Customer, stubs, "is_active")


def sync_payment_methods(objects: Objects, *, returning: bool = True) -> list[PaymentMethod]:
    """Mirror payment methods and legacy card sources."""
    rows = [mapping.payment_method_fields(d) for d in _dicts(objects)]
    return upsert_rows(PaymentMethod, rows, returning=returning)


def sync_subscriptions(objects: Objects, *, returning: bool = True) -> list[Subscription]:
    """Mirror subscriptions with their items; items Stripe no longer lists are removed."""
    subs = _dicts(objects)
    if not subs:
        return []
    item_rows = [
        mapping.subscription_item_fields(item, sub["id"])
        for sub in subs
        for item in mapping.subscription_items(sub)
    ]
    with transaction.atomic(savepoint=False):
        result = upsert_rows(
            Subscription, [mapping.subscription_fields(s) for s in subs], returning=returning
        )
        upsert_rows(SubscriptionItem, item_rows, returning=False)
        SubscriptionItem.objects.filter(subscription_id__in=[s["id"] for s in subs]).exclude(
            stripe_id__in=[r["stripe_id"] for r in item_rows]
        ).delete()
        sync_nested(subs)
    return result


def sync_invoices(objects: Objects, *, returning: bool = True) -> list[Invoice]:
    """Mirror invoices with their lines (lines no longer listed are removed when the
    embedded list is complete)."""
    live, deleted = _split_deleted(objects)
    line_rows: list[dict[str, Any]] = []
    complete_ids: list[str] = []
    for invoice in live:
        lines, complete = billing.invoice_lines(invoice)
        line_rows += [billing.invoice_line_fields(line, invoice["id"]) for line in lines]
        if complete:
            complete_ids.append(invoice["id"])
    with transaction.atomic(savepoint=False):
        result = upsert_rows(
            Invoice, [billing.invoice_fields(i) for i in live], returning=returning
        )
        result += _mark_deleted(Invoice, deleted, "is_deleted")
        upsert_rows(InvoiceLineItem, line_rows, returning=False)
        if complete_ids:
            InvoiceLineItem.objects.filter(invoice_id__in=complete_ids).exclude(
                stripe_id__in=[r["stripe_id"] for r in line_rows]
            ).delete()
        sync_nested(live)
    return result


def _simple(
    model: type[M], fields: Callable[[Mapping[str, Any]], dict[str, Any]], deletable: bool
) -> Callable[[Objects], list[M]]:
    """A sync function for a resource without children."""

    def sync(objects: Objects, *, returning: bool = True) -> list[M]:
        live, deleted = _split_deleted(objects)
        with transaction.atomic(savepoint=False):
            result = upsert_rows(model, [fields(d) for d in live], returning=returning)
            if deleted and deletable:
                result += _mark_deleted(model, deleted, "is_deleted")
            elif deleted:
                model._default_manager.filter(stripe_id__in=[d["id"] for d in deleted]).delete()
            sync_nested(live)
        return result

    sync.__name__ = f"sync_{model._meta.model_name}s"
    sync.__doc__ = f"Mirror {model._meta.verbose_name_plural} (and what is expanded inside)."
    return sync


sync_products = _simple(Product, billing.product_fields, deletable=True)
sync_prices = _simple(Price, billing.price_fields, deletable=True)
sync_coupons = _simple(Coupon, billing.coupon_fields, deletable=True)
sync_promotion_codes = _simple(PromotionCode, billing.promotion_code_fields, deletable=False)
sync_discounts = _simple(Discount, billing.discount_fields, deletable=True)
sync_invoice_items = _simple(InvoiceItem, billing.invoice_item_fields, deletable=True)
sync_payment_intents = _simple(PaymentIntent, billing.payment_intent_fields, deletable=False)
sync_charges = _simple(Charge, billing.charge_fields, deletable=False)
sync_refunds = _simple(Refund, billing.refund_fields, deletable=False)
sync_setup_intents = _simple(SetupIntent, billing.setup_intent_fields, deletable=False)


def sync_events(objects: Objects, *, returning: bool = True) -> list[Event]:
    """Mirror event objects (their ``data.object`` is not applied: handlers re-fetch)."""
    rows = [mapping.event_fields(d) for d in _dicts(objects)]
    return upsert_rows(Event, rows, returning=returning)


#: Stripe ``object`` value -> the function that mirrors it.
SYNCERS: dict[str, Callable[..., list[Any]]] = {
    "customer": sync_customers,
    "payment_method": sync_payment_methods,
    "card": sync_payment_methods,
    "source": sync_payment_methods,
    "subscription": sync_subscriptions,
    "product": sync_products,
    "price": sync_prices,
    "plan": sync_prices,
    "coupon": sync_coupons,
    "promotion_code": sync_promotion_codes,
    "discount": sync_discounts,
    "invoice": sync_invoices,
    "invoiceitem": sync_invoice_items,
    "payment_intent": sync_payment_intents,
    "charge": sync_charges,
    "refund": sync_refunds,
    "setup_intent": sync_setup_intents,
}


def sync_objects(objects: Objects, *, returning: bool = True) -> list[models.Model]:
    """Mirror Stripe objects of any supported type, grouped by ``object``. Returns the rows
    of the given objects (not of the nested ones), in the order of the types."""
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
            result.extend(SYNCERS[kind](group, returning=returning))
    return result
