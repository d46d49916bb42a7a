"""The URL table of :class:`~.fake.FakeStripe` for billing and payments: coupons, promotion
codes, discounts, tax rates, invoice items, invoices, payment and setup intents, charges,
refunds — and what :meth:`FakeStripe.add` can seed of them."""

from __future__ import annotations

from collections.abc import Callable

from stripe_integrations.testing import (
    fake_charges,
    fake_coupons,
    fake_discounts,
    fake_invoice_items,
    fake_invoice_payments,
    fake_invoice_preview,
    fake_invoices,
    fake_payment_intents,
    fake_setup_intents,
    fake_tax_rates,
)
from stripe_integrations.testing.fake_store import JsonDict

Handler = Callable[..., JsonDict]

_INVOICE = "/v1/invoices/{invoice_id}"
_PI = "/v1/payment_intents/{intent_id}"
_SI = "/v1/setup_intents/{intent_id}"

ROUTES: list[tuple[str, str, Handler]] = [
    ("DELETE", "/v1/customers/{customer_id}/discount", fake_discounts.delete_customer_discount),
    ("DELETE", "/v1/subscriptions/{sub_id}/discount", fake_discounts.delete_subscription_discount),
    ("POST", "/v1/coupons", fake_coupons.create_coupon),
    ("GET", "/v1/coupons", fake_coupons.list_coupons),
    ("GET", "/v1/coupons/{coupon_id}", fake_coupons.retrieve_coupon),
    ("POST", "/v1/coupons/{coupon_id}", fake_coupons.update_coupon),
    ("DELETE", "/v1/coupons/{coupon_id}", fake_coupons.delete_coupon),
    ("POST", "/v1/promotion_codes", fake_coupons.create_promotion_code),
    ("GET", "/v1/promotion_codes", fake_coupons.list_promotion_codes),
    ("GET", "/v1/promotion_codes/{promo_id}", fake_coupons.retrieve_promotion_code),
    ("POST", "/v1/promotion_codes/{promo_id}", fake_coupons.update_promotion_code),
    ("POST", "/v1/tax_rates", fake_tax_rates.create_tax_rate),
    ("GET", "/v1/tax_rates", fake_tax_rates.list_tax_rates),
    ("GET", "/v1/tax_rates/{rate_id}", fake_tax_rates.retrieve_tax_rate),
    ("POST", "/v1/tax_rates/{rate_id}", fake_tax_rates.update_tax_rate),
    ("POST", "/v1/invoiceitems", fake_invoice_items.create_invoice_item),
    ("GET", "/v1/invoiceitems", fake_invoice_items.list_invoice_items),
    ("GET", "/v1/invoiceitems/{item_id}", fake_invoice_items.retrieve_invoice_item),
    ("POST", "/v1/invoiceitems/{item_id}", fake_invoice_items.update_invoice_item),
    ("DELETE", "/v1/invoiceitems/{item_id}", fake_invoice_items.delete_invoice_item),
    ("POST", "/v1/invoices/create_preview", fake_invoice_preview.create_preview),
    ("POST", "/v1/invoices", fake_invoices.create_invoice),
    ("GET", "/v1/invoices", fake_invoices.list_invoices),
    ("GET", _INVOICE, fake_invoices.retrieve_invoice),
    ("POST", _INVOICE, fake_invoices.update_invoice),
    ("DELETE", _INVOICE, fake_invoices.delete_invoice),
    ("GET", _INVOICE + "/lines", fake_invoices.list_lines),
    ("POST", _INVOICE + "/finalize", fake_invoice_payments.finalize_invoice),
    ("POST", _INVOICE + "/pay", fake_invoice_payments.pay_invoice),
    ("POST", _INVOICE + "/send", fake_invoice_payments.send_invoice),
    ("POST", _INVOICE + "/void", fake_invoice_payments.void_invoice),
    ("POST", _INVOICE + "/mark_uncollectible", fake_invoice_payments.mark_uncollectible),
    ("GET", "/v1/invoice_payments", fake_invoice_payments.list_invoice_payments),
    ("GET", "/v1/invoice_payments/{payment_id}", fake_invoice_payments.retrieve_invoice_payment),
    ("POST", "/v1/payment_intents", fake_payment_intents.create_payment_intent),
    ("GET", "/v1/payment_intents", fake_payment_intents.list_payment_intents),
    ("GET", _PI, fake_payment_intents.retrieve_payment_intent),
    ("POST", _PI, fake_payment_intents.update_payment_intent),
    ("POST", _PI + "/confirm", fake_payment_intents.confirm_payment_intent),
    ("POST", _PI + "/cancel", fake_payment_intents.cancel_payment_intent),
    ("POST", _PI + "/capture", fake_payment_intents.capture_payment_intent),
    ("GET", "/v1/charges", fake_charges.list_charges),
    ("GET", "/v1/charges/{charge_id}", fake_charges.retrieve_charge),
    ("POST", "/v1/charges/{charge_id}", fake_charges.update_charge),
    ("POST", "/v1/refunds", fake_charges.create_refund),
    ("GET", "/v1/refunds", fake_charges.list_refunds),
    ("GET", "/v1/refunds/{refund_id}", fake_charges.retrieve_refund),
    ("POST", "/v1/refunds/{refund_id}", fake_charges.update_refund),
    ("POST", "/v1/setup_intents", fake_setup_intents.create_setup_intent),
    ("GET", "/v1/setup_intents", fake_setup_intents.list_setup_intents),
    ("GET", _SI, fake_setup_intents.retrieve_setup_intent),
    ("POST", _SI, fake_setup_intents.update_setup_intent),
    ("POST", _SI + "/confirm", fake_setup_intents.confirm_setup_intent),
    ("POST", _SI + "/cancel", fake_setup_intents.cancel_setup_intent),
]

#: Object types :meth:`FakeStripe.add` can seed here, with the endpoint that builds them.
CREATORS: dict[str, Handler] = {
    "coupon": fake_coupons.create_coupon,
    "promotion_code": fake_coupons.create_promotion_code,
    "discount": fake_discounts.seed_discount,
    "tax_rate": fake_tax_rates.create_tax_rate,
    "invoiceitem": fake_invoice_items.create_invoice_item,
    "invoice": fake_invoices.create_invoice,
    "payment_intent": fake_payment_intents.create_payment_intent,
    "setup_intent": fake_setup_intents.create_setup_intent,
}

#: The parameters each creator accepts (other fields given to ``add`` are overrides).
CREATE_PARAMS: dict[str, frozenset[str]] = {
    "coupon": fake_coupons.COUPON_CREATE_PARAMS,
    "promotion_code": fake_coupons.PROMOTION_CODE_CREATE_PARAMS,
    "discount": fake_discounts.DISCOUNT_SEED_PARAMS,
    "tax_rate": fake_tax_rates.TAX_RATE_CREATE_PARAMS,
    "invoiceitem": fake_invoice_items.INVOICE_ITEM_CREATE_PARAMS,
    "invoice": fake_invoices.INVOICE_CREATE_PARAMS,
    "payment_intent": fake_payment_intents.PAYMENT_INTENT_CREATE_PARAMS,
    "setup_intent": fake_setup_intents.SETUP_INTENT_CREATE_PARAMS,
}
