"""``POST /v1/invoices/create_preview`` of :class:`~.fake.FakeStripe` (``Invoice.upcoming``'s
successor): an invoice that is computed, never stored, whose id starts ``upcoming_in_``.

With ``subscription`` it previews that subscription's next period (after
``subscription_details[items]`` changes are applied; nothing is prorated); with only
``subscription_details[items]`` it previews a new subscription's first invoice. The
customer's pending invoice items and ``invoice_items`` are added, ``discounts`` replace the
default ones. Nothing to bill answers 404 ``invoice_upcoming_none``.
"""

from __future__ import annotations

import copy
from typing import Any

from stripe_integrations.testing import (
    fake_billing,
    fake_discounts,
    fake_invoice_items,
    fake_invoice_lines,
    fake_subscription_invoices,
)
from stripe_integrations.testing.fake_errors import FakeError
from stripe_integrations.testing.fake_invoices import new_invoice, recompute, subscription_of
from stripe_integrations.testing.fake_params import as_bool, as_dict, as_list, as_str, check_known
from stripe_integrations.testing.fake_store import Ctx, JsonDict

PREVIEW_PARAMS = (
    "currency",
    "customer",
    "discounts",
    "invoice_items",
    "preview_mode",
    "subscription",
    "subscription_details",
)
_DETAILS = (
    "billing_cycle_anchor",
    "cancel_at",
    "cancel_at_period_end",
    "cancel_now",
    "default_tax_rates",
    "items",
    "metadata",
    "proration_behavior",
    "proration_date",
    "resume_at",
    "start_date",
    "trial_end",
)


def _next_period_sub(ctx: Ctx, sub: JsonDict, details: JsonDict) -> JsonDict:
    draft = copy.deepcopy(sub)
    draft["status"] = "active"
    if "items" in details:
        fake_billing.edit_items(ctx, draft, details["items"], "subscription_details[items]")
    for item in draft["items"]["data"]:
        start = item["current_period_end"]
        item["current_period_start"] = start
        item["current_period_end"] = fake_billing.period_end(item["price"], start)
    return draft


def _new_sub(ctx: Ctx, customer: JsonDict, details: JsonDict) -> JsonDict:
    draft: JsonDict = {
        "id": None,
        "collection_method": "charge_automatically",
        "currency": None,
        "customer": customer["id"],
        "days_until_due": None,
        "description": None,
        "discounts": [],
        "items": {"object": "list", "data": [], "total_count": 0},
        "metadata": {},
        "status": "active",
        "trial_end": None,
    }
    fake_billing.edit_items(ctx, draft, details["items"], "subscription_details[items]")
    draft["currency"] = draft["items"]["data"][0]["price"]["currency"]
    return draft


def _ends(details: JsonDict) -> bool:
    return any(
        as_bool(details.get(key, False), f"subscription_details[{key}]")
        for key in ("cancel_at_period_end", "cancel_now")
    )


def _extra_items(ctx: Ctx, customer: JsonDict, raw: Any, currency: str) -> list[JsonDict]:
    items = []
    for index, entry in enumerate(as_list(raw, "invoice_items")):
        given = dict(as_dict(entry, f"invoice_items[{index}]") or {})
        check_known(
            given,
            (
                "amount",
                "currency",
                "description",
                "discountable",
                "metadata",
                "period",
                "price",
                "price_data",
                "quantity",
                "tax_rates",
                "unit_amount_decimal",
            ),
        )
        if "price" in given:
            given["pricing"] = {"price": given.pop("price")}
        given.setdefault("currency", currency)
        item: JsonDict = {
            "id": "ii_preview_" + str(index),
            "amount": 0,
            "currency": str(given["currency"]).lower(),
            "customer": customer["id"],
            "description": None,
            "discountable": True,
            "discounts": [],
            "metadata": {},
            "net_amount": None,
            "parent": None,
            "pricing": None,
            "proration": False,
            "quantity": 1,
            "quantity_decimal": "1",
            "tax_rates": [],
            "period": {"end": ctx.store.now(), "start": ctx.store.now()},
        }
        fake_invoice_items.apply_params(
            ctx, item, {k: v for k, v in given.items() if k != "currency"}
        )
        items.append(item)
    return items


def create_preview(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``POST /v1/invoices/create_preview``."""
    check_known(params, PREVIEW_PARAMS)
    sub_id = as_str(params.get("subscription"), "subscription")
    sub = ctx.store.get("subscription", sub_id, param="subscription") if sub_id else None
    customer_id = as_str(params.get("customer"), "customer") or (sub or {}).get("customer")
    if customer_id is None:
        raise FakeError(
            400, "Missing required param: customer.", code="parameter_missing", param="customer"
        )
    customer = ctx.store.get("customer", customer_id, param="customer")
    details = as_dict(params.get("subscription_details"), "subscription_details") or {}
    check_known(details, _DETAILS)
    draft = None
    if sub is not None and sub["status"] != "canceled" and not _ends(details):
        draft = _next_period_sub(ctx, sub, details)
    elif sub is None and details.get("items"):
        draft = _new_sub(ctx, customer, details)
    if draft is not None:
        invoice = fake_subscription_invoices.build(ctx, draft, reason="upcoming", stored=False)
        if sub is None:
            invoice["parent"] = None
    else:
        currency = as_str(params.get("currency"), "currency") or customer["currency"] or "usd"
        invoice = new_invoice(
            ctx, customer, currency=currency, billing_reason="upcoming", stored=False
        )
    pending = [
        item
        for item in ctx.store.newest_first("invoiceitem")[::-1]
        if item["customer"] == customer["id"]
        and item["invoice"] is None
        and item["currency"] == invoice["currency"]
        and (item["parent"] or {}).get("subscription_details", {}).get("subscription")
        == subscription_of(invoice)
    ]
    extra = _extra_items(ctx, customer, params.get("invoice_items"), invoice["currency"])
    item_lines = [
        fake_invoice_lines.item_line(ctx, invoice, item, stored=False) for item in pending + extra
    ]
    invoice["lines"]["data"] = item_lines + invoice["lines"]["data"]
    invoice["lines"]["total_count"] = len(invoice["lines"]["data"])
    if not invoice["lines"]["data"]:
        raise FakeError(
            404,
            f"No upcoming invoices for customer: {customer['id']}",
            code="invoice_upcoming_none",
        )
    if "discounts" not in params:
        return recompute(ctx, invoice)
    specs = fake_discounts.parse(ctx, params["discounts"], "discounts", customer["id"])
    invoice["discounts"] = fake_discounts.create(ctx, specs, customer=customer["id"])
    try:
        return recompute(ctx, invoice)
    finally:
        fake_discounts.undo(ctx.store, specs, invoice["discounts"])
