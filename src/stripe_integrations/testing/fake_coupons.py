"""Coupon and promotion code endpoints of :class:`~.fake.FakeStripe`.

A promotion code names its coupon as ``promotion: {"type": "coupon", "coupon": id}`` (API
version ``2026-10-28.endive``); it is created with ``promotion[type]=coupon`` and
``promotion[coupon]=<id>``. Redeeming either (a discount made from it) counts in
``times_redeemed``; a coupon past ``max_redemptions`` or ``redeem_by`` is no longer ``valid``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from stripe_integrations.testing.fake_errors import FakeError
from stripe_integrations.testing.fake_params import (
    as_bool,
    as_dict,
    as_enum,
    as_int,
    as_str,
    check_known,
    created_filter,
    matches_range,
    merged_metadata,
    require,
)
from stripe_integrations.testing.fake_store import Ctx, JsonDict, Store, paginate

COUPON_CREATE_PARAMS = frozenset(
    {
        "amount_off",
        "applies_to",
        "currency",
        "currency_options",
        "duration",
        "duration_in_months",
        "id",
        "max_redemptions",
        "metadata",
        "name",
        "percent_off",
        "redeem_by",
    }
)
PROMOTION_CODE_CREATE_PARAMS = frozenset(
    {
        "active",
        "code",
        "customer",
        "expires_at",
        "max_redemptions",
        "metadata",
        "promotion",
        "restrictions",
    }
)
_CODE = re.compile(r"^[a-zA-Z0-9-]{1,500}$")


def _percent(value: Any) -> float:
    try:
        percent = float(value)
    except (TypeError, ValueError):
        raise FakeError(400, f"Invalid decimal: {value}", param="percent_off") from None
    if not 0 < percent <= 100:
        raise FakeError(
            400, "percent_off must be greater than 0 and at most 100.", param="percent_off"
        )
    return percent


def _amounts(coupon: JsonDict, params: JsonDict) -> None:
    if ("percent_off" in params) == ("amount_off" in params):
        raise FakeError(
            400,
            "You must pass exactly one of percent_off or amount_off.",
            code="parameter_missing" if "percent_off" not in params else "parameters_exclusive",
        )
    if "percent_off" in params:
        coupon["percent_off"] = _percent(params["percent_off"])
        return
    coupon["amount_off"] = as_int(params["amount_off"], "amount_off", minimum=1)
    coupon["currency"] = str(require(params, "currency")).lower()


def _duration(coupon: JsonDict, params: JsonDict) -> None:
    duration = as_enum(params.get("duration", "once"), "duration", ("once", "repeating", "forever"))
    coupon["duration"] = duration
    if duration == "repeating":
        coupon["duration_in_months"] = as_int(
            require(params, "duration_in_months"), "duration_in_months", minimum=1
        )
    elif "duration_in_months" in params:
        raise FakeError(
            400,
            "duration_in_months can only be set when duration is repeating.",
            param="duration_in_months",
        )


def create_coupon(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``POST /v1/coupons`` (``percent_off``, or ``amount_off`` with ``currency``)."""
    check_known(params, COUPON_CREATE_PARAMS)
    coupon: JsonDict = {
        "id": ctx.store.new_id("coupon"),
        "object": "coupon",
        "amount_off": None,
        "applies_to": None,
        "created": ctx.store.now(),
        "currency": None,
        "currency_options": None,
        "duration": "once",
        "duration_in_months": None,
        "livemode": False,
        "max_redemptions": None,
        "metadata": merged_metadata({}, params.get("metadata")),
        "name": as_str(params.get("name"), "name"),
        "percent_off": None,
        "redeem_by": None,
        "times_redeemed": 0,
        "valid": True,
    }
    _amounts(coupon, params)
    _duration(coupon, params)
    if "max_redemptions" in params:
        coupon["max_redemptions"] = as_int(params["max_redemptions"], "max_redemptions", minimum=1)
    if "redeem_by" in params:
        coupon["redeem_by"] = as_int(params["redeem_by"], "redeem_by", minimum=ctx.store.now())
    applies_to = as_dict(params.get("applies_to"), "applies_to")
    if applies_to is not None:
        check_known(applies_to, ("products",))
        coupon["applies_to"] = {"products": [str(p) for p in applies_to.get("products") or []]}
    chosen = as_str(params.get("id"), "id")
    if chosen is not None and ctx.store.order_of(chosen) is not None:
        raise FakeError(400, "Coupon already exists.", code="resource_already_exists", param="id")
    ctx.store.insert(coupon)
    if chosen is not None:
        ctx.store.rekey(coupon, chosen)
    ctx.emit("coupon.created", coupon)
    return coupon


