"""Product and price endpoints of :class:`~.fake.FakeStripe`."""

from __future__ import annotations

import copy
from typing import Any

from stripe_integrations.testing.fake_errors import FakeError
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

_PRODUCT_FIELDS = frozenset(
    {
        "active",
        "description",
        "images",
        "marketing_features",
        "metadata",
        "name",
        "package_dimensions",
        "shippable",
        "statement_descriptor",
        "tax_code",
        "unit_label",
        "url",
    }
)
PRODUCT_CREATE_PARAMS = _PRODUCT_FIELDS | {"id", "default_price_data"}
PRODUCT_UPDATE_PARAMS = _PRODUCT_FIELDS | {"default_price"}

PRICE_CREATE_PARAMS = frozenset(
    {
        "active",
        "billing_scheme",
        "currency",
        "lookup_key",
        "metadata",
        "nickname",
        "product",
        "product_data",
        "recurring",
        "tax_behavior",
        "transfer_lookup_key",
        "unit_amount",
        "unit_amount_decimal",
    }
)
PRICE_UPDATE_PARAMS = frozenset(
    {"active", "lookup_key", "metadata", "nickname", "tax_behavior", "transfer_lookup_key"}
)
_TAX_BEHAVIOURS = ("exclusive", "inclusive", "unspecified")
INTERVALS = ("day", "week", "month", "year")


def _apply_product_fields(product: JsonDict, params: JsonDict) -> None:
    if "name" in params:
        product["name"] = str(require(params, "name"))
    for key in ("description", "statement_descriptor", "tax_code", "unit_label", "url"):
        if key in params:
            product[key] = as_str(params[key], key)
    if "active" in params:
        product["active"] = as_bool(params["active"], "active")
    if "shippable" in params:
        product["shippable"] = (
            None if params["shippable"] == "" else as_bool(params["shippable"], "shippable")
        )
    if "images" in params:
        product["images"] = [str(image) for image in as_list(params["images"], "images")]
    if "marketing_features" in params:
        features = as_list(params["marketing_features"], "marketing_features")
        product["marketing_features"] = [{"name": str(item["name"])} for item in features]
    if "package_dimensions" in params:
        product["package_dimensions"] = as_dict(params["package_dimensions"], "package_dimensions")
    if "metadata" in params:
        product["metadata"] = merged_metadata(product["metadata"], params["metadata"])


