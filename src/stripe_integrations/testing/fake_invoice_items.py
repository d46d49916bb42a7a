"""Invoice item endpoints of :class:`~.fake.FakeStripe` (``invoiceitem`` objects).

Shaped like API version ``2026-10-28.endive``: the price is in ``pricing.price_details``
(``pricing[price]`` or ``price_data`` when creating; ``amount`` alone leaves
``price_details`` null) and a subscription in ``parent.subscription_details``. An item
without ``invoice`` is pending until an invoice includes it.
"""

from __future__ import annotations

import copy
from decimal import Decimal, InvalidOperation
from typing import Any

from stripe_integrations.testing import (
    fake_catalog,
    fake_discounts,
    fake_invoice_lines,
    fake_invoices,
    fake_tax_rates,
)
from stripe_integrations.testing.fake_errors import FakeError
from stripe_integrations.testing.fake_params import (
    as_bool,
    as_dict,
    as_int,
    as_str,
    check_known,
    created_filter,
    matches_range,
    merged_metadata,
    require,
)
from stripe_integrations.testing.fake_store import Ctx, JsonDict, paginate

_PRICING = ("amount", "price_data", "pricing", "unit_amount_decimal")
_EDITABLE = frozenset(
    {
        *_PRICING,
        "description",
        "discountable",
        "discounts",
        "metadata",
        "period",
        "quantity",
        "tax_behavior",
        "tax_code",
        "tax_rates",
    }
)
INVOICE_ITEM_CREATE_PARAMS = _EDITABLE | {"currency", "customer", "invoice", "subscription"}


