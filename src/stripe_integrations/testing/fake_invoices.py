"""Invoice endpoints of :class:`~.fake.FakeStripe`: create, retrieve, update, list, delete
and lines (finalizing and paying are in :mod:`.fake_invoice_payments`).

Shaped like API version ``2026-10-28.endive``: a subscription invoice names its subscription
in ``parent.subscription_details.subscription``; the PaymentIntent is reached through the
``payments`` list (``payments.data[].payment.payment_intent``) and its client secret through
``confirmation_secret`` — both left out unless expanded, as in Stripe. ``auto_advance``
defaults to false and ``pending_invoice_items_behavior`` to ``exclude``.
"""

from __future__ import annotations

import copy
from typing import Any

from stripe_integrations.testing import fake_discounts, fake_invoice_lines, fake_tax_rates
from stripe_integrations.testing.fake_errors import FakeError
from stripe_integrations.testing.fake_invoice_totals import compute
from stripe_integrations.testing.fake_params import (
    as_bool,
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
from stripe_integrations.testing.fake_store import Ctx, JsonDict, Store, list_object, paginate

_EDITABLE = frozenset(
    {
        "auto_advance",
        "automatically_finalizes_at",
        "collection_method",
        "custom_fields",
        "days_until_due",
        "default_payment_method",
        "default_tax_rates",
        "description",
        "discounts",
        "due_date",
        "footer",
        "metadata",
        "statement_descriptor",
    }
)
INVOICE_CREATE_PARAMS = _EDITABLE | {
    "currency",
    "customer",
    "pending_invoice_items_behavior",
    "subscription",
}
#: What a finalized invoice still lets change.
_FINALIZED_EDITABLE = frozenset(
    {"auto_advance", "custom_fields", "default_payment_method", "description", "footer", "metadata"}
)
STATUSES = ("draft", "open", "paid", "uncollectible", "void")


def new_invoice(
    ctx: Ctx,
    customer: JsonDict,
    *,
    currency: str,
    billing_reason: str,
    subscription: JsonDict | None = None,
    stored: bool = True,
) -> JsonDict:
    """A draft invoice with Stripe's defaults and no lines (stored only when ``stored``)."""
    now = ctx.store.now()
    invoice_id = ctx.store.new_id("invoice")
    if not stored:
        invoice_id = "upcoming_in_" + invoice_id.removeprefix("in_")
    parent = None
    if subscription is not None:
        parent = {
            "quote_details": None,
            "subscription_details": {
                "metadata": copy.deepcopy(subscription["metadata"]),
                "subscription": subscription["id"],
                "subscription_proration_date": None,
            },
            "type": "subscription_details",
        }
    invoice: JsonDict = {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "FakeStripe",
        "account_tax_ids": None,
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_paid_off_stripe": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": False,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": now,
        "currency": currency,
        "custom_fields": copy.deepcopy(customer["invoice_settings"]["custom_fields"]),
        "customer": customer["id"],
        "customer_account": None,
        "customer_address": copy.deepcopy(customer["address"]),
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": customer["phone"],
        "customer_shipping": copy.deepcopy(customer["shipping"]),
        "customer_tax_exempt": customer["tax_exempt"],
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": default_discounts(ctx.store, customer, subscription),
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "footer": customer["invoice_settings"]["footer"],
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": parent,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": now,
        "period_start": now,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": customer["balance"],
        "statement_descriptor": None,
        "status": "draft",
        "status_details": None,
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "test_clock": customer["test_clock"],
        "threshold_reason": None,
        "total": 0,
        "total_discount_amounts": [],
        "total_excluding_tax": 0,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
    }
    if stored:
        ctx.store.insert(invoice)
    return invoice


def default_discounts(store: Store, customer: JsonDict, sub: JsonDict | None) -> list[str]:
    """A subscription's discounts, else the customer's, when they still apply."""
    own = [d for d in (sub or {}).get("discounts", []) if fake_discounts.usable(store, d, None)]
    if own:
        return own
    discount = customer["discount"]
    if discount is not None and fake_discounts.usable(store, discount["id"], None):
        return [discount["id"]]
    return []


def recompute(ctx: Ctx, invoice: JsonDict) -> JsonDict:
    """Refresh a draft's invoice item lines and every total."""
    if invoice["status"] == "draft":
        if ctx.store.find("invoice", invoice["id"]) is not None:
            fake_invoice_lines.sync_item_lines(ctx, invoice)
        customer = ctx.store.find("customer", invoice["customer"])
        invoice["starting_balance"] = customer["balance"] if customer else 0
    return compute(ctx.store, invoice)


def _apply_params(ctx: Ctx, invoice: JsonDict, params: JsonDict) -> None:
    if "collection_method" in params:
        invoice["collection_method"] = as_enum(
            params["collection_method"],
            "collection_method",
            ("charge_automatically", "send_invoice"),
        )
    if "auto_advance" in params:
        invoice["auto_advance"] = as_bool(params["auto_advance"], "auto_advance")
    for key in ("description", "footer", "statement_descriptor"):
        if key in params:
            invoice[key] = as_str(params[key], key)
    if "metadata" in params:
        invoice["metadata"] = merged_metadata(invoice["metadata"], params["metadata"])
    if "custom_fields" in params:
        fields = as_list(params["custom_fields"], "custom_fields")
        invoice["custom_fields"] = [
            {"name": str(field["name"]), "value": str(field["value"])} for field in fields
        ] or None
    if "default_payment_method" in params:
        pm_id = as_str(params["default_payment_method"], "default_payment_method")
        if pm_id is not None:
            ctx.store.get("payment_method", pm_id, param="default_payment_method")
        invoice["default_payment_method"] = pm_id
    if "default_tax_rates" in params:
        invoice["default_tax_rates"] = fake_tax_rates.tax_rates(
            ctx, params["default_tax_rates"], "default_tax_rates"
        )
    _due(ctx, invoice, params)
    if "discounts" in params:
        specs = fake_discounts.parse(ctx, params["discounts"], "discounts", invoice["customer"])
        invoice["discounts"] = fake_discounts.create(
            ctx, specs, customer=invoice["customer"], invoice=invoice["id"]
        )


def _due(ctx: Ctx, invoice: JsonDict, params: JsonDict) -> None:
    sends = invoice["collection_method"] == "send_invoice"
    for key in ("days_until_due", "due_date"):
        if params.get(key) not in (None, "") and not sends:
            raise FakeError(
                400,
                f"The {key} parameter is only valid for invoices with "
                "collection_method=send_invoice.",
                param=key,
            )
    if params.get("due_date") not in (None, ""):
        invoice["due_date"] = as_int(params["due_date"], "due_date", minimum=ctx.store.now())
    elif params.get("days_until_due") not in (None, ""):
        days = as_int(params["days_until_due"], "days_until_due", minimum=0)
        invoice["due_date"] = invoice["created"] + days * 86_400
    if sends and invoice["due_date"] is None:
        raise FakeError(
            400,
            "Invoices with collection_method=send_invoice need days_until_due or due_date.",
            code="parameter_missing",
            param="days_until_due",
        )
    if not sends:
        invoice["due_date"] = None
    if invoice["auto_advance"] and invoice["status"] == "draft":
        invoice["automatically_finalizes_at"] = as_int(
            params.get("automatically_finalizes_at", invoice["created"] + 3600),
            "automatically_finalizes_at",
        )
    else:
        invoice["automatically_finalizes_at"] = None


def create_invoice(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``POST /v1/invoices``: pending items join only with
    ``pending_invoice_items_behavior=include``."""
    check_known(params, INVOICE_CREATE_PARAMS)
    customer = ctx.store.get("customer", str(require(params, "customer")), param="customer")
    sub = None
    if params.get("subscription") not in (None, ""):
        sub = ctx.store.get("subscription", str(params["subscription"]), param="subscription")
        if sub["customer"] != customer["id"]:
            raise FakeError(
                400, "The subscription belongs to another customer.", param="subscription"
            )
    behaviour = as_enum(
        params.get("pending_invoice_items_behavior", "exclude"),
        "pending_invoice_items_behavior",
        ("exclude", "include"),
    )
    sub_id = sub["id"] if sub else None
    pending = [
        item
        for item in ctx.store.newest_first("invoiceitem")[::-1]
        if item["customer"] == customer["id"]
        and item["invoice"] is None
        and (item["parent"] or {}).get("subscription_details", {}).get("subscription") == sub_id
    ]
    currency = as_str(params.get("currency"), "currency")
    currency = currency or customer["currency"] or (pending[0]["currency"] if pending else "usd")
    invoice = new_invoice(
        ctx, customer, currency=currency.lower(), billing_reason="manual", subscription=sub
    )
    try:
        _apply_params(ctx, invoice, params)
    except FakeError:
        ctx.store.objects["invoice"].pop(invoice["id"])
        raise
    if behaviour == "include":
        for item in pending:
            if item["currency"] == invoice["currency"]:
                item["invoice"] = invoice["id"]
    recompute(ctx, invoice)
    ctx.emit("invoice.created", invoice)
    return invoice


def retrieve_invoice(ctx: Ctx, params: JsonDict, invoice_id: str) -> JsonDict:
    """``GET /v1/invoices/{id}``."""
    return ctx.store.get("invoice", invoice_id)


def update_invoice(ctx: Ctx, params: JsonDict, invoice_id: str) -> JsonDict:
    """``POST /v1/invoices/{id}`` (a finalized invoice keeps most fields)."""
    invoice = ctx.store.get("invoice", invoice_id)
    check_known(params, _EDITABLE)
    if invoice["status"] != "draft":
        frozen = sorted(set(params) - _FINALIZED_EDITABLE - {"expand"})
        if frozen:
            raise FakeError(
                400,
                f"Finalized invoices can't be updated in this way ({', '.join(frozen)}).",
                param=frozen[0],
            )
    before = copy.deepcopy(invoice)
    updated = copy.deepcopy(invoice)
    _apply_params(ctx, updated, params)
    invoice.update(updated)
    recompute(ctx, invoice)
    ctx.emit_update("invoice.updated", invoice, before)
    return invoice


def delete_invoice(ctx: Ctx, params: JsonDict, invoice_id: str) -> JsonDict:
    """``DELETE /v1/invoices/{id}``: drafts not made by a subscription; items become pending."""
    check_known(params, ())
    invoice = ctx.store.get("invoice", invoice_id)
    if invoice["status"] != "draft" or invoice["billing_reason"] != "manual":
        raise FakeError(
            400,
            "You can only delete draft invoices that are not for a subscription. "
            "Void this invoice instead.",
            code="invoice_not_editable",
        )
    for item in ctx.store.objects["invoiceitem"].values():
        if item["invoice"] == invoice_id:
            item["invoice"] = None
    for line in invoice["lines"]["data"]:
        ctx.store.objects["line_item"].pop(line["id"], None)
    del ctx.store.objects["invoice"][invoice_id]
    stub = {"id": invoice_id, "object": "invoice", "deleted": True}
    ctx.store.deleted[invoice_id] = stub
    ctx.emit("invoice.deleted", invoice)
    return stub


def list_invoices(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/invoices`` (``customer``, ``status``, ``subscription``, ``created``, ...)."""
    check_known(
        params,
        (
            "collection_method",
            "created",
            "customer",
            "customer_account",
            "due_date",
            "status",
            "subscription",
            "limit",
            "starting_after",
            "ending_before",
        ),
    )
    if params.get("status") not in (None, ""):
        as_enum(params["status"], "status", STATUSES)
    created = created_filter(params)
    due = created_filter(params, "due_date")

    def keep(invoice: JsonDict) -> bool:
        sub_id = subscription_of(invoice)
        return (
            params.get("customer") in (None, invoice["customer"])
            and params.get("status") in (None, "", invoice["status"])
            and params.get("subscription") in (None, sub_id)
            and params.get("collection_method") in (None, invoice["collection_method"])
            and matches_range(invoice["created"], created)
            and (
                not due
                or (invoice["due_date"] is not None and matches_range(invoice["due_date"], due))
            )
        )

    items = ctx.store.newest_first("invoice", keep)
    return paginate(ctx.store, items, params, "/v1/invoices", "invoice")


def subscription_of(invoice: JsonDict) -> str | None:
    """The id in ``parent.subscription_details.subscription``, if any."""
    details = (invoice["parent"] or {}).get("subscription_details") or {}
    sub_id: str | None = details.get("subscription")
    return sub_id


def list_lines(ctx: Ctx, params: JsonDict, invoice_id: str) -> JsonDict:
    """``GET /v1/invoices/{id}/lines``, in invoice order."""
    check_known(params, ("limit", "starting_after", "ending_before"))
    invoice = ctx.store.get("invoice", invoice_id)
    return page_in_order(invoice["lines"]["data"], params, f"/v1/invoices/{invoice_id}/lines")


def page_in_order(items: list[JsonDict], params: JsonDict, url: str) -> JsonDict:
    """One page of a list kept in its own order (``starting_after``/``ending_before``)."""
    limit = as_int(params.get("limit", 10), "limit", minimum=1)
    ids = [item["id"] for item in items]
    start, end = 0, len(items)
    for key in ("starting_after", "ending_before"):
        cursor: Any = params.get(key)
        if cursor:
            if cursor not in ids:
                raise FakeError(404, f"No such line item: '{cursor}'", param=key)
            if key == "starting_after":
                start = ids.index(cursor) + 1
            else:
                end = ids.index(cursor)
                start = max(0, end - limit)
    page = items[start:end][:limit]
    more = start + len(page) < end if not params.get("ending_before") else start > 0
    return list_object(copy.deepcopy(page), url, has_more=more)
