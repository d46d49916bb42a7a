"""Discounts of :class:`~.fake.FakeStripe`: what ``discounts=[{"coupon": id} |
{"promotion_code": id} | {"discount": id}]`` makes, and the ``/discount`` delete endpoints.

A discount names its coupon as ``source: {"type": "coupon", "coupon": id}`` (API version
``2026-10-28.endive``) and, when it came from one, its ``promotion_code``. Subscriptions,
invoices and invoice items hold discount ids; a customer holds its discount object. The API
cannot set a customer discount: seed one with ``fake.add("discount", customer=..., coupon=...)``.
"""

from __future__ import annotations

import copy
from typing import Any

from stripe_integrations.testing.fake_coupons import refresh_validity
from stripe_integrations.testing.fake_errors import FakeError, missing
from stripe_integrations.testing.fake_params import as_dict, as_list, as_str, check_known
from stripe_integrations.testing.fake_store import Ctx, JsonDict, Store

_MONTH = 30 * 86_400
DISCOUNT_SEED_PARAMS = frozenset({"customer", "coupon", "promotion_code", "subscription"})


def coupon_of(store: Store, discount: JsonDict) -> JsonDict:
    """The coupon behind a discount (deleted coupons included)."""
    coupon_id = discount["source"]["coupon"]
    found = store.find("coupon", coupon_id) or store.deleted.get(coupon_id)
    if found is None:
        raise missing("coupon", coupon_id)
    return found


def _promotion_code(store: Store, promo_id: str, customer_id: str | None, param: str) -> JsonDict:
    promo = store.get("promotion_code", promo_id, param=param)
    expired = promo["expires_at"] is not None and promo["expires_at"] <= store.now()
    used_up = (
        promo["max_redemptions"] is not None and promo["times_redeemed"] >= promo["max_redemptions"]
    )
    if not promo["active"] or expired or used_up:
        raise FakeError(400, f"This promotion code cannot be redeemed: '{promo_id}'.", param=param)
    if promo["customer"] is not None and promo["customer"] != customer_id:
        raise FakeError(
            400, "This promotion code cannot be redeemed by this customer.", param=param
        )
    return promo


def parse(ctx: Ctx, value: Any, param: str, customer_id: str | None) -> list[JsonDict]:
    """Validate a ``discounts`` parameter without side effects: one spec per entry."""
    specs: list[JsonDict] = []
    for index, raw in enumerate(as_list(value, param)):
        entry_param = f"{param}[{index}]"
        entry = as_dict(raw, entry_param) or {}
        check_known(entry, ("coupon", "promotion_code", "discount"))
        given: dict[str, str] = {}
        for key, val in entry.items():
            text = as_str(val, f"{entry_param}[{key}]")
            if text is not None:
                given[key] = text
        if len(given) != 1:
            raise FakeError(
                400,
                "Each discount must have exactly one of coupon, promotion_code or discount.",
                param=entry_param,
            )
        key, object_id = next(iter(given.items()))
        if key == "discount":
            discount = ctx.store.get("discount", object_id, param=f"{entry_param}[discount]")
            if discount["customer"] not in (None, customer_id):
                raise missing("discount", object_id, param=f"{entry_param}[discount]")
            specs.append({"discount": discount, "coupon": coupon_of(ctx.store, discount)})
            continue
        promo = None
        if key == "promotion_code":
            promo = _promotion_code(ctx.store, object_id, customer_id, f"{entry_param}[{key}]")
            object_id = promo["promotion"]["coupon"]
        coupon = ctx.store.get("coupon", object_id, param=f"{entry_param}[{key}]")
        if not refresh_validity(ctx.store, coupon):
            raise FakeError(
                400, f"Coupon {object_id} is no longer valid.", param=f"{entry_param}[{key}]"
            )
        specs.append({"coupon": coupon, "promotion_code": promo})
    return specs


def new_discount(store: Store, spec: JsonDict, **links: str | None) -> JsonDict:
    """Store a discount for a coupon (redeeming it and its promotion code)."""
    coupon, promo = spec["coupon"], spec.get("promotion_code")
    now = store.now()
    months = coupon["duration_in_months"] if coupon["duration"] == "repeating" else None
    discount: JsonDict = {
        "id": store.new_id("discount"),
        "object": "discount",
        "checkout_session": None,
        "customer": links.get("customer"),
        "customer_account": None,
        "end": now + months * _MONTH if months else None,
        "invoice": links.get("invoice"),
        "invoice_item": links.get("invoice_item"),
        "promotion_code": promo["id"] if promo else None,
        "source": {"coupon": coupon["id"], "type": "coupon"},
        "start": now,
        "subscription": links.get("subscription"),
        "subscription_item": links.get("subscription_item"),
    }
    coupon["times_redeemed"] += 1
    refresh_validity(store, coupon)
    if promo is not None:
        promo["times_redeemed"] += 1
    return store.insert(discount)