def refresh_validity(store: Store, coupon: JsonDict) -> bool:
    """Recompute ``valid`` (redemptions left and ``redeem_by`` not passed); returns it."""
    exhausted = (
        coupon["max_redemptions"] is not None
        and coupon["times_redeemed"] >= coupon["max_redemptions"]
    )
    expired = coupon["redeem_by"] is not None and coupon["redeem_by"] <= store.now()
    coupon["valid"] = not (exhausted or expired)
    return bool(coupon["valid"])


def retrieve_coupon(ctx: Ctx, params: JsonDict, coupon_id: str) -> JsonDict:
    """``GET /v1/coupons/{id}``."""
    coupon = ctx.store.get("coupon", coupon_id)
    refresh_validity(ctx.store, coupon)
    return coupon


def update_coupon(ctx: Ctx, params: JsonDict, coupon_id: str) -> JsonDict:
    """``POST /v1/coupons/{id}`` (only ``name``, ``metadata`` and ``currency_options``)."""
    coupon = ctx.store.get("coupon", coupon_id)
    check_known(params, ("name", "metadata", "currency_options"))
    before = copy.deepcopy(coupon)
    if "name" in params:
        coupon["name"] = as_str(params["name"], "name")
    if "metadata" in params:
        coupon["metadata"] = merged_metadata(coupon["metadata"], params["metadata"])
    ctx.emit_update("coupon.updated", coupon, before)
    return coupon


def delete_coupon(ctx: Ctx, params: JsonDict, coupon_id: str) -> JsonDict:
    """``DELETE /v1/coupons/{id}``: discounts already made from it keep working."""
    check_known(params, ())
    coupon = ctx.store.get("coupon", coupon_id)
    del ctx.store.objects["coupon"][coupon_id]
    ctx.store.deleted[coupon_id] = {**copy.deepcopy(coupon), "valid": False}
    ctx.emit("coupon.deleted", coupon)
    return {"id": coupon_id, "object": "coupon", "deleted": True}


