"""Subscription and subscription item endpoints of :class:`~.fake.FakeStripe`.

Shaped like API version ``2026-10-28.endive``: billing periods live on the items
(``current_period_start``/``current_period_end``), not on the subscription. A month is 30
days and a year 365; a new price of another interval restarts an item's period, one of the
same interval keeps it. Creating a subscription bills it at once (see
:mod:`.fake_subscription_invoices`): it is ``active`` (``trialing`` with a trial) when the
first invoice is paid or nothing is due, else ``incomplete``; ``latest_invoice`` names that
invoice. ``discounts`` hold discount ids; items keep their ``quantity``, ``tax_rates`` (tax
rate objects), ``metadata`` and ``discounts``.
"""

from __future__ import annotations

import copy
from typing import Any

from stripe_integrations.testing import (
    fake_catalog,
    fake_discounts,
    fake_subscription_invoices,
    fake_tax_rates,
)
from stripe_integrations.testing.fake_errors import FakeError, missing
from stripe_integrations.testing.fake_params import (
    as_bool,
    as_dict,
    as_enum,
    as_int,
    as_list,
    as_str,
    check_known,
    created_filter,
    matches_range,
    merged_metadata,
    require,
)
from stripe_integrations.testing.fake_store import Ctx, JsonDict, paginate

_INTERVAL_SECONDS = {"day": 86_400, "week": 7 * 86_400, "month": 30 * 86_400, "year": 365 * 86_400}
_PAYMENT_BEHAVIOURS = (
    "allow_incomplete",
    "default_incomplete",
    "error_if_incomplete",
    "pending_if_incomplete",
)
_STATUSES = (
    "active",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
)
_ITEM_PARAMS = ("price", "price_data", "quantity", "metadata", "tax_rates", "discounts")
_SHARED_PARAMS = frozenset(
    {
        "cancel_at",
        "cancel_at_period_end",
        "collection_method",
        "days_until_due",
        "default_payment_method",
        "description",
        "discounts",
        "items",
        "metadata",
        "off_session",
        "payment_behavior",
        "proration_behavior",
        "trial_end",
    }
)
SUBSCRIPTION_CREATE_PARAMS = _SHARED_PARAMS | {
    "billing_cycle_anchor",
    "currency",
    "customer",
    "trial_from_plan",
    "trial_period_days",
}
SUBSCRIPTION_UPDATE_PARAMS = _SHARED_PARAMS | {
    "cancellation_details",
    "pause_collection",
    "proration_date",
}


def period_end(price: JsonDict, start: int) -> int:
    """The end of a billing period of ``price`` starting at ``start``."""
    interval, count = _interval(price)
    return start + _INTERVAL_SECONDS[interval] * count


def _item_price(ctx: Ctx, raw: JsonDict, param: str) -> JsonDict:
    if "price_data" in raw and "price" not in raw:
        data = raw["price_data"]
        return fake_catalog.inline_price(ctx, data, f"{param}[price_data]", recurring=True)
    price_id = as_str(require(raw, "price"), f"{param}[price]")
    price = ctx.store.get("price", str(price_id), param=f"{param}[price]")
    if price["type"] != "recurring":
        raise FakeError(
            400,
            "The price specified is set to `type=one_time` but this field only accepts prices "
            "with `type=recurring`.",
            param=f"{param}[price]",
        )
    return price


def _new_item(ctx: Ctx, sub_id: str, price: JsonDict, raw: JsonDict, param: str) -> JsonDict:
    return {
        "id": ctx.store.new_id("subscription_item"),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": ctx.store.now(),
        "current_period_end": 0,
        "current_period_start": 0,
        "discounts": [],
        "metadata": merged_metadata({}, raw.get("metadata"), f"{param}[metadata]"),
        "price": copy.deepcopy(price),
        "quantity": as_int(raw.get("quantity", 1), f"{param}[quantity]", minimum=0),
        "subscription": sub_id,
        "tax_rates": fake_tax_rates.tax_rates(ctx, raw.get("tax_rates"), f"{param}[tax_rates]"),
    }


