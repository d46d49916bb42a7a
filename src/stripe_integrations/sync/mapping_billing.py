"""Stripe object -> model fields for the billing objects (products to refunds).

Same rules as :mod:`stripe_integrations.sync.mapping`: plain dicts of any accepted API
version in, model attributes out, nothing raises on an unexpected shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from stripe_integrations.sync.columns import Unrepresentable, fits
from stripe_integrations.sync.mapping import (
    Fields,
    as_int,
    as_json,
    as_str,
    common_fields,
    list_data,
    ref_id,
    ts,
)


def as_decimal(value: Any) -> Decimal | Unrepresentable | None:
    """A Decimal from a number or numeric string (its shortest exact form), None when
    absent; an :class:`~stripe_integrations.sync.columns.Unrepresentable` otherwise. A
    non-finite one is returned for the column's check to refuse."""
    if value is None:
        return None
    if type(value) not in (int, float, str):
        return Unrepresentable(value, "not a number")
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Unrepresentable(value, "not a number")


def _sub(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


@fits("Product")
def product_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of a product."""
    return {
        **common_fields(obj),
        "name": as_str(obj.get("name")),
        "description": as_str(obj.get("description")),
        "active": as_json(obj.get("active"), bool),
        "type": as_str(obj.get("type")),
        "default_price": ref_id(obj.get("default_price")),
        "unit_label": as_str(obj.get("unit_label")),
        "url": as_str(obj.get("url")),
        "tax_code": ref_id(obj.get("tax_code")),
        "images": as_json(obj.get("images"), list),
        "updated": ts(obj.get("updated")),
        "is_deleted": obj.get("deleted") is True,
    }


@fits("Price")
def price_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of a price (or a legacy plan: ``amount``, ``interval`` at the top)."""
    recurring = _sub(obj, "recurring")
    is_plan = obj.get("object") == "plan"
    unit_amount = obj.get("unit_amount", obj.get("amount") if is_plan else None)
    interval = recurring.get("interval") or (obj.get("interval") if is_plan else None)
    count = recurring.get("interval_count") or (obj.get("interval_count") if is_plan else None)
    decimal = obj.get("unit_amount_decimal", obj.get("amount_decimal"))
    return {
        **common_fields(obj),
        "product_id": ref_id(obj.get("product")),
        "active": as_json(obj.get("active"), bool),
        "currency": as_str(obj.get("currency")),
        "unit_amount": as_int(unit_amount),
        "unit_amount_decimal": as_str(decimal),
        "type": as_str(obj.get("type") or ("recurring" if is_plan else None)),
        "billing_scheme": as_str(obj.get("billing_scheme")),
        "recurring_interval": as_str(interval),
        "recurring_interval_count": as_int(count),
        "recurring_usage_type": as_str(
            recurring.get("usage_type") or (obj.get("usage_type") if is_plan else None)
        ),
        "lookup_key": as_str(obj.get("lookup_key")),
        "nickname": as_str(obj.get("nickname")),
        "tax_behavior": as_str(obj.get("tax_behavior")),
        "tiers_mode": as_str(obj.get("tiers_mode")),
        "is_deleted": obj.get("deleted") is True,
    }


@fits("Coupon")
def coupon_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of a coupon."""
    return {
        **common_fields(obj),
        "name": as_str(obj.get("name")),
        "percent_off": as_decimal(obj.get("percent_off")),
        "amount_off": as_int(obj.get("amount_off")),
        "currency": as_str(obj.get("currency")),
        "duration": as_str(obj.get("duration")),
        "duration_in_months": as_int(obj.get("duration_in_months")),
        "max_redemptions": as_int(obj.get("max_redemptions")),
        "times_redeemed": as_int(obj.get("times_redeemed")),
        "redeem_by": ts(obj.get("redeem_by")),
        "valid": as_json(obj.get("valid"), bool),
        "is_deleted": obj.get("deleted") is True,
    }


@fits("PromotionCode")
def promotion_code_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of a promotion code (``promotion.coupon`` in current versions, ``coupon``
    before)."""
    coupon = _sub(obj, "promotion").get("coupon") or obj.get("coupon")
    return {
        **common_fields(obj),
        "code": as_str(obj.get("code")),
        "coupon_id": ref_id(coupon),
        "customer_id": ref_id(obj.get("customer")),
        "active": as_json(obj.get("active"), bool),
        "max_redemptions": as_int(obj.get("max_redemptions")),
        "times_redeemed": as_int(obj.get("times_redeemed")),
        "expires_at": ts(obj.get("expires_at")),
    }


@fits("Discount")
def discount_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of a discount (``source.coupon`` in current versions, ``coupon`` before)."""
    coupon = _sub(obj, "source").get("coupon") or obj.get("coupon")
    return {
        **common_fields(obj),
        "coupon_id": ref_id(coupon),
        "promotion_code_id": ref_id(obj.get("promotion_code")),
        "customer_id": ref_id(obj.get("customer")),
        "subscription_id": ref_id(obj.get("subscription")),
        "invoice": ref_id(obj.get("invoice")),
        "invoice_item": ref_id(obj.get("invoice_item")),
        "start": ts(obj.get("start")),
        "end": ts(obj.get("end")),
        "is_deleted": obj.get("deleted") is True,
    }


def invoice_subscription_id(obj: Mapping[str, Any]) -> str | None:
    """The subscription an invoice bills (``parent.subscription_details`` since basil)."""
    details = _sub(_sub(obj, "parent"), "subscription_details")
    return ref_id(details.get("subscription")) or ref_id(obj.get("subscription"))


def invoice_payment_intent_id(obj: Mapping[str, Any]) -> str | None:
    """The PaymentIntent paying an invoice (``payments`` since basil, default one first)."""
    payments = list_data(obj.get("payments")) or []
    ordered = sorted(
        (p for p in payments if isinstance(p, Mapping)),
        key=lambda p: not p.get("is_default"),
    )
    for payment in ordered:
        found = ref_id(_sub(payment, "payment").get("payment_intent"))
        if found:
            return found
    return ref_id(obj.get("payment_intent"))


@fits("Invoice")
def invoice_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of an invoice."""
    transitions = _sub(obj, "status_transitions")
    common = common_fields(obj)
    if common["created"] is None:  # ``date``: API versions before 2019-03-14
        common["created"] = ts(obj.get("date"))
    return {
        **common,
        "customer_id": ref_id(obj.get("customer")),
        "subscription_id": invoice_subscription_id(obj),
        "status": as_str(obj.get("status")),
        "number": as_str(obj.get("number")),
        "currency": as_str(obj.get("currency")),
        "subtotal": as_int(obj.get("subtotal")),
        "total": as_int(obj.get("total")),
        "amount_due": as_int(obj.get("amount_due")),
        "amount_paid": as_int(obj.get("amount_paid")),
        "amount_remaining": as_int(obj.get("amount_remaining")),
        "collection_method": as_str(obj.get("collection_method")),
        "billing_reason": as_str(obj.get("billing_reason")),
        "description": as_str(obj.get("description")),
        "hosted_invoice_url": as_str(obj.get("hosted_invoice_url")),
        "invoice_pdf": as_str(obj.get("invoice_pdf")),
        "period_start": ts(obj.get("period_start")),
        "period_end": ts(obj.get("period_end")),
        "due_date": ts(obj.get("due_date")),
        "finalized_at": ts(transitions.get("finalized_at")),
        "paid_at": ts(transitions.get("paid_at")),
        "voided_at": ts(transitions.get("voided_at")),
        "attempt_count": as_int(obj.get("attempt_count")),
        "payment_intent": invoice_payment_intent_id(obj),
        "default_payment_method": ref_id(obj.get("default_payment_method")),
        "discounts": [ref_id(d) for d in obj.get("discounts") or [] if ref_id(d)]
        if isinstance(obj.get("discounts"), list)
        else None,
        "is_deleted": obj.get("deleted") is True,
    }


def line_price_id(obj: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(price id, product id) of a line or invoice item, in any version's shape."""
    details = _sub(_sub(obj, "pricing"), "price_details")
    price = details.get("price") or obj.get("price") or obj.get("plan")
    product = details.get("product") or (
        price.get("product") if isinstance(price, Mapping) else None
    )
    return ref_id(price), ref_id(product)


def invoice_lines(obj: Mapping[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The lines embedded in an invoice and whether that list is complete."""
    lines = obj.get("lines")
    data = list_data(lines) or []
    complete = not (isinstance(lines, Mapping) and lines.get("has_more"))
    return [dict(line) for line in data if isinstance(line, Mapping) and line.get("id")], complete


def line_stripe_id(line: Mapping[str, Any], invoice_id: str | None) -> str:
    """A line's id; old API versions reuse ``ii_``/``sub_`` ids across invoices, so those
    are qualified by the invoice."""
    line_id = str(line["id"])
    if line_id.startswith("il_") or not invoice_id:
        return line_id
    return f"{invoice_id}:{line_id}"


@fits("InvoiceLineItem")
def invoice_line_fields(obj: Mapping[str, Any], invoice_id: str | None) -> Fields:
    """Columns of an invoice line."""
    parent = _sub(obj, "parent")
    item_details = _sub(parent, "invoice_item_details")
    sub_details = _sub(parent, "subscription_item_details")
    price_id, product_id = line_price_id(obj)
    period = _sub(obj, "period")
    invoice = ref_id(obj.get("invoice")) or invoice_id
    return {
        **common_fields(obj),
        "stripe_id": line_stripe_id(obj, invoice),
        "invoice_id": invoice,
        "amount": as_int(obj.get("amount")),
        "currency": as_str(obj.get("currency")),
        "description": as_str(obj.get("description")),
        "quantity": as_int(obj.get("quantity")),
        "price_stripe_id": price_id,
        "product_stripe_id": product_id,
        "subscription_stripe_id": ref_id(sub_details.get("subscription"))
        or ref_id(item_details.get("subscription"))
        or ref_id(obj.get("subscription")),
        "invoice_item_stripe_id": ref_id(item_details.get("invoice_item"))
        or ref_id(obj.get("invoice_item")),
        "period_start": ts(period.get("start")),
        "period_end": ts(period.get("end")),
    }


@fits("InvoiceItem")
def invoice_item_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of an invoice item."""
    price_id, _ = line_price_id(obj)
    period = _sub(obj, "period")
    sub_details = _sub(_sub(obj, "parent"), "subscription_details")
    return {
        **common_fields(obj),
        "customer_id": ref_id(obj.get("customer")),
        "invoice_id": ref_id(obj.get("invoice")),
        "subscription_stripe_id": ref_id(sub_details.get("subscription"))
        or ref_id(obj.get("subscription")),
        "amount": as_int(obj.get("amount")),
        "currency": as_str(obj.get("currency")),
        "description": as_str(obj.get("description")),
        "quantity": as_int(obj.get("quantity")),
        "price_stripe_id": price_id,
        "date": ts(obj.get("date")),
        "period_start": ts(period.get("start")),
        "period_end": ts(period.get("end")),
        "discountable": as_json(obj.get("discountable"), bool),
        "proration": as_json(obj.get("proration"), bool),
        "is_deleted": obj.get("deleted") is True,
    }


@fits("PaymentIntent")
def payment_intent_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of a PaymentIntent."""
    return {
        **common_fields(obj),
        "customer_id": ref_id(obj.get("customer")),
        "amount": as_int(obj.get("amount")),
        "amount_received": as_int(obj.get("amount_received")),
        "currency": as_str(obj.get("currency")),
        "status": as_str(obj.get("status")),
        "description": as_str(obj.get("description")),
        "payment_method": ref_id(obj.get("payment_method")),
        "latest_charge": ref_id(obj.get("latest_charge")),
        "capture_method": as_str(obj.get("capture_method")),
        "setup_future_usage": as_str(obj.get("setup_future_usage")),
        "canceled_at": ts(obj.get("canceled_at")),
        "cancellation_reason": as_str(obj.get("cancellation_reason")),
        "last_payment_error": as_json(obj.get("last_payment_error"), dict),
    }


@fits("Charge")
def charge_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of a charge."""
    card = _sub(_sub(obj, "payment_method_details"), "card") or _sub(obj, "source")
    # ``card``, its brand in ``type``: API versions before 2015-02-18.
    old_card = _sub(obj, "card")
    return {
        **common_fields(obj),
        "customer_id": ref_id(obj.get("customer")),
        "payment_intent_id": ref_id(obj.get("payment_intent")),
        "amount": as_int(obj.get("amount")),
        "amount_captured": as_int(obj.get("amount_captured")),
        "amount_refunded": as_int(obj.get("amount_refunded")),
        "currency": as_str(obj.get("currency")),
        "status": as_str(obj.get("status")),
        "paid": as_json(obj.get("paid"), bool),
        "captured": as_json(obj.get("captured"), bool),
        "refunded": as_json(obj.get("refunded"), bool),
        "disputed": as_json(obj.get("disputed"), bool),
        "failure_code": as_str(obj.get("failure_code")),
        "failure_message": as_str(obj.get("failure_message")),
        "description": as_str(obj.get("description")),
        "payment_method": ref_id(obj.get("payment_method")),
        "card_brand": as_str(card.get("brand") or old_card.get("brand") or old_card.get("type")),
        "card_last4": as_str(card.get("last4") or old_card.get("last4")),
        "receipt_url": as_str(obj.get("receipt_url")),
        "balance_transaction": ref_id(obj.get("balance_transaction")),
    }


@fits("Refund")
def refund_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of a refund."""
    return {
        **common_fields(obj),
        "charge_id": ref_id(obj.get("charge")),
        "payment_intent": ref_id(obj.get("payment_intent")),
        "amount": as_int(obj.get("amount")),
        "currency": as_str(obj.get("currency")),
        "status": as_str(obj.get("status")),
        "reason": as_str(obj.get("reason")),
        "failure_reason": as_str(obj.get("failure_reason")),
    }


@fits("SetupIntent")
def setup_intent_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of a SetupIntent."""
    return {
        **common_fields(obj),
        "customer_id": ref_id(obj.get("customer")),
        "payment_method": ref_id(obj.get("payment_method")),
        "status": as_str(obj.get("status")),
        "usage": as_str(obj.get("usage")),
        "description": as_str(obj.get("description")),
        "cancellation_reason": as_str(obj.get("cancellation_reason")),
        "last_setup_error": as_json(obj.get("last_setup_error"), dict),
    }