def create_product(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``POST /v1/products`` (with ``default_price_data``, a default price is created too)."""
    check_known(params, PRODUCT_CREATE_PARAMS)
    require(params, "name")
    now = ctx.store.now()
    product: JsonDict = {
        "id": ctx.store.new_id("product"),
        "object": "product",
        "active": True,
        "created": now,
        "default_price": None,
        "description": None,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": None,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": now,
        "url": None,
    }
    _apply_product_fields(product, params)
    price_data = as_dict(params.get("default_price_data"), "default_price_data")
    if price_data is not None:
        check_known(price_data, PRICE_CREATE_PARAMS - {"product", "product_data"})
        _new_price(ctx, {**price_data, "product": product["id"]}, check_product=False)
    chosen_id = as_str(params.get("id"), "id")
    if chosen_id is not None and ctx.store.order_of(chosen_id) is not None:
        raise FakeError(400, "Product already exists.", code="resource_already_exists", param="id")
    ctx.store.insert(product)
    if chosen_id is not None:
        ctx.store.rekey(product, chosen_id)
    ctx.emit("product.created", product)
    if price_data is not None:
        price = create_price(ctx, {**price_data, "product": product["id"]})
        product["default_price"] = price["id"]
    return product


def retrieve_product(ctx: Ctx, params: JsonDict, product_id: str) -> JsonDict:
    """``GET /v1/products/{id}``."""
    return ctx.store.get("product", product_id)


def update_product(ctx: Ctx, params: JsonDict, product_id: str) -> JsonDict:
    """``POST /v1/products/{id}``."""
    product = ctx.store.get("product", product_id)
    check_known(params, PRODUCT_UPDATE_PARAMS)
    before = copy.deepcopy(product)
    updated = copy.deepcopy(product)
    _apply_product_fields(updated, params)
    if "default_price" in params:
        price_id = as_str(params["default_price"], "default_price")
        if price_id is not None:
            ctx.store.get("price", price_id, param="default_price")
        updated["default_price"] = price_id
    product.update(updated)
    if product != before:
        product["updated"] = ctx.store.now()
    ctx.emit_update("product.updated", product, before)
    return product


def delete_product(ctx: Ctx, params: JsonDict, product_id: str) -> JsonDict:
    """``DELETE /v1/products/{id}`` (only products without prices, as in Stripe)."""
    check_known(params, ())
    product = ctx.store.get("product", product_id)
    if any(price["product"] == product_id for price in ctx.store.objects["price"].values()):
        raise FakeError(
            400,
            "This product cannot be deleted because it has one or more user-created prices.",
        )
    del ctx.store.objects["product"][product_id]
    stub = {"id": product_id, "object": "product", "deleted": True}
    ctx.store.deleted[product_id] = stub
    ctx.emit("product.deleted", product)
    return stub


def list_products(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/products`` (``active``, ``ids``, ``shippable``, ``created`` filters)."""
    check_known(
        params,
        (
            "active",
            "ids",
            "shippable",
            "url",
            "created",
            "limit",
            "starting_after",
            "ending_before",
        ),
    )
    active = as_bool(params["active"], "active") if "active" in params else None
    ids = set(as_list(params["ids"], "ids")) if "ids" in params else None
    created = created_filter(params)

    def keep(product: JsonDict) -> bool:
        return (
            (active is None or product["active"] == active)
            and (ids is None or product["id"] in ids)
            and matches_range(product["created"], created)
        )

    items = ctx.store.newest_first("product", keep)
    return paginate(ctx.store, items, params, "/v1/products", "product")


def _recurring(value: Any) -> JsonDict | None:
    given = as_dict(value, "recurring")
    if given is None:
        return None
    check_known(given, ("interval", "interval_count", "usage_type", "meter", "trial_period_days"))
    return {
        "interval": as_enum(require(given, "interval"), "recurring[interval]", INTERVALS),
        "interval_count": as_int(
            given.get("interval_count", 1), "recurring[interval_count]", minimum=1
        ),
        "meter": as_str(given.get("meter"), "recurring[meter]"),
        "usage_type": as_enum(
            given.get("usage_type", "licensed"), "recurring[usage_type]", ("licensed", "metered")
        ),
    }


def _claim_lookup_key(ctx: Ctx, price_id: str, params: JsonDict) -> str | None:
    key = as_str(params.get("lookup_key"), "lookup_key")
    if key is None:
        return None
    transfer = as_bool(params.get("transfer_lookup_key", False), "transfer_lookup_key")
    for other in ctx.store.objects["price"].values():
        if other["lookup_key"] == key and other["id"] != price_id:
            if not transfer:
                raise FakeError(
                    400,
                    f"A price ({other['id']}) already uses that lookup key.",
                    param="lookup_key",
                )
            other["lookup_key"] = None
    return key


def _new_price(ctx: Ctx, params: JsonDict, *, check_product: bool = True) -> JsonDict:
    """A validated price, not stored yet."""
    if "product" in params:
        product_id = str(params["product"])
        if check_product:
            ctx.store.get("product", product_id, param="product")
    elif "product_data" not in params:
        raise FakeError(
            400, "Missing required param: product.", code="parameter_missing", param="product"
        )
    else:
        product_id = ""
    amount: int | None
    if "unit_amount" in params:
        amount = as_int(params["unit_amount"], "unit_amount", minimum=0)
        decimal = str(amount)
    elif "unit_amount_decimal" in params:
        decimal = str(params["unit_amount_decimal"])
        try:
            amount = int(float(decimal)) if float(decimal).is_integer() else None
        except ValueError:
            raise FakeError(
                400, f"Invalid decimal: {decimal}", param="unit_amount_decimal"
            ) from None
    else:
        raise FakeError(
            400,
            "Missing required param: unit_amount.",
            code="parameter_missing",
            param="unit_amount",
        )
    recurring = _recurring(params.get("recurring"))
    return {
        "id": ctx.store.new_id("price"),
        "object": "price",
        "active": as_bool(params.get("active", True), "active"),
        "billing_scheme": as_enum(
            params.get("billing_scheme", "per_unit"), "billing_scheme", ("per_unit", "tiered")
        ),
        "created": ctx.store.now(),
        "currency": str(require(params, "currency")).lower(),
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": merged_metadata({}, params.get("metadata")),
        "nickname": as_str(params.get("nickname"), "nickname"),
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": as_enum(
            params.get("tax_behavior", "unspecified"), "tax_behavior", _TAX_BEHAVIOURS
        ),
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": amount,
        "unit_amount_decimal": decimal,
    }