def _interval(price: JsonDict) -> tuple[str, int]:
    """A recurring price's billing interval: a price of another interval restarts the
    item's period (Stripe resets the billing cycle anchor), one of the same keeps it."""
    recurring = price["recurring"] or {"interval": "month", "interval_count": 1}
    return recurring["interval"], int(recurring["interval_count"])


def _start_periods(items: list[JsonDict], start: int, trial_end: int | None) -> None:
    for item in items:
        item["current_period_start"] = start
        item["current_period_end"] = trial_end or period_end(item["price"], start)


def _trial_end(params: JsonDict, now: int) -> int | None:
    if params.get("trial_end") not in (None, ""):
        if params["trial_end"] == "now":
            return None
        return as_int(params["trial_end"], "trial_end", minimum=now + 1)
    days = as_int(params.get("trial_period_days", 0), "trial_period_days", minimum=0)
    return now + days * 86_400 if days else None


def _default_payment_method(ctx: Ctx, customer_id: str, value: Any) -> str | None:
    pm_id = as_str(value, "default_payment_method")
    if pm_id is not None:
        pm = ctx.store.find("payment_method", pm_id)
        if pm is None or pm["customer"] != customer_id:
            raise FakeError(
                400,
                f"The customer does not have a payment method with the ID {pm_id}. "
                "The payment method must be attached to the customer.",
                code="resource_missing",
                param="default_payment_method",
            )
    return pm_id


def _apply_common(ctx: Ctx, sub: JsonDict, params: JsonDict) -> None:
    if "metadata" in params:
        sub["metadata"] = merged_metadata(sub["metadata"], params["metadata"])
    if "description" in params:
        sub["description"] = as_str(params["description"], "description")
    if "collection_method" in params:
        sub["collection_method"] = as_enum(
            params["collection_method"],
            "collection_method",
            ("charge_automatically", "send_invoice"),
        )
    if "days_until_due" in params:
        sub["days_until_due"] = as_int(params["days_until_due"], "days_until_due", minimum=0)
    if "default_payment_method" in params:
        sub["default_payment_method"] = _default_payment_method(
            ctx, sub["customer"], params["default_payment_method"]
        )
    if "cancel_at" in params:
        sub["cancel_at"] = (
            None if params["cancel_at"] == "" else as_int(params["cancel_at"], "cancel_at")
        )
        sub["cancel_at_period_end"] = False
    if "cancel_at_period_end" in params:
        at_end = as_bool(params["cancel_at_period_end"], "cancel_at_period_end")
        sub["cancel_at_period_end"] = at_end
        ends = [item["current_period_end"] for item in sub["items"]["data"]]
        sub["cancel_at"] = max(ends) if at_end else None


