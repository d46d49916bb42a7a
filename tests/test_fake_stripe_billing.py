"""Billing and payments of the in-process Stripe fake, driven through stripe-python's client:
coupons, promotion codes, discounts, tax rates, invoice items, invoices, subscriptions'
invoices, previews, payment and setup intents, charges and refunds."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
import stripe

from stripe_integrations.testing import FakeStripe

Client = stripe.StripeClient


@pytest.fixture
def fake() -> FakeStripe:
    return FakeStripe(seed=99)


@pytest.fixture
def client(fake: FakeStripe) -> Client:
    return stripe.StripeClient("sk_test_x", http_client=fake, max_network_retries=0)


def paying_customer(client: Client, card: str = "pm_card_visa", **params: Any) -> stripe.Customer:
    return client.v1.customers.create(
        params={
            "payment_method": card,
            "invoice_settings": {"default_payment_method": card},
            **params,
        }
    )


def monthly(client: Client, amount: int = 1000, currency: str = "usd") -> stripe.Price:
    return client.v1.prices.create(
        params={
            "unit_amount": amount,
            "currency": currency,
            "recurring": {"interval": "month"},
            "product_data": {"name": "Pro"},
        }
    )


def one_time(client: Client, amount: int, currency: str = "usd") -> stripe.Price:
    product = client.v1.products.create(params={"name": "Setup fee"})
    return client.v1.prices.create(
        params={"unit_amount": amount, "currency": currency, "product": product.id}
    )


def subscribe(client: Client, customer: str, price: str, **params: Any) -> stripe.Subscription:
    return client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": price}], **params}
    )


def invoice_intent(client: Client, invoice_id: str) -> stripe.PaymentIntent:
    invoice = client.v1.invoices.retrieve(
        invoice_id, params={"expand": ["payments.data.payment.payment_intent"]}
    )
    assert invoice.payments is not None
    intent = invoice.payments.data[0].payment.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)
    return intent


def types_since(fake: FakeStripe, count: int) -> list[str]:
    return fake.event_types[count:]


# -- coupons and promotion codes ------------------------------------------------------------


def test_coupon_create_shapes_and_validation(client: Client) -> None:
    percent = client.v1.coupons.create(
        params={"percent_off": 25, "duration": "repeating", "duration_in_months": 3, "id": "Q3"}
    )
    assert (percent.id, percent.object, percent.percent_off) == ("Q3", "coupon", 25.0)
    assert (percent.duration, percent.duration_in_months) == ("repeating", 3)
    assert (percent.amount_off, percent.currency, percent.valid) == (None, None, True)
    assert percent.times_redeemed == 0 and percent.max_redemptions is None
    amount = client.v1.coupons.create(
        params={"amount_off": 500, "currency": "EUR", "name": "Five", "max_redemptions": 2}
    )
    assert len(amount.id) == 8 and amount.id.isalnum() and amount.id == amount.id.upper()
    assert (amount.amount_off, amount.currency, amount.duration) == (500, "eur", "once")
    bad: list[dict[str, Any]] = [
        {"amount_off": 5},
        {"percent_off": 10, "amount_off": 5, "currency": "usd"},
        {"percent_off": 10, "duration": "repeating"},
        {"percent_off": 150},
        {"percent_off": 10, "id": "Q3"},
    ]
    for params in bad:
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.coupons.create(params=params)


def test_coupon_update_delete_and_list(client: Client, fake: FakeStripe) -> None:
    coupon = client.v1.coupons.create(params={"percent_off": 10, "id": "TEN"})
    updated = client.v1.coupons.update("TEN", params={"name": "Ten", "metadata": {"a": "1"}})
    assert updated.name == "Ten" and updated.metadata.to_dict() == {"a": "1"}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.coupons.update("TEN", params={"percent_off": 20})  # type: ignore[typeddict-unknown-key]
    other = client.v1.coupons.create(params={"amount_off": 1, "currency": "usd"})
    assert [c.id for c in client.v1.coupons.list().data] == [other.id, coupon.id]
    deleted = client.v1.coupons.delete("TEN")
    assert deleted.deleted is True and deleted.id == "TEN"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.coupons.retrieve("TEN")
    assert info.value.http_status == 404
    assert [t for t in fake.event_types if t.startswith("coupon.")] == [
        "coupon.created",
        "coupon.updated",
        "coupon.created",
        "coupon.deleted",
    ]


def test_promotion_code_names_its_coupon_under_promotion(client: Client, fake: FakeStripe) -> None:
    coupon = client.v1.coupons.create(params={"percent_off": 50, "id": "HALF"})
    promo = client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "SPRING-50"}
    )
    data = promo.to_dict()
    assert promo.id.startswith("promo_") and promo.object == "promotion_code"
    assert data["promotion"] == {"coupon": "HALF", "type": "coupon"}
    assert "coupon" not in data
    assert (promo.code, promo.active, promo.times_redeemed, promo.customer) == (
        "SPRING-50",
        True,
        0,
        None,
    )
    assert data["restrictions"]["first_time_transaction"] is False
    generated = client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": "HALF"}}
    )
    assert generated.code and generated.code != promo.code
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.promotion_codes.create(
            params={"promotion": {"type": "coupon", "coupon": "HALF"}, "code": "spring-50"}
        )
    assert info.value.code == "resource_already_exists"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.promotion_codes.create(params={"code": "NOPROMO"})  # type: ignore[typeddict-item]
    listed = client.v1.promotion_codes.list(params={"coupon": "HALF", "code": "SPRING-50"})
    assert [p.id for p in listed.data] == [promo.id]
    off = client.v1.promotion_codes.update(promo.id, params={"active": False})
    assert off.active is False
    assert fake.events[-1]["type"] == "promotion_code.updated"
    assert fake.events[-1]["data"]["previous_attributes"] == {"active": True}


def test_promotion_code_restrictions_are_enforced(client: Client) -> None:
    price = monthly(client)
    owner, stranger = paying_customer(client), paying_customer(client)
    client.v1.coupons.create(params={"percent_off": 10, "id": "VIP"})
    mine = client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": "VIP"}, "customer": owner.id}
    )
    with pytest.raises(stripe.InvalidRequestError) as info:
        subscribe(client, stranger.id, price.id, discounts=[{"promotion_code": mine.id}])
    assert info.value.param == "discounts[0][promotion_code]"
    once = client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": "VIP"}, "max_redemptions": 1}
    )
    subscribe(client, owner.id, price.id, discounts=[{"promotion_code": once.id}])
    assert client.v1.promotion_codes.retrieve(once.id).times_redeemed == 1
    with pytest.raises(stripe.InvalidRequestError):
        subscribe(client, owner.id, price.id, discounts=[{"promotion_code": once.id}])
    assert client.v1.coupons.retrieve("VIP").times_redeemed == 1


# -- discounts ------------------------------------------------------------------------------


def test_subscription_discount_from_promotion_code(client: Client, fake: FakeStripe) -> None:
    customer = paying_customer(client)
    price = monthly(client, 2000)
    client.v1.coupons.create(params={"percent_off": 25, "duration": "forever", "id": "QUARTER"})
    promo = client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": "QUARTER"}, "code": "Q"}
    )
    sub = subscribe(
        client,
        customer.id,
        price.id,
        discounts=[{"promotion_code": promo.id}],
        expand=["discounts", "latest_invoice"],
    )
    discount = sub.discounts[0]
    assert isinstance(discount, stripe.Discount)
    data = discount.to_dict()
    assert data["id"].startswith("di_") and data["object"] == "discount"
    assert data["source"] == {"coupon": "QUARTER", "type": "coupon"}
    assert "coupon" not in data
    assert (data["promotion_code"], data["subscription"], data["customer"]) == (
        promo.id,
        sub.id,
        customer.id,
    )
    assert data["end"] is None and data["invoice"] is None
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.subtotal, invoice.total, invoice.amount_paid) == (2000, 1500, 1500)
    assert invoice.discounts == [discount.id]
    assert invoice.to_dict()["total_discount_amounts"] == [{"amount": 500, "discount": discount.id}]
    line = invoice.lines.data[0].to_dict()
    assert line["discount_amounts"] == [{"amount": 500, "discount": discount.id}]
    assert line["pretax_credit_amounts"][0]["type"] == "discount"
    assert client.v1.coupons.retrieve("QUARTER").times_redeemed == 1
    assert "customer.discount.created" in fake.event_types


def test_amount_off_discount_spreads_over_lines(client: Client) -> None:
    customer = paying_customer(client)
    client.v1.coupons.create(params={"amount_off": 900, "currency": "usd", "id": "NINE"})
    client.v1.coupons.create(params={"amount_off": 900, "currency": "eur", "id": "EURO"})
    for amount in (1000, 2000):
        client.v1.invoice_items.create(
            params={"customer": customer.id, "amount": amount, "currency": "usd"}
        )
    invoice = client.v1.invoices.create(
        params={
            "customer": customer.id,
            "pending_invoice_items_behavior": "include",
            "discounts": [{"coupon": "NINE"}, {"coupon": "EURO"}],
        }
    )
    shares = [
        line.discount_amounts[0].amount for line in invoice.lines.data if line.discount_amounts
    ]
    assert sorted(shares) == [300, 600]
    assert (invoice.subtotal, invoice.total, invoice.amount_due) == (3000, 2100, 2100)
    assert len(invoice.discounts) == 2  # the euro coupon is kept but takes nothing


def test_item_discounts_come_before_invoice_discounts(client: Client) -> None:
    customer = client.v1.customers.create()
    client.v1.coupons.create(params={"percent_off": 10, "id": "ITEM10"})
    client.v1.coupons.create(params={"percent_off": 50, "id": "ALL50"})
    item = client.v1.invoice_items.create(
        params={
            "customer": customer.id,
            "amount": 1000,
            "currency": "usd",
            "discounts": [{"coupon": "ITEM10"}],
        }
    )
    assert item.discounts is not None and len(item.discounts) == 1
    invoice = client.v1.invoices.create(
        params={
            "customer": customer.id,
            "pending_invoice_items_behavior": "include",
            "discounts": [{"coupon": "ALL50"}],
        }
    )
    line = invoice.lines.data[0]
    assert [d.amount for d in line.discount_amounts or []] == [100, 450]
    assert (invoice.subtotal, invoice.total) == (900, 450)
    discount = client.v1.invoices.retrieve(invoice.id, params={"expand": ["discounts"]}).discounts[
        0
    ]
    assert isinstance(discount, stripe.Discount) and discount.invoice == invoice.id


def test_updating_and_deleting_subscription_discounts(client: Client, fake: FakeStripe) -> None:
    customer = paying_customer(client)
    client.v1.coupons.create(params={"percent_off": 10, "duration": "forever", "id": "A"})
    client.v1.coupons.create(params={"percent_off": 20, "duration": "forever", "id": "B"})
    sub = subscribe(client, customer.id, monthly(client).id, discounts=[{"coupon": "A"}])
    first = sub.discounts[0]
    kept = client.v1.subscriptions.update(
        sub.id, params={"discounts": [{"discount": str(first)}, {"coupon": "B"}]}
    )
    assert kept.discounts[0] == first and len(kept.discounts) == 2
    replaced = client.v1.subscriptions.update(sub.id, params={"discounts": [{"coupon": "B"}]})
    assert first not in replaced.discounts and len(replaced.discounts) == 1
    assert fake.event_types.count("customer.discount.deleted") == 2  # A, then the first B
    removed = client.v1.subscriptions.delete_discount(sub.id)
    assert removed.deleted is True and removed.object == "discount"
    assert client.v1.subscriptions.retrieve(sub.id).discounts == []
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscriptions.delete_discount(sub.id)
    assert info.value.http_status == 404


def test_customer_discount_is_seeded_and_applies(client: Client, fake: FakeStripe) -> None:
    customer = paying_customer(client)
    client.v1.coupons.create(params={"percent_off": 50, "duration": "forever", "id": "HALF"})
    discount = fake.add("discount", customer=customer.id, coupon="HALF")
    assert client.v1.customers.retrieve(customer.id).discount.id == discount["id"]  # type: ignore[union-attr]
    sub = subscribe(client, customer.id, monthly(client, 3000).id, expand=["latest_invoice"])
    assert isinstance(sub.latest_invoice, stripe.Invoice)
    assert sub.latest_invoice.total == 1500
    assert sub.latest_invoice.discounts == [discount["id"]]
    removed = client.v1.customers.delete_discount(customer.id)
    assert removed.deleted is True and removed.id == discount["id"]
    assert client.v1.customers.retrieve(customer.id).discount is None
    assert fake.event_types[-2:] == ["customer.discount.deleted", "customer.updated"]


def test_customers_have_no_discounts_parameter(client: Client) -> None:
    customer = client.v1.customers.create()
    client.v1.coupons.create(params={"percent_off": 5, "id": "FIVE"})
    for params in ({"discounts": [{"coupon": "FIVE"}]}, {"coupon": "FIVE"}):
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.customers.update(customer.id, params=params)  # type: ignore[arg-type]
        assert info.value.code == "parameter_unknown"


def test_once_coupon_is_spent_by_the_first_invoice(client: Client) -> None:
    customer = paying_customer(client)
    price = monthly(client, 1000)
    client.v1.coupons.create(params={"percent_off": 100, "duration": "once", "id": "FREE1"})
    client.v1.coupons.create(params={"percent_off": 10, "duration": "forever", "id": "TENOFF"})
    once = subscribe(client, customer.id, price.id, discounts=[{"coupon": "FREE1"}])
    forever = subscribe(client, customer.id, price.id, discounts=[{"coupon": "TENOFF"}])
    first = client.v1.invoices.retrieve(str(once.latest_invoice))
    assert (first.total, first.status, first.amount_paid) == (0, "paid", 0)
    assert client.v1.invoices.create_preview(params={"subscription": once.id}).total == 1000
    assert client.v1.invoices.create_preview(params={"subscription": forever.id}).total == 900


# -- tax rates and currencies ---------------------------------------------------------------


def test_exclusive_and_inclusive_tax_rates(client: Client) -> None:
    customer = paying_customer(client)
    vat = client.v1.tax_rates.create(
        params={"display_name": "VAT", "percentage": 20, "inclusive": False}
    )
    gst = client.v1.tax_rates.create(
        params={"display_name": "GST", "percentage": 10, "inclusive": True}
    )
    assert (vat.object, vat.percentage, vat.inclusive, vat.active) == (
        "tax_rate",
        20.0,
        False,
        True,
    )
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": monthly(client, 1000).id, "tax_rates": [vat.id]}],
            "expand": ["latest_invoice"],
        }
    )
    assert sub["items"].data[0].tax_rates[0].id == vat.id  # type: ignore[index]
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.subtotal, invoice.total, invoice.total_excluding_tax) == (1000, 1200, 1000)
    tax = invoice.lines.data[0].to_dict()["taxes"][0]
    assert (tax["amount"], tax["tax_behavior"], tax["taxable_amount"]) == (200, "exclusive", 1000)
    assert tax["tax_rate_details"] == {"tax_rate": vat.id}
    item = client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 1100, "currency": "usd", "tax_rates": [gst.id]}
    )
    assert item.tax_rates is not None and item.tax_rates[0].id == gst.id
    draft = client.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    assert (draft.total, draft.total_excluding_tax) == (1100, 1000)
    assert draft.to_dict()["total_taxes"][0]["amount"] == 100


@pytest.mark.parametrize("currency", ["jpy", "kwd", "usd"])
def test_amounts_are_minor_units_in_every_currency(client: Client, currency: str) -> None:
    customer = paying_customer(client)
    price = monthly(client, 1234, currency)
    sub = subscribe(client, customer.id, price.id, expand=["latest_invoice"])
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.currency, invoice.total, invoice.amount_paid) == (currency, 1234, 1234)
    intent = invoice_intent(client, invoice.id)
    assert (intent.amount, intent.currency) == (1234, currency)
    charge = client.v1.charges.retrieve(str(intent.latest_charge))
    assert (charge.amount, charge.amount_captured, charge.currency) == (1234, 1234, currency)


# -- invoice items and invoices -------------------------------------------------------------


def test_invoice_item_shapes(client: Client, fake: FakeStripe) -> None:
    customer = client.v1.customers.create()
    fee = one_time(client, 250)
    by_amount = client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 700, "currency": "usd", "description": "Fix"}
    )
    data = by_amount.to_dict()
    assert by_amount.id.startswith("ii_") and by_amount.object == "invoiceitem"
    assert (data["amount"], data["currency"], data["quantity"], data["invoice"]) == (
        700,
        "usd",
        1,
        None,
    )
    assert data["pricing"]["price_details"] is None and data["parent"] is None
    assert data["pricing"]["unit_amount_decimal"] == Decimal("700")
    assert data["period"]["start"] == data["period"]["end"] == data["date"]
    by_price = client.v1.invoice_items.create(
        params={"customer": customer.id, "pricing": {"price": fee.id}, "quantity": 3}
    )
    assert by_price.amount == 750
    assert by_price.pricing is not None and by_price.pricing.price_details is not None
    assert by_price.pricing.price_details.price == fee.id
    inline = client.v1.invoice_items.create(
        params={
            "customer": customer.id,
            "price_data": {"currency": "usd", "product": str(fee.product), "unit_amount": 40},
            "quantity": 2,
            "metadata": {"k": "v"},
        }
    )
    assert inline.amount == 80 and inline.to_dict()["metadata"] == {"k": "v"}
    assert client.v1.customers.retrieve(customer.id).currency == "usd"
    fresh = client.v1.customers.create()
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoice_items.create(params={"customer": fresh.id, "amount": 5})
    assert info.value.param == "currency"
    with pytest.raises(stripe.InvalidRequestError):
        recurring = monthly(client)
        client.v1.invoice_items.create(
            params={"customer": customer.id, "pricing": {"price": recurring.id}}
        )
    updated = client.v1.invoice_items.update(by_amount.id, params={"amount": 800})
    assert updated.amount == 800
    pending = client.v1.invoice_items.list(params={"customer": customer.id, "pending": True})
    assert [i.id for i in pending.data] == [inline.id, by_price.id, by_amount.id]
    assert client.v1.invoice_items.delete(inline.id).deleted is True
    assert [t for t in fake.event_types if t.startswith("invoiceitem.")] == [
        "invoiceitem.created",
        "invoiceitem.created",
        "invoiceitem.created",
        "invoiceitem.updated",
        "invoiceitem.deleted",
    ]


def test_pending_items_are_excluded_unless_asked(client: Client, fake: FakeStripe) -> None:
    customer = client.v1.customers.create(params={"email": "bill@example.com"})
    item = client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 500, "currency": "usd"}
    )
    empty = client.v1.invoices.create(params={"customer": customer.id})
    assert (empty.status, empty.total, empty.lines.data) == ("draft", 0, [])
    assert empty.auto_advance is False and empty.billing_reason == "manual"
    full = client.v1.invoices.create(
        params={
            "customer": customer.id,
            "pending_invoice_items_behavior": "include",
            "description": "April",
            "metadata": {"m": "1"},
        }
    )
    assert (full.total, full.amount_due, full.customer_email) == (500, 500, "bill@example.com")
    assert (full.number, full.hosted_invoice_url, full.parent) == (None, None, None)
    line = full.lines.data[0]
    assert line.parent is not None and line.parent.type == "invoice_item_details"
    assert line.parent.invoice_item_details is not None
    assert line.parent.invoice_item_details.invoice_item == item.id
    assert client.v1.invoice_items.retrieve(item.id).invoice == full.id
    assert fake.event_types[-1] == "invoice.created"


def test_finalize_numbers_and_creates_the_payment_intent(client: Client, fake: FakeStripe) -> None:
    customer = client.v1.customers.create()
    client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 900, "currency": "usd"}
    )
    draft = client.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    assert "confirmation_secret" not in draft.to_dict() and "payments" not in draft.to_dict()
    count = len(fake.events)
    invoice = client.v1.invoices.finalize_invoice(
        draft.id, params={"expand": ["confirmation_secret", "payments"]}
    )
    assert invoice.status == "open"
    assert invoice.number == f"{customer.invoice_prefix}-0001"
    assert invoice.status_transitions.finalized_at is not None
    assert invoice.hosted_invoice_url and invoice.invoice_pdf
    assert (invoice.amount_due, invoice.amount_remaining, invoice.ending_balance) == (900, 900, 0)
    assert invoice.payments is not None
    payment = invoice.payments.data[0]
    assert (payment.object, payment.status, payment.is_default, payment.amount_requested) == (
        "invoice_payment",
        "open",
        True,
        900,
    )
    assert payment.payment.type == "payment_intent"
    intent = client.v1.payment_intents.retrieve(str(payment.payment.payment_intent))
    assert (intent.status, intent.amount, intent.customer) == (
        "requires_payment_method",
        900,
        customer.id,
    )
    assert invoice.confirmation_secret is not None
    assert invoice.confirmation_secret.client_secret == intent.client_secret
    assert invoice.confirmation_secret.type == "payment_intent"
    assert types_since(fake, count) == ["payment_intent.created", "invoice.finalized"]
    second = client.v1.invoices.create(params={"customer": customer.id})
    client.v1.invoices.finalize_invoice(second.id)
    assert client.v1.invoices.retrieve(second.id).number == f"{customer.invoice_prefix}-0002"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.finalize_invoice(invoice.id)


def test_pay_charges_the_default_payment_method(client: Client, fake: FakeStripe) -> None:
    customer = paying_customer(client, "pm_card_mastercard")
    client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 4200, "currency": "usd"}
    )
    invoice = client.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    count = len(fake.events)
    paid = client.v1.invoices.pay(invoice.id)
    assert (paid.status, paid.amount_paid, paid.amount_remaining) == ("paid", 4200, 0)
    assert (paid.attempted, paid.attempt_count) == (True, 1)
    assert paid.status_transitions.paid_at is not None and paid.number is not None
    intent = invoice_intent(client, invoice.id)
    assert (intent.status, intent.amount_received) == ("succeeded", 4200)
    charge = client.v1.charges.retrieve(str(intent.latest_charge))
    assert (charge.status, charge.paid, charge.captured, charge.customer) == (
        "succeeded",
        True,
        True,
        customer.id,
    )
    card = charge.payment_method_details.card  # type: ignore[union-attr]
    assert card is not None and (card.brand, card.last4) == ("mastercard", "4444")
    assert types_since(fake, count) == [
        "payment_intent.created",
        "invoice.finalized",
        "charge.succeeded",
        "payment_intent.succeeded",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.pay(invoice.id)


def test_pay_with_a_declining_card_is_a_card_error(client: Client, fake: FakeStripe) -> None:
    customer = paying_customer(client, "pm_card_chargeCustomerFail")
    client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 300, "currency": "usd"}
    )
    invoice = client.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    with pytest.raises(stripe.CardError) as info:
        client.v1.invoices.pay(invoice.id)
    assert (info.value.http_status, info.value.code) == (402, "card_declined")
    assert info.value.error is not None and info.value.error.payment_intent is not None
    after = client.v1.invoices.retrieve(invoice.id)
    assert (after.status, after.attempt_count, after.amount_paid) == ("open", 1, 0)
    intent = invoice_intent(client, invoice.id)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error is not None
    assert intent.last_payment_error.decline_code == "generic_decline"
    charge = client.v1.charges.retrieve(str(intent.latest_charge))
    assert (charge.status, charge.paid, charge.failure_code) == ("failed", False, "card_declined")
    assert "invoice.payment_failed" in fake.event_types and "charge.failed" in fake.event_types
    paid = client.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_visa"})
    assert paid.status == "paid" and paid.attempt_count == 2


def test_send_void_and_mark_uncollectible(client: Client, fake: FakeStripe) -> None:
    customer = client.v1.customers.create()
    client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 100, "currency": "usd"}
    )
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.create(
            params={"customer": customer.id, "collection_method": "send_invoice"}
        )
    invoice = client.v1.invoices.create(
        params={
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 14,
            "pending_invoice_items_behavior": "include",
        }
    )
    assert invoice.due_date == invoice.created + 14 * 86_400
    sent = client.v1.invoices.send_invoice(invoice.id)
    assert sent.status == "open" and sent.status_transitions.finalized_at is not None
    assert fake.event_types[-2:] == ["invoice.finalized", "invoice.sent"]
    intent = invoice_intent(client, invoice.id)
    voided = client.v1.invoices.void_invoice(invoice.id)
    assert voided.status == "void" and voided.status_transitions.voided_at is not None
    canceled = client.v1.payment_intents.retrieve(intent.id)
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "void_invoice")
    assert fake.event_types[-2:] == ["payment_intent.canceled", "invoice.voided"]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.pay(invoice.id)
    other = client.v1.invoices.create(params={"customer": customer.id})
    client.v1.invoices.finalize_invoice(other.id)  # nothing due: paid at once
    assert client.v1.invoices.retrieve(other.id).status == "paid"
    charged = client.v1.invoices.create(
        params={
            "customer": customer.id,
            "collection_method": "send_invoice",
            "due_date": 4_102_444_800,
        }
    )
    client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 50, "currency": "usd", "invoice": charged.id}
    )
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.send_invoice(other.id)  # charge_automatically
    client.v1.invoices.finalize_invoice(charged.id)
    lost = client.v1.invoices.mark_uncollectible(charged.id)
    assert lost.status == "uncollectible"
    assert lost.status_transitions.marked_uncollectible_at is not None


def test_delete_and_update_drafts_only(client: Client, fake: FakeStripe) -> None:
    customer = client.v1.customers.create()
    item = client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 100, "currency": "usd"}
    )
    draft = client.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    changed = client.v1.invoices.update(
        draft.id, params={"description": "Hi", "auto_advance": True}
    )
    assert changed.description == "Hi" and changed.automatically_finalizes_at is not None
    deleted = client.v1.invoices.delete(draft.id)
    assert deleted.deleted is True
    assert client.v1.invoice_items.retrieve(item.id).invoice is None
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoices.retrieve(draft.id)
    assert info.value.http_status == 404
    final = client.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    client.v1.invoices.finalize_invoice(final.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.delete(final.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.update(final.id, params={"collection_method": "send_invoice"})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoice_items.update(item.id, params={"amount": 5})
    assert info.value.code == "invoice_not_editable"
    kept = client.v1.invoices.update(final.id, params={"metadata": {"ok": "1"}})
    assert kept.to_dict()["metadata"] == {"ok": "1"}
    assert "invoice.deleted" in fake.event_types and fake.event_types[-1] == "invoice.updated"


def test_invoice_lines_and_list_filters(client: Client) -> None:
    customer = client.v1.customers.create()
    ids = [
        client.v1.invoice_items.create(
            params={"customer": customer.id, "amount": n, "currency": "usd"}
        ).id
        for n in (1, 2, 3)
    ]
    invoice = client.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    page = client.v1.invoices.line_items.list(invoice.id, params={"limit": 2})
    assert page.has_more is True and len(page.data) == 2
    rest = client.v1.invoices.line_items.list(
        invoice.id, params={"starting_after": page.data[-1].id}
    )
    lines = page.data + rest.data
    assert rest.has_more is False
    assert [line.parent.invoice_item_details.invoice_item for line in lines] == ids  # type: ignore[union-attr]
    other = client.v1.customers.create()
    second = client.v1.invoices.create(params={"customer": customer.id})
    client.v1.invoices.create(params={"customer": other.id})
    client.v1.invoices.finalize_invoice(invoice.id)
    mine = client.v1.invoices.list(params={"customer": customer.id})
    assert [i.id for i in mine.data] == [second.id, invoice.id]
    opened = client.v1.invoices.list(params={"customer": customer.id, "status": "open"})
    assert [i.id for i in opened.data] == [invoice.id]
    sub = subscribe(client, paying_customer(client).id, monthly(client).id)
    by_sub = client.v1.invoices.list(params={"subscription": sub.id})
    assert [i.id for i in by_sub.data] == [sub.latest_invoice]


def test_customer_credit_balance_is_applied_on_finalize(client: Client, fake: FakeStripe) -> None:
    customer = client.v1.customers.create(params={"balance": -300})
    client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 1000, "currency": "usd"}
    )
    draft = client.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    assert (draft.starting_balance, draft.amount_due, draft.ending_balance) == (-300, 700, None)
    invoice = client.v1.invoices.finalize_invoice(draft.id)
    assert (invoice.total, invoice.amount_due, invoice.ending_balance) == (1000, 700, 0)
    assert client.v1.customers.retrieve(customer.id).balance == 0
    assert invoice_intent(client, invoice.id).amount == 700


# -- subscriptions' invoices ----------------------------------------------------------------


def test_first_invoice_is_paid_with_the_default_card(client: Client, fake: FakeStripe) -> None:
    customer = paying_customer(client)
    price = monthly(client, 1500)
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price.id, "quantity": 2, "metadata": {"seat": "x"}}],
            "expand": ["latest_invoice.payments.data.payment.payment_intent"],
        }
    )
    assert sub.status == "active"
    item = sub["items"].data[0]
    assert (item.quantity, item.metadata.to_dict()) == (2, {"seat": "x"})
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert invoice.parent is not None and invoice.parent.type == "subscription_details"
    assert invoice.parent.subscription_details is not None
    assert invoice.parent.subscription_details.subscription == sub.id
    assert "subscription" not in invoice.to_dict() and "payment_intent" not in invoice.to_dict()
    assert (invoice.status, invoice.billing_reason, invoice.total) == (
        "paid",
        "subscription_create",
        3000,
    )
    line = invoice.lines.data[0]
    assert line.pricing is not None and line.pricing.price_details is not None
    assert line.pricing.price_details.price == price.id
    assert line.parent is not None and line.parent.subscription_item_details is not None
    assert line.parent.subscription_item_details.subscription_item == item.id
    assert (line.period.start, line.period.end) == (
        item.current_period_start,
        item.current_period_end,
    )
    assert invoice.payments is not None
    intent = invoice.payments.data[0].payment.payment_intent
    assert isinstance(intent, stripe.PaymentIntent) and intent.status == "succeeded"
    events = [
        t for t in fake.event_types if not t.startswith(("customer.", "payment_method", "pr"))
    ]
    assert events == [
        "invoice.created",
        "payment_intent.created",
        "invoice.finalized",
        "charge.succeeded",
        "payment_intent.succeeded",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]


def test_payment_intent_is_not_expandable_on_the_invoice(client: Client) -> None:
    customer = paying_customer(client)
    with pytest.raises(stripe.InvalidRequestError) as info:
        subscribe(client, customer.id, monthly(client).id, expand=["latest_invoice.payment_intent"])
    assert info.value.param == "expand"


def test_default_incomplete_is_paid_by_confirming_the_secret(
    client: Client, fake: FakeStripe
) -> None:
    customer = client.v1.customers.create()
    sub = subscribe(
        client,
        customer.id,
        monthly(client, 800).id,
        payment_behavior="default_incomplete",
        expand=["latest_invoice.confirmation_secret"],
    )
    assert sub.status == "incomplete"
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice) and invoice.status == "open"
    assert invoice.confirmation_secret is not None
    secret = invoice.confirmation_secret.client_secret
    intent_id = secret.split("_secret_")[0]
    intent = client.v1.payment_intents.confirm(intent_id, params={"payment_method": "pm_card_visa"})
    assert intent.status == "succeeded" and intent.client_secret == secret
    assert client.v1.invoices.retrieve(invoice.id).status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    last = fake.events[-1]
    assert last["type"] == "customer.subscription.updated"
    assert last["data"]["previous_attributes"] == {"status": "incomplete"}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.cancel(intent_id)


def test_without_a_payment_method_the_subscription_is_incomplete(client: Client) -> None:
    customer = client.v1.customers.create()
    sub = subscribe(client, customer.id, monthly(client).id)
    assert sub.status == "incomplete"
    invoice = client.v1.invoices.retrieve(str(sub.latest_invoice))
    assert (invoice.status, invoice.attempted) == ("open", False)
    client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    pm = client.v1.payment_methods.list(params={"customer": customer.id}).data[0]
    client.v1.invoices.pay(invoice.id, params={"payment_method": pm.id})
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_declined_first_payment(client: Client, fake: FakeStripe) -> None:
    customer = paying_customer(client, "pm_card_chargeCustomerFail")
    price = monthly(client)
    sub = subscribe(client, customer.id, price.id)
    assert sub.status == "incomplete"
    intent = invoice_intent(client, str(sub.latest_invoice))
    assert intent.status == "requires_payment_method" and intent.last_payment_error is not None
    assert "invoice.payment_failed" in fake.event_types
    subs_before, invoices_before = len(fake.objects("subscription")), len(fake.objects("invoice"))
    with pytest.raises(stripe.CardError):
        subscribe(client, customer.id, price.id, payment_behavior="error_if_incomplete")
    assert len(fake.objects("subscription")) == subs_before
    assert len(fake.objects("invoice")) == invoices_before


def test_three_d_secure_first_payment(client: Client, fake: FakeStripe) -> None:
    customer = paying_customer(client, "pm_card_threeDSecure2Required")
    sub = subscribe(client, customer.id, monthly(client).id)
    assert sub.status == "incomplete"
    intent = invoice_intent(client, str(sub.latest_invoice))
    assert intent.status == "requires_action"
    assert intent.next_action is not None and intent.next_action.type == "use_stripe_sdk"
    assert "invoice.payment_action_required" in fake.event_types
    done = fake.authenticate(intent.id)
    assert done["status"] == "succeeded"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    assert client.v1.invoices.retrieve(str(sub.latest_invoice)).status == "paid"


def test_trial_bills_zero_then_charges_when_it_ends(client: Client, fake: FakeStripe) -> None:
    customer = paying_customer(client)
    sub = subscribe(client, customer.id, monthly(client, 990).id, trial_period_days=7)
    first = client.v1.invoices.retrieve(str(sub.latest_invoice))
    assert (sub.status, first.status, first.total) == ("trialing", "paid", 0)
    assert first.lines.data[0].description == "Trial period for Pro"
    ended = client.v1.subscriptions.update(sub.id, params={"trial_end": "now"})
    assert ended.status == "active" and ended.latest_invoice != first.id
    second = client.v1.invoices.retrieve(str(ended.latest_invoice))
    assert (second.billing_reason, second.status, second.amount_paid) == (
        "subscription_update",
        "paid",
        990,
    )


def test_failed_renewal_after_a_trial_is_past_due(client: Client, fake: FakeStripe) -> None:
    customer = paying_customer(client, "pm_card_chargeCustomerFail")
    sub = subscribe(client, customer.id, monthly(client).id, trial_period_days=3)
    assert sub.status == "trialing"
    ended = client.v1.subscriptions.update(sub.id, params={"trial_end": "now"})
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    invoice = client.v1.invoices.retrieve(str(ended.latest_invoice))
    assert (invoice.status, invoice.attempt_count) == ("open", 1)
    assert fake.events[-1]["data"]["previous_attributes"] == {"status": "active"}


def test_subscription_seeded_with_an_id_keeps_its_invoice_links(fake: FakeStripe) -> None:
    customer = fake.add(
        "customer",
        payment_method="pm_card_visa",
        invoice_settings={"default_payment_method": "pm_card_visa"},
    )
    price = fake.add(
        "price",
        unit_amount=100,
        currency="usd",
        recurring={"interval": "month"},
        product_data={"name": "P"},
    )
    sub = fake.add(
        "subscription", customer=customer["id"], items=[{"price": price["id"]}], id="sub_seeded"
    )
    invoice = fake.get("invoice", sub["latest_invoice"])
    assert invoice["parent"]["subscription_details"]["subscription"] == "sub_seeded"
    assert invoice["lines"]["data"][0]["subscription"] == "sub_seeded"
    assert (sub["status"], invoice["status"]) == ("active", "paid")


def test_products_without_prices_can_be_deleted(client: Client, fake: FakeStripe) -> None:
    bare = client.v1.products.create(params={"name": "Bare"})
    priced = monthly(client).product
    assert client.v1.products.delete(bare.id).deleted is True
    assert "product.deleted" in fake.event_types
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.delete(str(priced))


def test_send_invoice_subscription_is_active_with_an_open_invoice(client: Client) -> None:
    customer = client.v1.customers.create()
    sub = subscribe(
        client,
        customer.id,
        monthly(client).id,
        collection_method="send_invoice",
        days_until_due=10,
    )
    invoice = client.v1.invoices.retrieve(str(sub.latest_invoice))
    assert (sub.status, invoice.status, invoice.collection_method) == (
        "active",
        "open",
        "send_invoice",
    )
    assert invoice.due_date == invoice.created + 10 * 86_400


# -- previews -------------------------------------------------------------------------------


def test_create_preview_of_a_new_subscription_and_pending_items(
    client: Client, fake: FakeStripe
) -> None:
    customer = client.v1.customers.create()
    price = monthly(client, 1200)
    client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 300, "currency": "usd"}
    )
    client.v1.coupons.create(params={"percent_off": 50, "id": "HALF"})
    count = fake.request_count
    preview = client.v1.invoices.create_preview(
        params={
            "customer": customer.id,
            "subscription_details": {"items": [{"price": price.id, "quantity": 2}]},
            "discounts": [{"coupon": "HALF"}],
        }
    )
    assert preview.id.startswith("upcoming_in_") and preview.status == "draft"
    assert (preview.subtotal, preview.total) == (2700, 1350)
    assert len(preview.lines.data) == 2
    assert fake.objects("invoice") == [] and fake.request_count == count + 1
    assert client.v1.coupons.retrieve("HALF").times_redeemed == 0
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoices.create_preview(params={"customer": client.v1.customers.create().id})
    assert (info.value.http_status, info.value.code) == (404, "invoice_upcoming_none")


def test_a_new_price_keeps_the_period_unless_its_interval_differs() -> None:
    now = [1_790_000_000.0]
    client = stripe.StripeClient(
        "sk_test_x", http_client=FakeStripe(seed=7, clock=lambda: now[0]), max_network_retries=0
    )
    customer = paying_customer(client)
    basic, pro = monthly(client, 500), monthly(client, 2500)
    yearly = client.v1.prices.create(
        params={
            "unit_amount": 20000,
            "currency": "usd",
            "recurring": {"interval": "year"},
            "product_data": {"name": "Yearly"},
        }
    )
    sub = subscribe(client, customer.id, basic.id)
    item = sub["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (1_790_000_000, 1_792_592_000)
    now[0] += 100
    same = client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item.id, "price": pro.id}]}
    )["items"].data[0]
    assert (same.current_period_start, same.current_period_end) == (1_790_000_000, 1_792_592_000)
    other = client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item.id, "price": yearly.id}]}
    )["items"].data[0]
    assert (other.current_period_start, other.current_period_end) == (
        1_790_000_100,
        1_790_000_100 + 365 * 86400,
    )


def test_create_preview_of_an_item_change(client: Client) -> None:
    customer = paying_customer(client)
    basic, pro = monthly(client, 500), monthly(client, 2500)
    sub = subscribe(client, customer.id, basic.id)
    item = sub["items"].data[0]
    preview = client.v1.invoices.create_preview(
        params={
            "subscription": sub.id,
            "subscription_details": {"items": [{"id": item.id, "price": pro.id}]},
        }
    )
    assert preview.total == 2500 and preview.billing_reason == "upcoming"
    assert preview.parent is not None and preview.parent.subscription_details is not None
    assert preview.parent.subscription_details.subscription == sub.id
    assert preview.lines.data[0].period.start == item.current_period_end
    assert client.v1.subscriptions.retrieve(sub.id)["items"].data[0].price.id == basic.id
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.invoices.create_preview(
            params={"subscription": sub.id, "subscription_details": {"cancel_at_period_end": True}}
        )
    assert info.value.code == "invoice_upcoming_none"


# -- payment intents, charges and refunds ---------------------------------------------------


def test_payment_intent_lifecycle(client: Client, fake: FakeStripe) -> None:
    customer = client.v1.customers.create()
    intent = client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "eur",
            "customer": customer.id,
            "automatic_payment_methods": {"enabled": True},
            "description": "Order 7",
            "metadata": {"order": "7"},
        }
    )
    assert intent.id.startswith("pi_") and intent.status == "requires_payment_method"
    assert intent.client_secret and intent.client_secret.startswith(intent.id + "_secret_")
    assert intent.automatic_payment_methods is not None
    updated = client.v1.payment_intents.update(
        intent.id, params={"payment_method": "pm_card_amex", "amount": 2500}
    )
    assert (updated.status, updated.amount) == ("requires_confirmation", 2500)
    confirmed = client.v1.payment_intents.confirm(intent.id)
    assert (confirmed.status, confirmed.amount_received) == ("succeeded", 2500)
    charge = client.v1.charges.retrieve(str(confirmed.latest_charge))
    assert (charge.amount, charge.payment_intent, charge.description) == (
        2500,
        intent.id,
        "Order 7",
    )
    assert charge.outcome is not None and charge.outcome.type == "authorized"
    assert charge.receipt_url and charge.balance_transaction is None
    listed = client.v1.payment_intents.list(params={"customer": customer.id})
    assert [i.id for i in listed.data] == [intent.id]
    assert [c.id for c in client.v1.charges.list(params={"customer": customer.id}).data] == [
        charge.id
    ]
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.payment_intents.cancel(intent.id)
    assert info.value.code == "payment_intent_unexpected_state"
    assert [t for t in fake.event_types if t.startswith(("payment_intent", "charge"))] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


def test_declined_confirmation_leaves_the_intent_retryable(
    client: Client, fake: FakeStripe
) -> None:
    with pytest.raises(stripe.CardError) as info:
        client.v1.payment_intents.create(
            params={
                "amount": 500,
                "currency": "usd",
                "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
                "confirm": True,
            }
        )
    error = info.value.error
    assert error is not None and error.payment_intent is not None
    assert (info.value.code, error.decline_code) == ("card_declined", "insufficient_funds")
    intent = client.v1.payment_intents.retrieve(error.payment_intent.id)
    assert (intent.status, intent.payment_method) == ("requires_payment_method", None)
    assert intent.last_payment_error is not None
    assert intent.last_payment_error.code == "card_declined"
    assert fake.event_types[-2:] == ["charge.failed", "payment_intent.payment_failed"]
    retried = client.v1.payment_intents.confirm(
        intent.id, params={"payment_method": "pm_card_visa"}
    )
    assert retried.status == "succeeded" and retried.last_payment_error is None


def test_three_d_secure_payment_intent(client: Client, fake: FakeStripe) -> None:
    intent = client.v1.payment_intents.create(
        params={
            "amount": 700,
            "currency": "gbp",
            "payment_method": "pm_card_authenticationRequired",
            "confirm": True,
            "return_url": "https://example.com/back",
        }
    )
    assert intent.status == "requires_action" and intent.next_action is not None
    assert intent.next_action.type == "redirect_to_url"
    assert fake.event_types[-1] == "payment_intent.requires_action"
    failed = fake.authenticate(intent.id, succeed=False)
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    with pytest.raises(stripe.CardError) as info:
        client.v1.payment_intents.confirm(
            intent.id,
            params={"payment_method": "pm_card_authenticationRequired", "off_session": True},
        )
    assert info.value.code == "authentication_required"
    with pytest.raises(ValueError):
        fake.authenticate(intent.id)


def test_cancel_capture_and_setup_future_usage(client: Client) -> None:
    customer = client.v1.customers.create()
    pending = client.v1.payment_intents.create(params={"amount": 100, "currency": "usd"})
    canceled = client.v1.payment_intents.cancel(
        pending.id, params={"cancellation_reason": "abandoned"}
    )
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
    held = client.v1.payment_intents.create(
        params={
            "amount": 900,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": "pm_card_visa",
            "capture_method": "manual",
            "setup_future_usage": "off_session",
            "confirm": True,
        }
    )
    assert (held.status, held.amount_capturable) == ("requires_capture", 900)
    assert client.v1.charges.retrieve(str(held.latest_charge)).captured is False
    captured = client.v1.payment_intents.capture(held.id, params={"amount_to_capture": 600})
    assert (captured.status, captured.amount_received) == ("succeeded", 600)
    charge = client.v1.charges.retrieve(str(held.latest_charge))
    assert (charge.captured, charge.amount_captured) == (True, 600)
    saved = client.v1.payment_methods.retrieve(str(held.payment_method))
    assert saved.customer == customer.id


def test_refunds(client: Client, fake: FakeStripe) -> None:
    intent = client.v1.payment_intents.create(
        params={
            "amount": 1000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    partial = client.v1.refunds.create(
        params={"payment_intent": intent.id, "amount": 400, "reason": "requested_by_customer"}
    )
    assert (partial.object, partial.amount, partial.status, partial.charge) == (
        "refund",
        400,
        "succeeded",
        intent.latest_charge,
    )
    charge = client.v1.charges.retrieve(str(intent.latest_charge))
    assert (charge.amount_refunded, charge.refunded) == (400, False)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"charge": charge.id, "amount": 700})
    assert info.value.code == "amount_too_large"
    rest = client.v1.refunds.create(params={"charge": charge.id})
    assert rest.amount == 600
    charge = client.v1.charges.retrieve(charge.id, params={"expand": ["refunds"]})
    assert (charge.amount_refunded, charge.refunded) == (1000, True)
    assert charge.refunds is not None and len(charge.refunds.data) == 2
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"charge": charge.id})
    assert info.value.code == "charge_already_refunded"
    listed = client.v1.refunds.list(params={"payment_intent": intent.id})
    assert [r.id for r in listed.data] == [rest.id, partial.id]
    assert client.v1.refunds.retrieve(partial.id).amount == 400
    assert fake.event_types[-4:] == [
        "refund.created",
        "charge.refunded",
        "refund.created",
        "charge.refunded",
    ]


# -- setup intents --------------------------------------------------------------------------


def test_setup_intents(client: Client, fake: FakeStripe) -> None:
    customer = client.v1.customers.create()
    intent = client.v1.setup_intents.create(params={"customer": customer.id, "usage": "on_session"})
    assert (intent.status, intent.usage) == ("requires_payment_method", "on_session")
    assert intent.client_secret and intent.client_secret.startswith(intent.id + "_secret_")
    done = client.v1.setup_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert done.status == "succeeded"
    pm = client.v1.payment_methods.retrieve(str(done.payment_method))
    assert pm.customer == customer.id
    assert fake.event_types[-2:] == ["payment_method.attached", "setup_intent.succeeded"]
    with pytest.raises(stripe.CardError) as info:
        client.v1.setup_intents.create(
            params={
                "customer": customer.id,
                "payment_method": "pm_card_chargeDeclined",
                "confirm": True,
            }
        )
    assert info.value.error is not None and info.value.error.setup_intent is not None
    assert info.value.error.setup_intent.status == "requires_payment_method"
    secure = client.v1.setup_intents.create(
        params={
            "customer": customer.id,
            "payment_method": "pm_card_authenticationRequired",
            "confirm": True,
        }
    )
    assert secure.status == "requires_action"
    assert fake.authenticate(secure.id)["status"] == "succeeded"
    spare = client.v1.setup_intents.create(params={"customer": customer.id})
    assert client.v1.setup_intents.cancel(spare.id).status == "canceled"
    listed = client.v1.setup_intents.list(params={"customer": customer.id})
    assert len(listed.data) == 4 and listed.data[0].id == spare.id


# -- seeding, idempotency, routes -----------------------------------------------------------


def test_add_seeds_billing_objects(client: Client, fake: FakeStripe) -> None:
    customer = fake.add("customer")
    coupon = fake.add("coupon", id="SEED", percent_off=10, duration="forever")
    promo = fake.add("promotion_code", promotion={"type": "coupon", "coupon": "SEED"}, code="S1")
    item = fake.add("invoiceitem", customer=customer["id"], amount=500, currency="usd")
    invoice = fake.add(
        "invoice",
        customer=customer["id"],
        pending_invoice_items_behavior="include",
        id="in_seeded",
    )
    paid = fake.add("invoice", customer=customer["id"], status="paid")
    intent = fake.add("payment_intent", amount=300, currency="usd", status="succeeded")
    rate = fake.add("tax_rate", display_name="VAT", percentage=5, inclusive=False)
    assert fake.request_count == 0 and fake.events == []
    assert (coupon["id"], promo["promotion"]["coupon"]) == ("SEED", "SEED")
    assert fake.get("invoiceitem", item["id"])["invoice"] == "in_seeded"
    fetched = client.v1.invoices.retrieve("in_seeded")
    assert fetched.total == 500 and fetched.lines.data[0].invoice == "in_seeded"
    assert invoice["lines"]["url"] == "/v1/invoices/in_seeded/lines"
    assert client.v1.invoices.retrieve(paid["id"]).status == "paid"
    assert client.v1.payment_intents.retrieve(intent["id"]).status == "succeeded"
    assert client.v1.tax_rates.retrieve(rate["id"]).percentage == 5.0
    with pytest.raises(ValueError, match="resource_missing"):
        fake.add("promotion_code", promotion={"type": "coupon", "coupon": "NOPE"})


def test_mutating_billing_posts_replay_with_the_same_key(client: Client, fake: FakeStripe) -> None:
    customer = paying_customer(client)
    client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 100, "currency": "usd"}
    )
    invoice = client.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    first = client.v1.invoices.pay(invoice.id, options={"idempotency_key": "pay-1"})
    again = client.v1.invoices.pay(invoice.id, options={"idempotency_key": "pay-1"})
    assert first.to_dict() == again.to_dict()
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(fake.objects("charge")) == 1
    params: Any = {
        "amount": 100,
        "currency": "usd",
        "payment_method": "pm_card_chargeDeclined",
        "confirm": True,
    }
    for _ in range(2):
        with pytest.raises(stripe.CardError):
            client.v1.payment_intents.create(params=params, options={"idempotency_key": "pi-1"})
    assert len(fake.objects("payment_intent")) == 2  # the invoice's and the declined one
    replays = [r.replayed for r in fake.requests_to("POST", "/v1/payment_intents")]
    assert replays == [False, True]


def test_sdk_service_paths_are_routed(fake: FakeStripe) -> None:
    routes = set(fake.routes())
    for route in (
        "POST /v1/invoices/create_preview",
        "POST /v1/invoices/{invoice_id}/finalize",
        "POST /v1/invoices/{invoice_id}/pay",
        "POST /v1/invoices/{invoice_id}/send",
        "POST /v1/invoices/{invoice_id}/void",
        "GET /v1/invoices/{invoice_id}/lines",
        "DELETE /v1/customers/{customer_id}/discount",
        "DELETE /v1/subscriptions/{sub_id}/discount",
        "POST /v1/invoiceitems",
        "GET /v1/invoice_payments",
        "POST /v1/payment_intents/{intent_id}/confirm",
        "POST /v1/setup_intents/{intent_id}/confirm",
        "POST /v1/refunds",
        "GET /v1/charges/{charge_id}",
    ):
        assert route in routes


def test_async_invoice_flow(fake: FakeStripe) -> None:
    client = stripe.StripeClient("sk_test_x", http_client=fake, max_network_retries=0)

    async def scenario() -> str:
        customer = await client.v1.customers.create_async(
            params={
                "payment_method": "pm_card_visa",
                "invoice_settings": {"default_payment_method": "pm_card_visa"},
            }
        )
        await client.v1.invoice_items.create_async(
            params={"customer": customer.id, "amount": 10, "currency": "usd"}
        )
        invoice = await client.v1.invoices.create_async(
            params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
        )
        paid = await client.v1.invoices.pay_async(invoice.id)
        return str(paid.status)

    assert asyncio.run(scenario()) == "paid"