def list_coupons(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/coupons``."""
    check_known(params, ("created", "limit", "starting_after", "ending_before"))
    created = created_filter(params)
    items = ctx.store.newest_first("coupon", lambda c: matches_range(c["created"], created))
    for coupon in items:
        refresh_validity(ctx.store, coupon)
    return paginate(ctx.store, items, params, "/v1/coupons", "coupon")


def _restrictions(value: Any) -> JsonDict:
    given = as_dict(value, "restrictions") or {}
    check_known(
        given,
        ("currency_options", "first_time_transaction", "minimum_amount", "minimum_amount_currency"),
    )
    minimum = given.get("minimum_amount")
    currency = as_str(given.get("minimum_amount_currency"), "restrictions[minimum_amount_currency]")
    if minimum not in (None, "") and currency is None:
        raise FakeError(
            400,
            "Missing required param: restrictions[minimum_amount_currency].",
            code="parameter_missing",
            param="restrictions[minimum_amount_currency]",
        )
    return {
        "currency_options": {},
        "first_time_transaction": as_bool(
            given.get("first_time_transaction", False), "restrictions[first_time_transaction]"
        ),
        "minimum_amount": None
        if minimum in (None, "")
        else as_int(minimum, "restrictions[minimum_amount]", minimum=1),
        "minimum_amount_currency": currency.lower() if currency else None,
    }


def _promotion(ctx: Ctx, value: Any) -> JsonDict:
    given = as_dict(require({"promotion": value}, "promotion"), "promotion") or {}
    check_known(given, ("type", "coupon"))
    as_enum(require(given, "type"), "promotion[type]", ("coupon",))
    coupon_id = str(require(given, "coupon"))
    coupon = ctx.store.get("coupon", coupon_id, param="promotion[coupon]")
    if not refresh_validity(ctx.store, coupon):
        raise FakeError(400, f"Coupon {coupon_id} is no longer valid.", param="promotion[coupon]")
    return {"coupon": coupon_id, "type": "coupon"}


def _check_code_free(store: Store, code: str) -> None:
    for other in store.objects["promotion_code"].values():
        if other["active"] and other["code"].lower() == code.lower():
            raise FakeError(
                400,
                "An active promotion code with `code` already exists.",
                code="resource_already_exists",
                param="code",
            )


def create_promotion_code(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``POST /v1/promotion_codes`` (``promotion[type]=coupon&promotion[coupon]=...``)."""
    check_known(params, PROMOTION_CODE_CREATE_PARAMS)
    promotion = _promotion(ctx, params.get("promotion"))
    code = as_str(params.get("code"), "code") or ctx.store.random_code(8)
    if not _CODE.match(code):
        raise FakeError(400, "Invalid promotion code.", param="code")
    _check_code_free(ctx.store, code)
    customer_id = as_str(params.get("customer"), "customer")
    if customer_id is not None:
        ctx.store.get("customer", customer_id, param="customer")
    coupon = ctx.store.get("coupon", promotion["coupon"])
    max_redemptions = None
    if "max_redemptions" in params:
        max_redemptions = as_int(params["max_redemptions"], "max_redemptions", minimum=1)
        if coupon["max_redemptions"] is not None and max_redemptions > coupon["max_redemptions"]:
            raise FakeError(
                400,
                "max_redemptions cannot be greater than the coupon's max_redemptions.",
                param="max_redemptions",
            )
    expires_at = None
    if params.get("expires_at") not in (None, ""):
        expires_at = as_int(params["expires_at"], "expires_at", minimum=ctx.store.now() + 1)
    promo: JsonDict = {
        "id": ctx.store.new_id("promotion_code"),
        "object": "promotion_code",
        "active": as_bool(params.get("active", True), "active"),
        "code": code,
        "created": ctx.store.now(),
        "customer": customer_id,
        "customer_account": None,
        "expires_at": expires_at,
        "livemode": False,
        "max_redemptions": max_redemptions,
        "metadata": merged_metadata({}, params.get("metadata")),
        "promotion": promotion,
        "restrictions": _restrictions(params.get("restrictions")),
        "times_redeemed": 0,
    }
    ctx.store.insert(promo)
    ctx.emit("promotion_code.created", promo)
    return promo


def retrieve_promotion_code(ctx: Ctx, params: JsonDict, promo_id: str) -> JsonDict:
    """``GET /v1/promotion_codes/{id}``."""
    return ctx.store.get("promotion_code", promo_id)


def update_promotion_code(ctx: Ctx, params: JsonDict, promo_id: str) -> JsonDict:
    """``POST /v1/promotion_codes/{id}`` (``active``, ``metadata``, ``restrictions``)."""
    promo = ctx.store.get("promotion_code", promo_id)
    check_known(params, ("active", "metadata", "restrictions"))
    before = copy.deepcopy(promo)
    if "active" in params:
        active = as_bool(params["active"], "active")
        if active and not promo["active"]:
            _check_code_free(ctx.store, promo["code"])
        promo["active"] = active
    if "metadata" in params:
        promo["metadata"] = merged_metadata(promo["metadata"], params["metadata"])
    restrictions = as_dict(params.get("restrictions"), "restrictions") or {}
    check_known(restrictions, ("currency_options",))
    ctx.emit_update("promotion_code.updated", promo, before)
    return promo


def list_promotion_codes(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/promotion_codes`` (``active``, ``code``, ``coupon``, ``customer``)."""
    check_known(
        params,
        (
            "active",
            "code",
            "coupon",
            "customer",
            "customer_account",
            "created",
            "limit",
            "starting_after",
            "ending_before",
        ),
    )
    active = as_bool(params["active"], "active") if "active" in params else None
    created = created_filter(params)

    def keep(promo: JsonDict) -> bool:
        return (
            (active is None or promo["active"] == active)
            and params.get("code") in (None, promo["code"])
            and params.get("coupon") in (None, promo["promotion"]["coupon"])
            and params.get("customer") in (None, promo["customer"])
            and matches_range(promo["created"], created)
        )

    items = ctx.store.newest_first("promotion_code", keep)
    return paginate(ctx.store, items, params, "/v1/promotion_codes", "promotion_code")