def _decimal(value: Any, param: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise FakeError(400, f"Invalid decimal: {value}", param=param) from None


def _price_from(ctx: Ctx, params: JsonDict) -> JsonDict | None:
    if "price_data" in params:
        return fake_catalog.inline_price(ctx, params["price_data"], "price_data", recurring=False)
    pricing = as_dict(params.get("pricing"), "pricing")
    if pricing is None:
        return None
    check_known(pricing, ("price",))
    price = ctx.store.get("price", str(require(pricing, "price")), param="pricing[price]")
    if price["type"] != "one_time":
        raise FakeError(
            400,
            "The price specified is set to `type=recurring` but this field only accepts prices "
            "with `type=one_time`.",
            param="pricing[price]",
        )
    return price


def _apply_pricing(ctx: Ctx, item: JsonDict, params: JsonDict) -> None:
    given = [key for key in _PRICING if key in params]
    if len(given) > 1:
        raise FakeError(
            400,
            f"You may only specify one of these parameters: {', '.join(given)}.",
            param=given[1],
        )
    if "quantity" in params:
        item["quantity"] = as_int(params["quantity"], "quantity", minimum=0)
        item["quantity_decimal"] = str(item["quantity"])
    price = _price_from(ctx, params)
    if price is not None:
        item["currency"] = price["currency"]
        unit = _decimal(price["unit_amount_decimal"], "pricing[price]")
        item["pricing"] = fake_invoice_lines.item_pricing(price, price["unit_amount_decimal"])
    elif "unit_amount_decimal" in params:
        unit = _decimal(params["unit_amount_decimal"], "unit_amount_decimal")
        item["pricing"] = fake_invoice_lines.item_pricing(None, unit)
    elif "amount" in params:
        amount = as_int(params["amount"], "amount")
        unit = Decimal(amount) / (item["quantity"] or 1)
        item["pricing"] = fake_invoice_lines.item_pricing(None, format(unit.normalize(), "f"))
        item["amount"] = amount
        return
    else:
        unit = _decimal((item["pricing"] or {}).get("unit_amount_decimal") or 0, "quantity")
    item["amount"] = int((unit * item["quantity"]).to_integral_value())


def apply_params(ctx: Ctx, item: JsonDict, params: JsonDict) -> None:
    """Apply the pricing, text, period, tax and discount parameters to an invoice item."""
    _apply_pricing(ctx, item, params)
    if "description" in params:
        item["description"] = as_str(params["description"], "description")
    if "metadata" in params:
        item["metadata"] = merged_metadata(item["metadata"], params["metadata"])
    if "discountable" in params:
        item["discountable"] = as_bool(params["discountable"], "discountable")
    item["net_amount"] = None if item["discountable"] else item["amount"]
    if "period" in params:
        period = as_dict(params["period"], "period") or {}
        check_known(period, ("start", "end"))
        start = as_int(require(period, "start"), "period[start]")
        end = as_int(require(period, "end"), "period[end]")
        if end < start:
            raise FakeError(400, "period[end] must be after period[start].", param="period[end]")
        item["period"] = {"end": end, "start": start}
    if "tax_rates" in params:
        item["tax_rates"] = fake_tax_rates.tax_rates(ctx, params["tax_rates"], "tax_rates")
    if "discounts" in params:
        specs = fake_discounts.parse(ctx, params["discounts"], "discounts", item["customer"])
        item["discounts"] = fake_discounts.create(
            ctx, specs, customer=item["customer"], invoice_item=item["id"]
        )


def _editable_invoice(ctx: Ctx, item: JsonDict) -> JsonDict | None:
    if item["invoice"] is None:
        return None
    invoice = ctx.store.get("invoice", item["invoice"])
    if invoice["status"] != "draft":
        raise FakeError(
            400,
            f"This invoice item is on a finalized invoice ({invoice['id']}) and can no longer be "
            "changed.",
            code="invoice_not_editable",
        )
    return invoice


def create_invoice_item(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``POST /v1/invoiceitems`` (``amount``+``currency``, ``pricing[price]`` or ``price_data``)."""
    check_known(params, INVOICE_ITEM_CREATE_PARAMS)
    customer = ctx.store.get("customer", str(require(params, "customer")), param="customer")
    if not any(key in params for key in _PRICING):
        raise FakeError(
            400, "Missing required param: amount.", code="parameter_missing", param="amount"
        )
    invoice = None
    if params.get("invoice") not in (None, ""):
        invoice = ctx.store.get("invoice", str(params["invoice"]), param="invoice")
        if invoice["customer"] != customer["id"] or invoice["status"] != "draft":
            raise FakeError(
                400,
                "Invoice items can only be added to a draft invoice of the same customer.",
                param="invoice",
            )
    parent = None
    if params.get("subscription") not in (None, ""):
        sub = ctx.store.get("subscription", str(params["subscription"]), param="subscription")
        if sub["customer"] != customer["id"]:
            raise FakeError(
                400, "The subscription belongs to another customer.", param="subscription"
            )
        parent = {
            "subscription_details": {"subscription": sub["id"], "subscription_item": None},
            "type": "subscription_details",
        }
    now = ctx.store.now()
    currency = as_str(params.get("currency"), "currency")
    item: JsonDict = {
        "id": ctx.store.new_id("invoiceitem"),
        "object": "invoiceitem",
        "amount": 0,
        "currency": (
            currency or (invoice or {}).get("currency") or customer["currency"] or ""
        ).lower(),
        "customer": customer["id"],
        "customer_account": None,
        "date": now,
        "description": None,
        "discountable": True,
        "discounts": [],
        "invoice": invoice["id"] if invoice else None,
        "livemode": False,
        "metadata": {},
        "net_amount": None,
        "parent": parent,
        "period": {"end": now, "start": now},
        "pricing": None,
        "proration": False,
        "proration_details": {"credited_items": None, "discount_amounts": []},
        "quantity": 1,
        "quantity_decimal": "1",
        "tax_rates": [],
        "test_clock": customer["test_clock"],
    }
    if "amount" in params and as_int(params["amount"], "amount") < 0:
        item["discountable"] = False
    apply_params(ctx, item, params)
    if not item["currency"]:
        raise FakeError(
            400, "Missing required param: currency.", code="parameter_missing", param="currency"
        )
    if invoice is not None and item["currency"] != invoice["currency"]:
        raise FakeError(400, "The currency must match the invoice's currency.", param="currency")
    ctx.store.insert(item)
    if customer["currency"] is None:
        customer["currency"] = item["currency"]
    ctx.emit("invoiceitem.created", item)
    if invoice is not None:
        fake_invoices.recompute(ctx, invoice)
    return item


def retrieve_invoice_item(ctx: Ctx, params: JsonDict, item_id: str) -> JsonDict:
    """``GET /v1/invoiceitems/{id}``."""
    return ctx.store.get("invoiceitem", item_id)


def update_invoice_item(ctx: Ctx, params: JsonDict, item_id: str) -> JsonDict:
    """``POST /v1/invoiceitems/{id}`` (pending items and items of draft invoices)."""
    item = ctx.store.get("invoiceitem", item_id)
    check_known(params, _EDITABLE | {"invoicing_rules"})
    invoice = _editable_invoice(ctx, item)
    before = copy.deepcopy(item)
    updated = copy.deepcopy(item)
    apply_params(ctx, updated, params)
    item.update(updated)
    ctx.emit_update("invoiceitem.updated", item, before)
    if invoice is not None:
        fake_invoices.recompute(ctx, invoice)
    return item


def delete_invoice_item(ctx: Ctx, params: JsonDict, item_id: str) -> JsonDict:
    """``DELETE /v1/invoiceitems/{id}`` (pending items and items of draft invoices)."""
    check_known(params, ())
    item = ctx.store.get("invoiceitem", item_id)
    invoice = _editable_invoice(ctx, item)
    del ctx.store.objects["invoiceitem"][item_id]
    stub = {"id": item_id, "object": "invoiceitem", "deleted": True}
    ctx.store.deleted[item_id] = stub
    ctx.emit("invoiceitem.deleted", item)
    if invoice is not None:
        fake_invoices.recompute(ctx, invoice)
    return stub


def list_invoice_items(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/invoiceitems`` (``customer``, ``invoice``, ``pending``, ``created``)."""
    check_known(
        params,
        (
            "created",
            "customer",
            "customer_account",
            "invoice",
            "pending",
            "limit",
            "starting_after",
            "ending_before",
        ),
    )
    pending = as_bool(params["pending"], "pending") if "pending" in params else None
    created = created_filter(params)

    def keep(item: JsonDict) -> bool:
        return (
            params.get("customer") in (None, item["customer"])
            and params.get("invoice") in (None, item["invoice"])
            and (pending is None or (item["invoice"] is None) == pending)
            and matches_range(item["date"], created)
        )

    items = ctx.store.newest_first("invoiceitem", keep)
    return paginate(ctx.store, items, params, "/v1/invoiceitems", "invoiceitem")
