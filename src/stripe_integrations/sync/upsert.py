"""Writes mirrored rows. Every path that stores Stripe objects (actions, webhook handlers,
backfill, admin) goes through the ``sync_*`` functions here.

Each call issues a constant number of SQL statements whatever the number of objects: one
``INSERT ... ON CONFLICT (stripe_id) DO UPDATE`` per model (batched by Django only past the
database's parameter limit), one ``DELETE`` for children Stripe no longer lists (subscription
items, invoice lines), and one upsert per kind of expanded object found inside (a customer's
default payment method, an item's price...), which are mirrored too.

Every row carries when its object was fetched from Stripe (``synced_at``, the ``fetched_at``
of the functions here), and every upsert leaves alone a stored row fetched later, in the same
statement: the freshness rule of :mod:`.fresh`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import orjson
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
from stripe_integrations.sync import bulk, columns, fresh, mapping
from stripe_integrations.sync import mapping_billing as billing

log = logging.getLogger("stripe_integrations.sync")

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
    only: bool = False,
    returning: bool = True,
    local: Iterable[str] = (),
    skipped: set[str] | None = None,
) -> list[M]:
    """Insert or update ``rows`` (attribute dicts keyed by ``stripe_id``) in one statement.

    Only the attributes present in the rows (and ``update_fields``) are written on conflict,
    so local columns (the subscriber link, ``is_active``...) survive a sync; with
    ``only=True``, only ``update_fields`` are. Duplicate ids keep the last row.

    The freshness rule (:mod:`.fresh`): each row's ``synced_at`` is when its object was
    fetched from Stripe (now for a row that carries none), always written with the row, and
    a stored row fetched later is left as it is, by the same statement. The rows returned
    are those written and, for the rows left alone, the stored rows. ``local`` names
    columns the caller sets (not Stripe) that are written even then. The ids of the rows
    left alone are added to ``skipped`` when it is given.

    With ``returning=False`` nothing is returned, and on PostgreSQL the rows are written by
    :func:`~stripe_integrations.sync.bulk.upsert_json`, several times faster than building
    model instances. Either way JSON columns get the same values (NaN and Infinity, which no
    database's JSON holds, are ``null``). The values are written as given: the checks of
    :mod:`~stripe_integrations.sync.columns` belong to the mapping.
    """
    if not rows:
        return []
    timed = fresh.has_fetch_time(model)
    if timed:
        rows = fresh.stamp(rows, timezone.now())
        update_fields = [*update_fields, fresh.FETCHED]
    local = tuple(local)
    if not returning and not local and bulk.usable(model):
        bulk.upsert_json(model, rows, update_fields=update_fields, only=only, skipped=skipped)
        return []
    unique: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        unique[row["stripe_id"]] = row
    keys = set() if only else set().union(*(r.keys() for r in unique.values()))
    fields = sorted((keys | set(update_fields)) - {"stripe_id"})
    instances = [model(**_as_bulk_json(model, row)) for row in unique.values()]
    if bulk.vendor(model) not in fresh.VENDORS:  # pragma: no cover - no ON CONFLICT ... WHERE
        created = model._default_manager.bulk_create(
            instances, update_conflicts=True, unique_fields=["stripe_id"], update_fields=fields
        )
        return created if returning else []
    return fresh.upsert_instances(
        model, instances, fields, local=local, skipped=skipped, returning=returning
    )


def _as_bulk_json(model: type[models.Model], row: Mapping[str, Any]) -> Mapping[str, Any]:
    """``row`` with its JSON values as the bulk writer stores them: JSON has no NaN or
    Infinity (PostgreSQL refuses them, and so does SQLite's ``JSON_VALID`` check), orjson
    writes ``null`` for them. Both writers store the same on both databases."""
    json_fields = bulk.json_columns(model)
    copy: dict[str, Any] | None = None
    for name, value in row.items():
        if name in json_fields and type(value) in (dict, list):
            try:
                same = orjson.loads(orjson.dumps(value))
            except TypeError:  # not for orjson (a huge int, deep nesting): Django's json
                continue
            if copy is None:
                copy = dict(row)
            copy[name] = same
    return row if copy is None else copy


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
    themselves, nor the children their own function writes).

    The walk keeps its own stack, so any depth JSON allows is walked (no recursion limit).
    An object whose id no ``stripe_id`` column can hold is left out (logged); its parent's
    ``raw`` keeps it."""
    found: list[dict[str, Any]] = []
    append = found.append
    for parent in parents:
        kind = parent.get("object")
        if _holds_no_mirrorable(parent, kind):
            continue
        inner = CHILDREN.get(kind) if type(kind) is str else None
        stack: list[tuple[Iterator[Any], str | None]] = [(iter(parent.values()), inner)]
        while stack:
            items, child_kind = stack[-1]
            for item in items:
                item_kind = type(item)
                if item_kind in _SCALARS:
                    continue
                if item_kind is list:
                    stack.append((iter(item), child_kind))
                    break
                if item_kind is dict or isinstance(item, Mapping):
                    kind = item.get("object")
                    ident = item.get("id")
                    if type(kind) is str and kind in SYNCERS and kind != child_kind and ident:
                        if columns.storable_id(ident):
                            append(dict(item))
                        else:
                            log.warning(
                                "%s %s inside %s: not mirrored, no column holds its id",
                                kind,
                                columns.shorten(ident),
                                columns.shorten(parent.get("id")),
                            )
                        continue
                    inner = CHILDREN.get(kind) if type(kind) is str else None
                    stack.append((iter(item.values()), inner or child_kind))
                    break
            else:
                stack.pop()
    # An object expanded in many parents (a price in every subscription) is written once.
    unique = {(obj.get("object"), obj["id"]): obj for obj in found}
    return list(unique.values())


def _holds_no_mirrorable(parent: Mapping[str, Any], kind: Any) -> bool:
    """True when the JSON of ``parent`` names no mirrorable ``object`` but its own: no walk
    needed (most objects, as listed, expand nothing)."""
    try:
        encoded = orjson.dumps(parent)
    except TypeError:  # not plain JSON data: walk it
        return False
    kinds = _mirrorable_re(tuple(SYNCERS)).findall(encoded)
    return not kinds or (len(kinds) == 1 and kinds[0].decode() == kind)


def sync_nested(
    parents: Iterable[Mapping[str, Any]], *, fetched_at: datetime | None = None
) -> None:
    """Mirror the objects expanded inside ``parents`` (fetched at ``fetched_at``)."""
    Plan(fetched_at).add_nested(parents).apply(returning=False)


@dataclass
class _Upsert:
    model: type[models.Model]
    only: tuple[str, ...] | None  # columns updated on conflict (None: those the rows carry)
    top: bool  # rows of the objects given (returned), not of children or nested objects
    local: tuple[str, ...] = ()  # columns written even when the stored row is newer
    parent_column: str | None = None  # children: the column naming their parent
    rows: dict[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass
class _Prune:
    model: type[models.Model]
    parent_column: str
    keep: dict[str, list[str]] = field(default_factory=dict)  # parent id -> child ids listed
    fetched: dict[str, datetime] = field(default_factory=dict)  # parent id -> its fetch time


class Plan:
    """The writes that mirror a set of Stripe objects, computed without the database.

    :func:`plan_objects` maps objects (and the objects expanded inside them) to rows;
    :meth:`merge` joins plans, later objects winning; :meth:`apply` writes them with one
    statement per model and kind of write, whatever the number of objects. The backfill
    maps pages in its fetcher threads while the writer waits for the database.

    ``fetched_at`` is when the plan's objects were fetched from Stripe (default: now, right
    after the fetch for most callers): every row the plan upserts carries it in
    ``synced_at``, and the freshness rule (:mod:`.fresh`) keeps a row fetched later.
    Merged plans keep each row's own time.
    """

    def __init__(self, fetched_at: datetime | None = None) -> None:
        self.fetched_at = fetched_at if fetched_at is not None else timezone.now()
        self._upserts: dict[tuple[Any, ...], _Upsert] = {}
        self._prunes: dict[tuple[Any, ...], _Prune] = {}
        self._removals: dict[type[models.Model], set[str]] = {}

    def __bool__(self) -> bool:
        return bool(self._upserts or self._prunes or self._removals)

    def upsert(
        self,
        model: type[models.Model],
        rows: Iterable[Mapping[str, Any]],
        *,
        top: bool = False,
        only: Iterable[str] | None = None,
        local: Iterable[str] = (),
        parent_column: str | None = None,
    ) -> Plan:
        """Insert or update ``rows`` of ``model`` (see :func:`upsert_rows`); ``only``
        restricts the columns updated on conflict, ``local`` columns are written even on a
        row fetched later. A row without ``synced_at`` gets the plan's ``fetched_at``.

        Children (``parent_column``: the column naming their parent, ``subscription_id``)
        are written after every parent, and not at all when the plan's write of their
        parent was skipped (its stored row was fetched later): a stale parent brings back
        no child a later fetch removed.

        Raises :class:`~stripe_integrations.sync.columns.UnstorableObject` when a row's value
        for a ``NOT NULL`` column (its id...) cannot be stored: nothing of the plan is then
        written."""
        rows = list(rows)
        for row in rows:
            reason = columns.refusal(model, row)
            if reason is not None:
                raise columns.UnstorableObject(reason)
        rows = fresh.stamp(rows, self.fetched_at)
        return self._add(
            model, rows, top=top, only=only, local=tuple(local), parent_column=parent_column
        )

    def _add(
        self,
        model: type[models.Model],
        rows: Iterable[Mapping[str, Any]],
        *,
        top: bool,
        only: Iterable[str] | None,
        local: tuple[str, ...] = (),
        parent_column: str | None = None,
    ) -> Plan:
        only_key = tuple(only) if only is not None else None
        key = (model, only_key, top, local, parent_column)
        op = self._upserts.get(key)
        if op is None:
            op = self._upserts[key] = _Upsert(model, only_key, top, local, parent_column)
        for row in rows:
            op.rows.pop(row["stripe_id"], None)  # the last copy wins, at the end
            op.rows[row["stripe_id"]] = row
        return self

    def prune(
        self,
        model: type[models.Model],
        parent_column: str,
        keep: Mapping[str, list[str]],
        fetched: Mapping[str, datetime] | None = None,
    ) -> Plan:
        """Delete the children of each parent in ``keep`` that are not listed there and
        were not fetched after the parent (``fetched``: parent id -> its fetch time, by
        default the plan's ``fetched_at``)."""
        key = (model, parent_column)
        op = self._prunes.get(key)
        if op is None:
            op = self._prunes[key] = _Prune(model, parent_column)
        op.keep.update(keep)
        times = fetched or {}
        op.fetched.update((parent, times.get(parent, self.fetched_at)) for parent in keep)
        return self

    def remove(self, model: type[models.Model], ids: Iterable[str]) -> Plan:
        """Delete the rows of ``ids``."""
        self._removals.setdefault(model, set()).update(ids)
        return self

    def mark_deleted(
        self, model: type[models.Model], stubs: Sequence[Mapping[str, Any]], flag: str
    ) -> Plan:
        """Record objects Stripe reports deleted (``flag``: ``is_deleted`` or
        ``is_active``), keeping their last known fields."""
        if not stubs:
            return self
        now = timezone.now()
        fetched_at = self.fetched_at
        extra: dict[str, Any] = (
            {"is_active": False, "date_purged": now} if flag == "is_active" else {}
        )
        if flag == "is_deleted":
            extra = {"is_deleted": True}
        rows = [
            {
                "stripe_id": stub["id"],
                "livemode": bool(stub.get("livemode") or False),
                "raw": dict(stub),
                "synced_at": fetched_at,
                **extra,
            }
            for stub in stubs
        ]
        return self.upsert(model, rows, top=True, only=[*extra, "synced_at"])

    def add_nested(self, parents: Iterable[Mapping[str, Any]]) -> Plan:
        """Add the objects expanded inside ``parents`` (not returned by :meth:`apply`)."""
        nested = nested_objects(parents)
        if nested:
            self.merge(plan_objects(nested, fetched_at=self.fetched_at), top=False)
        return self

    def merge(self, other: Plan, *, top: bool = True) -> Plan:
        """Add ``other``'s writes after this plan's (``top=False``: its rows are not
        returned by :meth:`apply`)."""
        for op in other._upserts.values():
            self._add(
                op.model,
                op.rows.values(),
                top=op.top and top,
                only=op.only,
                local=op.local,
                parent_column=op.parent_column,
            )
        for prune in other._prunes.values():
            self.prune(prune.model, prune.parent_column, prune.keep, prune.fetched)
        for model, ids in other._removals.items():
            self.remove(model, ids)
        return self

    def apply(self, *, returning: bool = True) -> list[Any]:
        """Write the plan in one transaction; returns the rows of the top-level objects as
        model instances (none with ``returning=False``, which lets PostgreSQL take the
        bulk writer)."""
        result: list[Any] = []
        # Parents first; then children, without those of a parent the rule skipped.
        ops = sorted(self._upserts.values(), key=lambda op: op.parent_column is not None)
        parents = {_parent_model(op.model, op.parent_column) for op in ops if op.parent_column}
        parents |= {_parent_model(p.model, p.parent_column) for p in self._prunes.values()}
        skipped: dict[type[models.Model], set[str]] = {model: set() for model in parents}
        with transaction.atomic(savepoint=False):
            for op in ops:
                wanted = returning and op.top
                rows = list(op.rows.values())
                if op.parent_column:
                    stale = skipped[_parent_model(op.model, op.parent_column)]
                    rows = (
                        [r for r in rows if r.get(op.parent_column) not in stale] if stale else rows
                    )
                written = upsert_rows(
                    op.model,
                    rows,
                    update_fields=op.only or (),
                    only=op.only is not None,
                    returning=wanted,
                    local=op.local,
                    skipped=skipped.get(op.model),
                )
                if wanted:
                    result.extend(written)
            for prune in self._prunes.values():
                stale = skipped[_parent_model(prune.model, prune.parent_column)]
                fetched = {p: t for p, t in prune.fetched.items() if p not in stale}
                if not fetched:
                    continue
                keep = [c for p, children in prune.keep.items() if p in fetched for c in children]
                if not bulk.prune(prune.model, prune.parent_column, fetched, keep):
                    _prune_orm(prune.model, prune.parent_column, fetched, keep)
            for model, ids in self._removals.items():
                model._default_manager.filter(stripe_id__in=sorted(ids)).delete()
        return result


@functools.cache
def _parent_model(model: type[models.Model], parent_column: str) -> type[models.Model]:
    """The model of the parents ``parent_column`` of ``model`` names."""
    for f in model._meta.concrete_fields:
        if parent_column in (f.attname, f.name) and f.related_model is not None:
            return f.related_model
    raise ValueError(f"{model._meta.label}.{parent_column} names no parent model")


def _prune_orm(
    model: type[models.Model],
    parent_column: str,
    parents: Mapping[str, datetime],
    keep: list[str],
) -> None:
    """The children of ``parents`` (id -> fetch time) they no longer list and that were not
    fetched after them, deleted by one statement (the ORM's, for any database)."""
    by_time: dict[datetime, list[str]] = {}
    for parent, fetched_at in parents.items():
        by_time.setdefault(fetched_at, []).append(parent)
    older = models.Q()
    for fetched_at, ids in by_time.items():
        older |= models.Q(**{f"{parent_column}__in": ids}) & (
            models.Q(synced_at__isnull=True) | models.Q(synced_at__lte=fetched_at)
        )
    model._default_manager.filter(older).exclude(stripe_id__in=keep).delete()


def plan_customers(
    objects: Objects,
    *,
    local: Mapping[str, Any] | None = None,
    fetched_at: datetime | None = None,
) -> Plan:
    """The writes that mirror customer objects (see :func:`sync_customers`)."""
    live, deleted = _split_deleted(objects)
    rows = [{**mapping.customer_fields(obj), **(local or {})} for obj in live]
    plan = Plan(fetched_at).upsert(Customer, rows, top=True, local=tuple(local or ()))
    return plan.mark_deleted(Customer, deleted, "is_active").add_nested(live)


def sync_customers(
    objects: Objects,
    *,
    local: Mapping[str, Any] | None = None,
    returning: bool = True,
    fetched_at: datetime | None = None,
) -> list[Customer]:
    """Mirror customer objects (and what is expanded inside them), fetched from Stripe at
    ``fetched_at`` (default: now).

    ``local`` adds local columns to every row (``subscriber_id``, ``is_active``...), written
    even when the stored row was fetched later. A deleted stub marks the row inactive and
    purged, keeping its last known fields.
    """
    return plan_customers(objects, local=local, fetched_at=fetched_at).apply(returning=returning)


def mark_customers_deleted(
    stubs: Sequence[Mapping[str, Any]], *, fetched_at: datetime | None = None
) -> list[Customer]:
    """Record customers Stripe reports as deleted: inactive, purged, other fields kept."""
    return Plan(fetched_at).mark_deleted(Customer, stubs, "is_active").apply()


def plan_payment_methods(objects: Objects, *, fetched_at: datetime | None = None) -> Plan:
    """The writes that mirror payment methods and legacy card sources."""
    rows = [mapping.payment_method_fields(d) for d in _dicts(objects)]
    return Plan(fetched_at).upsert(PaymentMethod, rows, top=True)


def sync_payment_methods(
    objects: Objects, *, returning: bool = True, fetched_at: datetime | None = None
) -> list[PaymentMethod]:
    """Mirror payment methods and legacy card sources."""
    return plan_payment_methods(objects, fetched_at=fetched_at).apply(returning=returning)


def plan_subscriptions(objects: Objects, *, fetched_at: datetime | None = None) -> Plan:
    """The writes that mirror subscriptions with their items (see
    :func:`sync_subscriptions`)."""
    subs = _dicts(objects)
    plan = Plan(fetched_at)
    if not subs:
        return plan
    keep: dict[str, list[str]] = {}
    item_rows: list[dict[str, Any]] = []
    for sub in subs:
        rows = [
            mapping.subscription_item_fields(i, sub["id"]) for i in mapping.subscription_items(sub)
        ]
        keep[sub["id"]] = [r["stripe_id"] for r in rows]
        item_rows += rows
    plan.upsert(Subscription, [mapping.subscription_fields(s) for s in subs], top=True)
    plan.upsert(SubscriptionItem, item_rows, parent_column="subscription_id")
    return plan.prune(SubscriptionItem, "subscription_id", keep).add_nested(subs)


def sync_subscriptions(
    objects: Objects, *, returning: bool = True, fetched_at: datetime | None = None
) -> list[Subscription]:
    """Mirror subscriptions with their items; items Stripe no longer lists are removed
    (unless fetched after the subscription)."""
    return plan_subscriptions(objects, fetched_at=fetched_at).apply(returning=returning)


def plan_invoices(objects: Objects, *, fetched_at: datetime | None = None) -> Plan:
    """The writes that mirror invoices with their lines (see :func:`sync_invoices`)."""
    live, deleted = _split_deleted(objects)
    line_rows: list[dict[str, Any]] = []
    keep: dict[str, list[str]] = {}
    for invoice in live:
        lines, complete = billing.invoice_lines(invoice)
        rows = [billing.invoice_line_fields(line, invoice["id"]) for line in lines]
        line_rows += rows
        if complete:
            keep[invoice["id"]] = [r["stripe_id"] for r in rows]
    plan = Plan(fetched_at).upsert(Invoice, [billing.invoice_fields(i) for i in live], top=True)
    plan.mark_deleted(Invoice, deleted, "is_deleted")
    plan.upsert(InvoiceLineItem, line_rows, parent_column="invoice_id")
    if keep:
        plan.prune(InvoiceLineItem, "invoice_id", keep)
    return plan.add_nested(live)


def sync_invoices(
    objects: Objects, *, returning: bool = True, fetched_at: datetime | None = None
) -> list[Invoice]:
    """Mirror invoices with their lines (lines no longer listed are removed when the
    embedded list is complete, unless fetched after the invoice)."""
    return plan_invoices(objects, fetched_at=fetched_at).apply(returning=returning)


def _simple(
    model: type[M], fields: Callable[[Mapping[str, Any]], dict[str, Any]], deletable: bool
) -> tuple[Callable[[Objects], Plan], Callable[..., list[M]]]:
    """The plan and sync functions of a resource without children."""

    def plan(objects: Objects, *, fetched_at: datetime | None = None) -> Plan:
        live, deleted = _split_deleted(objects)
        result = Plan(fetched_at).upsert(model, [fields(d) for d in live], top=True)
        if deleted and deletable:
            result.mark_deleted(model, deleted, "is_deleted")
        elif deleted:
            result.remove(model, [d["id"] for d in deleted])
        return result.add_nested(live)

    def sync(
        objects: Objects, *, returning: bool = True, fetched_at: datetime | None = None
    ) -> list[M]:
        return plan(objects, fetched_at=fetched_at).apply(returning=returning)

    name = f"{model._meta.model_name}s"
    plan.__name__, sync.__name__ = f"plan_{name}", f"sync_{name}"
    plan.__doc__ = f"The writes that mirror {model._meta.verbose_name_plural}."
    sync.__doc__ = f"Mirror {model._meta.verbose_name_plural} (and what is expanded inside)."
    return plan, sync


plan_products, sync_products = _simple(Product, billing.product_fields, deletable=True)
plan_prices, sync_prices = _simple(Price, billing.price_fields, deletable=True)
plan_coupons, sync_coupons = _simple(Coupon, billing.coupon_fields, deletable=True)
plan_promotion_codes, sync_promotion_codes = _simple(
    PromotionCode, billing.promotion_code_fields, deletable=False
)
plan_discounts, sync_discounts = _simple(Discount, billing.discount_fields, deletable=True)
plan_invoice_items, sync_invoice_items = _simple(
    InvoiceItem, billing.invoice_item_fields, deletable=True
)
plan_payment_intents, sync_payment_intents = _simple(
    PaymentIntent, billing.payment_intent_fields, deletable=False
)
plan_charges, sync_charges = _simple(Charge, billing.charge_fields, deletable=False)
plan_refunds, sync_refunds = _simple(Refund, billing.refund_fields, deletable=False)
plan_setup_intents, sync_setup_intents = _simple(
    SetupIntent, billing.setup_intent_fields, deletable=False
)


def plan_events(objects: Objects, *, fetched_at: datetime | None = None) -> Plan:
    """The writes that mirror event objects."""
    rows = [mapping.event_fields(d) for d in _dicts(objects)]
    return Plan(fetched_at).upsert(Event, rows, top=True)


def sync_events(
    objects: Objects, *, returning: bool = True, fetched_at: datetime | None = None
) -> list[Event]:
    """Mirror event objects (their ``data.object`` is not applied: handlers re-fetch)."""
    return plan_events(objects, fetched_at=fetched_at).apply(returning=returning)


#: Stripe ``object`` value -> the function that plans its writes (objects, and keyword
#: ``fetched_at``).
PLANNERS: dict[str, Callable[..., Plan]] = {
    "customer": plan_customers,
    "payment_method": plan_payment_methods,
    "card": plan_payment_methods,
    "source": plan_payment_methods,
    "subscription": plan_subscriptions,
    "product": plan_products,
    "price": plan_prices,
    "plan": plan_prices,
    "coupon": plan_coupons,
    "promotion_code": plan_promotion_codes,
    "discount": plan_discounts,
    "invoice": plan_invoices,
    "invoiceitem": plan_invoice_items,
    "payment_intent": plan_payment_intents,
    "charge": plan_charges,
    "refund": plan_refunds,
    "setup_intent": plan_setup_intents,
}

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


@functools.cache
def _mirrorable_re(kinds: tuple[str, ...]) -> re.Pattern[bytes]:
    names = b"|".join(re.escape(kind.encode()) for kind in kinds)
    return re.compile(rb'"object":"(' + names + rb')"')


def plan_objects(objects: Objects, *, fetched_at: datetime | None = None) -> Plan:
    """The writes that mirror Stripe objects of any supported type, grouped by ``object``,
    fetched from Stripe at ``fetched_at`` (default: now)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        data = mapping.as_dict(obj)
        kind = str(data.get("object") or "")
        if kind not in PLANNERS:
            raise ValueError(f"cannot mirror Stripe objects of type {kind!r}")
        groups.setdefault(kind, []).append(data)
    plan = Plan(fetched_at)
    for kind, group in groups.items():
        plan.merge(PLANNERS[kind](group, fetched_at=plan.fetched_at))
    return plan


def sync_objects(
    objects: Objects, *, returning: bool = True, fetched_at: datetime | None = None
) -> list[models.Model]:
    """Mirror Stripe objects of any supported type, grouped by ``object``, fetched from
    Stripe at ``fetched_at`` (default: now). Returns the rows of the given objects (not of
    the nested ones), in the order of the types."""
    return plan_objects(objects, fetched_at=fetched_at).apply(returning=returning)
