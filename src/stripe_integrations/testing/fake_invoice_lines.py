"""Invoice lines of :class:`~.fake.FakeStripe` (``line_item`` objects, API ``endive`` shape).

A line says where it came from in ``parent`` (``invoice_item_details`` or
``subscription_item_details``) and what it prices in ``pricing.price_details``.
"""

from __future__ import annotations

import copy
from typing import Any

from stripe_integrations.testing.fake_invoice_totals import money
from stripe_integrations.testing.fake_store import Ctx, JsonDict, Store


def _line_id(store: Store, stored: bool) -> str:
    line_id = store.new_id("line_item")
    return line_id if stored else "il_tmp_" + line_id.removeprefix("il_")[:20]


def _pricing(price: JsonDict | None, unit_amount_decimal: Any) -> JsonDict:
    details = None if price is None else {"price": price["id"], "product": price["product"]}
    return {
        "price_details": details,
        "type": "price_details",
        "unit_amount_decimal": str(unit_amount_decimal),
    }


def _base(store: Store, invoice: JsonDict, *, stored: bool, tax_rates: list[JsonDict]) -> JsonDict:
    line: JsonDict = {
        "id": _line_id(store, stored),
        "object": "line_item",
        "currency": invoice["currency"],
        "discount_amounts": [],
        "invoice": invoice["id"],
        "livemode": False,
        "pretax_credit_amounts": [],
        "taxes": [],
    }
    if tax_rates:
        store.hide(line["id"])["tax_rates"] = copy.deepcopy(tax_rates)
    return line


def item_line(ctx: Ctx, invoice: JsonDict, item: JsonDict, *, stored: bool = True) -> JsonDict:
    """The line of an invoice item."""
    line = _base(ctx.store, invoice, stored=stored, tax_rates=item["tax_rates"] or [])
    fill_item_line(line, item)
    if stored:
        ctx.store.insert(line)
    return line


def fill_item_line(line: JsonDict, item: JsonDict) -> None:
    """Copy an invoice item's current values onto its line."""
    sub_id = (item["parent"] or {}).get("subscription_details", {}).get("subscription")
    line.update(
        amount=item["amount"],
        description=item["description"],
        discountable=item["discountable"],
        discounts=list(item["discounts"] or []),
        metadata=copy.deepcopy(item["metadata"]),
        parent={
            "invoice_item_details": {
                "invoice_item": item["id"],
                "proration": item["proration"],
                "proration_details": {"credited_items": None},
                "subscription": sub_id,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        },
        period=copy.deepcopy(item["period"]),
        pricing=copy.deepcopy(item["pricing"]),
        quantity=item["quantity"],
        subscription=sub_id,
        subtotal=item["amount"],
    )


def subscription_line(
    ctx: Ctx,
    invoice: JsonDict,
    item: JsonDict,
    *,
    period: tuple[int, int],
    trial: bool,
    stored: bool = True,
) -> JsonDict:
    """The line billing one subscription item for ``period`` (free during a trial)."""
    price = item["price"]
    line = _base(ctx.store, invoice, stored=stored, tax_rates=item.get("tax_rates") or [])
    amount = 0 if trial else (price["unit_amount"] or 0) * item["quantity"]
    product = ctx.store.find("product", price["product"]) or {}
    name = product.get("name") or price["product"]
    interval = (price["recurring"] or {}).get("interval", "month")
    unit = money(price["unit_amount"] or 0, price["currency"])
    description = (
        f"Trial period for {name}"
        if trial
        else f"{item['quantity']} \u00d7 {name} (at {unit} / {interval})"
    )
    line.update(
        amount=amount,
        description=description,
        discountable=True,
        discounts=list(item.get("discounts") or []),
        metadata=copy.deepcopy(item["metadata"]),
        parent={
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": item["subscription"],
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
        period={"end": period[1], "start": period[0]},
        pricing=_pricing(price, 0 if trial else price["unit_amount_decimal"]),
        quantity=item["quantity"],
        subscription=item["subscription"],
        subtotal=amount,
    )
    if stored:
        ctx.store.insert(line)
    return line


def item_pricing(price: JsonDict | None, unit_amount_decimal: Any) -> JsonDict:
    """An invoice item's ``pricing`` hash."""
    return _pricing(price, unit_amount_decimal)


def sync_item_lines(ctx: Ctx, invoice: JsonDict) -> None:
    """Rebuild the invoice item lines of a draft from the items attached to it."""
    items = ctx.store.newest_first("invoiceitem", lambda ii: ii["invoice"] == invoice["id"])[::-1]
    lines: list[JsonDict] = invoice["lines"]["data"]
    by_item = {
        line["parent"]["invoice_item_details"]["invoice_item"]: line
        for line in lines
        if line["parent"]["type"] == "invoice_item_details"
    }
    item_lines = []
    for item in items:
        line = by_item.pop(item["id"], None)
        if line is None:
            line = item_line(ctx, invoice, item)
        else:
            fill_item_line(line, item)
            ctx.store.hide(line["id"])["tax_rates"] = copy.deepcopy(item["tax_rates"] or [])
        item_lines.append(line)
    for stale in by_item.values():
        ctx.store.objects["line_item"].pop(stale["id"], None)
    others = [line for line in lines if line["parent"]["type"] != "invoice_item_details"]
    invoice["lines"]["data"] = item_lines + others
    invoice["lines"]["total_count"] = len(invoice["lines"]["data"])