def create_subscription(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``POST /v1/subscriptions``."""
    check_known(params, SUBSCRIPTION_CREATE_PARAMS)
    customer = ctx.store.get("customer", require(params, "customer"), param="customer")
    raw_items = as_list(require(params, "items"), "items")
    now = ctx.store.now()
    sub_id = ctx.store.new_id("subscription")
    items = []
    item_specs = []
    for index, raw in enumerate(raw_items):
        param = f"items[{index}]"
        raw_item = as_dict(raw, param) or {}
        check_known(raw_item, _ITEM_PARAMS)
        items.append(_new_item(ctx, sub_id, _item_price(ctx, raw_item, param), raw_item, param))
        discounts = raw_item.get("discounts")
        item_specs.append(
            fake_discounts.parse(ctx, discounts, f"{param}[discounts]", customer["id"])
        )
    currencies = {item["price"]["currency"] for item in items}
    if len(currencies) > 1:
        raise FakeError(
            400, "All prices on a subscription must have the same currency.", param="items"
        )
    trial_end = _trial_end(params, now)
    _start_periods(items, now, trial_end)
    behaviour = as_enum(
        params.get("payment_behavior", "allow_incomplete"), "payment_behavior", _PAYMENT_BEHAVIOURS
    )
    anchor = trial_end or now
    if params.get("billing_cycle_anchor") not in (None, ""):
        anchor = as_int(params["billing_cycle_anchor"], "billing_cycle_anchor")
    sub: JsonDict = {
        "id": sub_id,
        "object": "subscription",
        "billing_cycle_anchor": anchor,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": now,
        "currency": currencies.pop(),
        "customer": customer["id"],
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "description": None,
        "discounts": [],
        "ended_at": None,
        "items": {
            "object": "list",
            "data": items,
            "has_more": False,
            "total_count": len(items),
            "url": f"/v1/subscription_items?subscription={sub_id}",
        },
        "latest_invoice": None,
        "livemode": False,
        "metadata": {},
        "pause_collection": None,
        "schedule": None,
        "start_date": now,
        "status": "trialing" if trial_end else "active",
        "test_clock": customer["test_clock"],
        "trial_end": trial_end,
        "trial_start": now if trial_end else None,
    }
    _apply_common(ctx, sub, params)
    specs = fake_discounts.parse(ctx, params.get("discounts"), "discounts", customer["id"])
    off_session = as_bool(params.get("off_session", False), "off_session")
    # Everything is valid: redeem the discounts, then see whether the first invoice gets paid.
    links = {"customer": customer["id"], "subscription": sub_id}
    sub["discounts"] = fake_discounts.create(ctx, specs, **links)
    for item, item_spec in zip(items, item_specs, strict=True):
        item["discounts"] = fake_discounts.create(
            ctx, item_spec, **links, subscription_item=item["id"]
        )
    try:
        preview = fake_subscription_invoices.build(
            ctx, sub, reason="subscription_create", stored=False
        )
        sub["status"] = fake_subscription_invoices.predicted_status(ctx, sub, preview, behaviour)
    except FakeError:
        fake_discounts.undo(ctx.store, specs, sub["discounts"])
        for item, item_spec in zip(items, item_specs, strict=True):
            fake_discounts.undo(ctx.store, item_spec, item["discounts"])
        raise
    ctx.store.insert(sub)
    for item in items:
        ctx.store.insert(item)
    if customer["currency"] is None:
        customer["currency"] = sub["currency"]
    invoice = fake_subscription_invoices.build(ctx, sub, reason="subscription_create")
    sub["latest_invoice"] = invoice["id"]
    ctx.emit("customer.subscription.created", sub)
    _announce_discounts(ctx, sub, [], items)
    fake_subscription_invoices.collect_first(
        ctx, sub, invoice, behaviour=behaviour, off_session=off_session
    )
    return sub


def _announce_discounts(ctx: Ctx, sub: JsonDict, known: list[str], items: list[JsonDict]) -> None:
    """``customer.discount.created`` for the subscription's (and items') new discounts."""
    for discount_id in [*sub["discounts"], *(d for item in items for d in item["discounts"])]:
        discount = ctx.store.find("discount", discount_id)
        if discount_id not in known and discount is not None:
            ctx.emit("customer.discount.created", discount)


def retrieve_subscription(ctx: Ctx, params: JsonDict, sub_id: str) -> JsonDict:
    """``GET /v1/subscriptions/{id}`` (canceled subscriptions included)."""
    return ctx.store.get("subscription", sub_id)


def _update_items(ctx: Ctx, sub: JsonDict, raw_items: list[Any]) -> None:
    now = ctx.store.now()
    items: list[JsonDict] = sub["items"]["data"]
    for index, raw in enumerate(raw_items):
        param = f"items[{index}]"
        raw_item = as_dict(raw, param) or {}
        check_known(raw_item, (*_ITEM_PARAMS, "id", "deleted", "clear_usage"))
        if not raw_item.get("id"):
            item = _new_item(ctx, sub["id"], _item_price(ctx, raw_item, param), raw_item, param)
            _start_periods([item], now, sub["trial_end"] if sub["status"] == "trialing" else None)
            _item_discounts(ctx, sub, item, raw_item, param)
            items.append(item)
            continue
        matches = [item for item in items if item["id"] == raw_item["id"]]
        if not matches:
            raise missing("subscription_item", str(raw_item["id"]), param=f"{param}[id]")
        item = matches[0]
        if as_bool(raw_item.get("deleted", False), f"{param}[deleted]"):
            items.remove(item)
            continue
        if raw_item.get("price") and raw_item["price"] != item["price"]["id"]:
            before = _interval(item["price"])
            item["price"] = copy.deepcopy(_item_price(ctx, raw_item, param))
            if sub["status"] != "trialing" and _interval(item["price"]) != before:
                _start_periods([item], now, None)
        if "quantity" in raw_item:
            item["quantity"] = as_int(raw_item["quantity"], f"{param}[quantity]", minimum=0)
        if "metadata" in raw_item:
            item["metadata"] = merged_metadata(item["metadata"], raw_item["metadata"])
        if "tax_rates" in raw_item:
            rates = raw_item["tax_rates"]
            item["tax_rates"] = fake_tax_rates.tax_rates(ctx, rates, f"{param}[tax_rates]")
        _item_discounts(ctx, sub, item, raw_item, param)
    if not items:
        raise FakeError(400, "A subscription must have at least one item.", param="items")
    sub["items"]["total_count"] = len(items)


def _item_discounts(ctx: Ctx, sub: JsonDict, item: JsonDict, raw: JsonDict, param: str) -> None:
    if "discounts" in raw:
        specs = fake_discounts.parse(ctx, raw["discounts"], f"{param}[discounts]", sub["customer"])
        item["discounts"] = fake_discounts.create(
            ctx,
            specs,
            customer=sub["customer"],
            subscription=sub["id"],
            subscription_item=item["id"],
        )


def update_subscription(ctx: Ctx, params: JsonDict, sub_id: str) -> JsonDict:
    """``POST /v1/subscriptions/{id}`` (metadata, cancellation, items, trial end, ...)."""
    sub = ctx.store.get("subscription", sub_id)
    check_known(params, SUBSCRIPTION_UPDATE_PARAMS)
    if sub["status"] == "canceled" and set(params) - {"metadata", "cancellation_details", "expand"}:
        raise FakeError(
            400, "A canceled subscription can only update its cancellation_details and metadata."
        )
    before = copy.deepcopy(sub)
    updated = copy.deepcopy(sub)
    if "items" in params:
        _update_items(ctx, updated, as_list(params["items"], "items"))
    if params.get("trial_end") == "now" and updated["status"] == "trialing":
        now = ctx.store.now()
        updated.update(trial_end=now, billing_cycle_anchor=now, status="active")
        _start_periods(updated["items"]["data"], now, None)
    elif params.get("trial_end") not in (None, "", "now"):
        trial_end = _trial_end({"trial_end": params["trial_end"]}, ctx.store.now())
        updated.update(trial_end=trial_end, status="trialing")
        for item in updated["items"]["data"]:
            item["current_period_end"] = trial_end
    _apply_common(ctx, updated, params)
    if "pause_collection" in params:
        pause = as_dict(params["pause_collection"], "pause_collection")
        updated["pause_collection"] = pause and {
            "behavior": as_enum(
                pause.get("behavior"),
                "pause_collection[behavior]",
                ("keep_as_draft", "mark_uncollectible", "void"),
            ),
            "resumes_at": as_int(pause["resumes_at"], "pause_collection[resumes_at]")
            if pause.get("resumes_at")
            else None,
        }
    details = as_dict(params.get("cancellation_details"), "cancellation_details") or {}
    check_known(details, ("comment", "feedback"))
    for key, value in details.items():
        updated["cancellation_details"][key] = as_str(value, f"cancellation_details[{key}]")
    if "discounts" in params:
        specs = fake_discounts.parse(ctx, params["discounts"], "discounts", sub["customer"])
        updated["discounts"] = fake_discounts.create(
            ctx, specs, customer=sub["customer"], subscription=sub_id
        )
    ended_trial = params.get("trial_end") == "now" and before["status"] == "trialing"
    _commit_items(ctx, sub, updated)
    sub.update(updated)
    invoice = None
    if ended_trial:
        invoice = fake_subscription_invoices.build(ctx, sub, reason="subscription_update")
        sub["latest_invoice"] = invoice["id"]
    for discount_id in before["discounts"]:
        gone = ctx.store.find("discount", discount_id)
        if discount_id not in sub["discounts"] and gone is not None:
            fake_discounts.remove(ctx, gone)
    ctx.emit_update("customer.subscription.updated", sub, before)
    known = [
        *before["discounts"],
        *(d for item in before["items"]["data"] for d in item["discounts"]),
    ]
    _announce_discounts(ctx, sub, known, sub["items"]["data"])
    if invoice is not None:
        fake_subscription_invoices.collect_first(
            ctx, sub, invoice, behaviour="allow_incomplete", off_session=True
        )
    return sub


def _commit_items(ctx: Ctx, sub: JsonDict, updated: JsonDict) -> None:
    """Keep the item table in step with the (copied, edited) items of ``updated``."""
    kept = {item["id"] for item in updated["items"]["data"]}
    for item in sub["items"]["data"]:
        if item["id"] not in kept:
            ctx.store.objects["subscription_item"].pop(item["id"], None)
    for index, item in enumerate(updated["items"]["data"]):
        stored = ctx.store.find("subscription_item", item["id"])
        if stored is None:
            ctx.store.insert(item)
        else:
            stored.clear()
            stored.update(item)
            updated["items"]["data"][index] = stored


def cancel(ctx: Ctx, sub: JsonDict, *, reason: str) -> JsonDict:
    """End ``sub`` now (``customer.subscription.deleted``)."""
    now = ctx.store.now()
    sub.update(status="canceled", canceled_at=now, ended_at=now)
    sub["cancellation_details"]["reason"] = reason
    ctx.emit("customer.subscription.deleted", sub)
    return sub


def cancel_subscription(ctx: Ctx, params: JsonDict, sub_id: str) -> JsonDict:
    """``DELETE /v1/subscriptions/{id}``."""
    sub = ctx.store.get("subscription", sub_id)
    check_known(params, ("cancellation_details", "invoice_now", "prorate"))
    if sub["status"] == "canceled":
        raise missing("subscription", sub_id)
    details = as_dict(params.get("cancellation_details"), "cancellation_details") or {}
    check_known(details, ("comment", "feedback"))
    for key, value in details.items():
        sub["cancellation_details"][key] = as_str(value, f"cancellation_details[{key}]")
    return cancel(ctx, sub, reason="cancellation_requested")


def list_subscriptions(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/subscriptions``: not canceled by default, ``status=all`` for every one."""
    check_known(
        params,
        (
            "customer",
            "price",
            "status",
            "collection_method",
            "test_clock",
            "created",
            "limit",
            "starting_after",
            "ending_before",
        ),
    )
    status = as_enum(
        params.get("status") or "default", "status", (*_STATUSES, "all", "ended", "default")
    )
    statuses = {
        "default": set(_STATUSES) - {"canceled", "incomplete_expired"},
        "all": set(_STATUSES),
        "ended": {"canceled", "incomplete_expired"},
    }.get(status, {status})
    created = created_filter(params)

    def keep(sub: JsonDict) -> bool:
        prices = {item["price"]["id"] for item in sub["items"]["data"]}
        return (
            sub["status"] in statuses
            and params.get("customer") in (None, sub["customer"])
            and params.get("price") in (None, *prices)
            and params.get("collection_method") in (None, sub["collection_method"])
            and params.get("test_clock") in (None, sub["test_clock"])
            and matches_range(sub["created"], created)
        )

    items = ctx.store.newest_first("subscription", keep)
    return paginate(ctx.store, items, params, "/v1/subscriptions", "subscription")


def retrieve_subscription_item(ctx: Ctx, params: JsonDict, item_id: str) -> JsonDict:
    """``GET /v1/subscription_items/{id}``."""
    return ctx.store.get("subscription_item", item_id)


def list_subscription_items(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/subscription_items?subscription=...``."""
    check_known(params, ("subscription", "limit", "starting_after", "ending_before"))
    sub = ctx.store.get("subscription", require(params, "subscription"), param="subscription")
    items = sorted(
        sub["items"]["data"],
        key=lambda item: ctx.store.order_of(item["id"]) or 0,
        reverse=True,
    )
    url = f"/v1/subscription_items?subscription={sub['id']}"
    return paginate(ctx.store, items, params, url, "subscription_item")


def edit_items(ctx: Ctx, sub: JsonDict, raw_items: Any, param: str = "items") -> None:
    """Apply an ``items`` parameter to ``sub`` (a copy) as an update would: previews."""
    _update_items(ctx, sub, as_list(raw_items, param))