def create_price(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``POST /v1/prices`` (``product`` or ``product_data[name]``)."""
    check_known(params, PRICE_CREATE_PARAMS)
    price = _new_price(ctx, params)
    price["lookup_key"] = _claim_lookup_key(ctx, price["id"], params)
    if "product_data" in params and "product" not in params:
        product_data = as_dict(params["product_data"], "product_data") or {}
        check_known(product_data, _PRODUCT_FIELDS - {"description", "images", "marketing_features"})
        price["product"] = create_product(ctx, product_data)["id"]
    ctx.store.insert(price)
    ctx.emit("price.created", price)
    return price


def inline_price(ctx: Ctx, value: Any, param: str, *, recurring: bool) -> JsonDict:
    """The inactive price a ``price_data`` parameter makes (stored, without an event)."""
    data = as_dict(value, param) or {}
    allowed = ["currency", "product", "tax_behavior", "unit_amount", "unit_amount_decimal"]
    check_known(data, [*allowed, "recurring"] if recurring else allowed)
    require(data, "currency")
    if recurring:
        require(data, "recurring")
    ctx.store.get("product", str(require(data, "product")), param=f"{param}[product]")
    price = _new_price(ctx, {**data, "active": False})
    return ctx.store.insert(price)


def retrieve_price(ctx: Ctx, params: JsonDict, price_id: str) -> JsonDict:
    """``GET /v1/prices/{id}``."""
    return ctx.store.get("price", price_id)


def update_price(ctx: Ctx, params: JsonDict, price_id: str) -> JsonDict:
    """``POST /v1/prices/{id}``."""
    price = ctx.store.get("price", price_id)
    check_known(params, PRICE_UPDATE_PARAMS)
    before = copy.deepcopy(price)
    updated = copy.deepcopy(price)
    if "active" in params:
        updated["active"] = as_bool(params["active"], "active")
    if "nickname" in params:
        updated["nickname"] = as_str(params["nickname"], "nickname")
    if "tax_behavior" in params:
        updated["tax_behavior"] = as_enum(params["tax_behavior"], "tax_behavior", _TAX_BEHAVIOURS)
    if "metadata" in params:
        updated["metadata"] = merged_metadata(price["metadata"], params["metadata"])
    if "lookup_key" in params:
        updated["lookup_key"] = _claim_lookup_key(ctx, price_id, params)
    price.update(updated)
    ctx.emit_update("price.updated", price, before)
    return price


def list_prices(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/prices`` (``active``, ``product``, ``type``, ``currency``, ``lookup_keys``)."""
    check_known(
        params,
        (
            "active",
            "currency",
            "product",
            "type",
            "lookup_keys",
            "recurring",
            "created",
            "limit",
            "starting_after",
            "ending_before",
        ),
    )
    active = as_bool(params["active"], "active") if "active" in params else None
    lookup_keys = (
        set(as_list(params["lookup_keys"], "lookup_keys")) if "lookup_keys" in params else None
    )
    interval = (as_dict(params.get("recurring"), "recurring") or {}).get("interval")
    created = created_filter(params)

    def keep(price: JsonDict) -> bool:
        return (
            (active is None or price["active"] == active)
            and params.get("product") in (None, price["product"])
            and params.get("type") in (None, price["type"])
            and params.get("currency") in (None, price["currency"])
            and (lookup_keys is None or price["lookup_key"] in lookup_keys)
            and (interval is None or (price["recurring"] or {}).get("interval") == interval)
            and matches_range(price["created"], created)
        )

    items = ctx.store.newest_first("price", keep)
    return paginate(ctx.store, items, params, "/v1/prices", "price")