def create(ctx: Ctx, specs: list[JsonDict], **links: str | None) -> list[str]:
    """The discount ids for validated ``specs``: reused discounts keep their id."""
    return [
        spec["discount"]["id"]
        if "discount" in spec
        else new_discount(ctx.store, spec, **links)["id"]
        for spec in specs
    ]


def undo(store: Store, specs: list[JsonDict], ids: list[str]) -> None:
    """Forget the discounts :func:`create` just made (a request that fails after all)."""
    for spec, discount_id in zip(specs, ids, strict=True):
        if "discount" in spec:
            continue
        store.objects["discount"].pop(discount_id, None)
        spec["coupon"]["times_redeemed"] -= 1
        refresh_validity(store, spec["coupon"])
        if spec.get("promotion_code") is not None:
            spec["promotion_code"]["times_redeemed"] -= 1


def usable(store: Store, discount_id: str, invoice_id: str | None) -> JsonDict | None:
    """The discount if it still applies to ``invoice_id`` (not ended, ``once`` not spent)."""
    discount = store.find("discount", discount_id)
    if discount is None or (discount["end"] is not None and discount["end"] <= store.now()):
        return None
    spent_on = store.hidden.get(discount_id, {}).get("spent_on")
    if coupon_of(store, discount)["duration"] == "once" and spent_on not in (None, invoice_id):
        return None
    return discount


def mark_spent(store: Store, discount_ids: list[str], invoice_id: str) -> None:
    """Record that ``once`` discounts were used up by a finalized invoice."""
    for discount_id in discount_ids:
        store.hide(discount_id).setdefault("spent_on", invoice_id)


def remove(ctx: Ctx, discount: JsonDict) -> JsonDict:
    """Delete a discount (``customer.discount.deleted``); returns its deleted stub."""
    ctx.store.objects["discount"].pop(discount["id"], None)
    ctx.store.deleted[discount["id"]] = {**copy.deepcopy(discount), "deleted": True}
    ctx.emit("customer.discount.deleted", discount)
    return ctx.store.deleted[discount["id"]]


def delete_customer_discount(ctx: Ctx, params: JsonDict, customer_id: str) -> JsonDict:
    """``DELETE /v1/customers/{id}/discount``."""
    check_known(params, ())
    customer = ctx.store.get("customer", customer_id)
    if customer["discount"] is None:
        raise FakeError(
            404, f"No active discount for customer: '{customer_id}'", code="resource_missing"
        )
    before = copy.deepcopy(customer)
    stub = remove(ctx, customer["discount"])
    customer["discount"] = None
    ctx.emit_update("customer.updated", customer, before)
    return stub


def delete_subscription_discount(ctx: Ctx, params: JsonDict, sub_id: str) -> JsonDict:
    """``DELETE /v1/subscriptions/{id}/discount``: removes the subscription's discounts."""
    check_known(params, ())
    sub = ctx.store.get("subscription", sub_id)
    found = [ctx.store.find("discount", did) for did in sub["discounts"]]
    discounts = [discount for discount in found if discount is not None]
    if not discounts:
        raise FakeError(
            404, f"No active discount for subscription: '{sub_id}'", code="resource_missing"
        )
    before = copy.deepcopy(sub)
    stubs = [remove(ctx, discount) for discount in discounts]
    sub["discounts"] = []
    ctx.emit_update("customer.subscription.updated", sub, before)
    return stubs[0]


def seed_discount(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``fake.add("discount", customer=..., coupon=... | promotion_code=...)``: a customer
    discount, or one more discount of ``subscription``."""
    check_known(params, DISCOUNT_SEED_PARAMS)
    customer = ctx.store.get("customer", str(params.get("customer")), param="customer")
    entry = {key: params[key] for key in ("coupon", "promotion_code") if key in params}
    spec = parse(ctx, [entry], "discounts", customer["id"])[0]
    sub_id = as_str(params.get("subscription"), "subscription")
    if sub_id is None:
        discount = new_discount(ctx.store, spec, customer=customer["id"])
        customer["discount"] = copy.deepcopy(discount)
        return discount
    sub = ctx.store.get("subscription", sub_id, param="subscription")
    discount = new_discount(ctx.store, spec, customer=customer["id"], subscription=sub_id)
    sub["discounts"].append(discount["id"])
    return discount
