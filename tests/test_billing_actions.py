"""The dj-stripe surface on Customer, on the fake: happy paths, bad input, exact costs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from stripe_integrations.actions import (
    StripeCoupon,
    StripePrice,
    StripeProduct,
    StripePromotionCode,
    StripeRefund,
)
from stripe_integrations.client import get_client
from stripe_integrations.exceptions import StripeAPIError, StripeValidationError
from stripe_integrations.models import (
    Charge,
    Customer,
    Invoice,
    InvoiceItem,
    PaymentIntent,
    PaymentMethod,
    Price,
    Subscription,
)
from stripe_integrations.testing import FakeStripe

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(fake_stripe: FakeStripe, user: Any) -> Customer:
    customer, created = Customer.get_or_create(subscriber=user)
    assert created
    return customer


@pytest.fixture
def paying(customer: Customer) -> Customer:
    customer.add_payment_method("pm_card_visa")
    return customer


@pytest.fixture
def price(fake_stripe: FakeStripe) -> Price:
    product = StripeProduct.create(name="Gold")
    return StripePrice.create(
        product=product.stripe_id,
        unit_amount=1500,
        currency="usd",
        recurring={"interval": "month"},
    )


# --- get_or_create ---------------------------------------------------------------------------


def test_get_or_create_creates_a_fully_synced_row_then_returns_it(
    fake_stripe: FakeStripe, django_user_model: Any
) -> None:
    user = django_user_model.objects.create(
        username="ada", email="ada@example.com", first_name="Ada", last_name="Lovelace"
    )
    customer, created = Customer.get_or_create(subscriber=user)
    assert created is True and fake_stripe.request_count == 1
    row = Customer.objects.get(pk=customer.pk)
    assert (row.email, row.name, row.subscriber_id) == ("ada@example.com", "Ada Lovelace", user.pk)
    assert row.metadata["subscriber"] == f"auth.user:{user.pk}"
    assert row.invoice_prefix and row.raw["id"] == row.stripe_id  # not an empty shell
    again, created = Customer.get_or_create(subscriber=user)
    assert created is False and again.pk == customer.pk


# --- subscribe -------------------------------------------------------------------------------


def test_subscribe_keeps_item_fields_and_mirrors_everything(
    paying: Customer, price: Price, fake_stripe: FakeStripe
) -> None:
    fake_stripe.reset_requests()
    sub = paying.subscribe(items=[{"price": price, "quantity": 3, "metadata": {"seat": "x"}}])
    assert fake_stripe.request_count == 1
    remote = fake_stripe.get("subscription", sub.stripe_id)
    assert remote["items"]["data"][0]["quantity"] == 3
    assert remote["items"]["data"][0]["metadata"] == {"seat": "x"}
    row = Subscription.objects.get(stripe_id=sub.stripe_id)
    assert row.status == "active" and row.customer_id == paying.stripe_id
    item = row.items.get()
    assert (item.quantity, item.price_stripe_id) == (3, price.stripe_id)
    assert row.current_period_end is not None
    assert sub.requires_action is False
    assert paying.has_any_active_subscription()
    assert paying.is_subscribed_to(price.product_id)
    assert Invoice.objects.filter(stripe_id=row.latest_invoice).exists()


def test_subscribe_sca_ready_says_when_the_customer_must_act(
    customer: Customer, price: Price
) -> None:
    sub = customer.subscribe(price=price, payment_behavior="default_incomplete")
    assert sub.status == "incomplete"
    assert sub.requires_action is True
    assert sub.client_secret
    assert "client_secret" not in str(Subscription.objects.get(pk=sub.pk).raw)


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"price": "price_unknown"}, StripeValidationError, "items[0].price"),
        ({"items": []}, StripeValidationError, "items"),
        ({"items": [{"quantity": 1}]}, StripeValidationError, "items[0]"),
        ({"items": "price_x"}, StripeValidationError, "items"),
        ({}, TypeError, "price"),
        ({"price": "p", "items": [{"price": "p"}]}, TypeError, "price"),
        ({"price": "PRICE", "metadata": {"k[0]": "v"}}, StripeValidationError, "metadata"),
        ({"items": [{"price": "PRICE", "quantity": -1}]}, StripeValidationError, "quantity"),
        ({"items": [{"price": "PRICE", "quantity": "2"}]}, StripeValidationError, "quantity"),
    ],
)
def test_subscribe_bad_input_sends_nothing(
    customer: Customer,
    price: Price,
    fake_stripe: FakeStripe,
    kwargs: dict[str, Any],
    error: type,
    field: str,
) -> None:
    def swap(value: Any) -> Any:
        if value == "PRICE":
            return price.stripe_id
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value

    fake_stripe.reset_requests()
    with pytest.raises(error) as info:
        customer.subscribe(**swap(kwargs))
    assert field in str(info.value)
    assert fake_stripe.request_count == 0
    assert Subscription.objects.count() == 0


def test_subscribe_to_an_archived_or_one_time_price_is_refused(
    customer: Customer, price: Price, fake_stripe: FakeStripe
) -> None:
    one_time = StripePrice.create(product=price.product_id, unit_amount=500, currency="usd")
    StripePrice.update(price, active=False)
    fake_stripe.reset_requests()
    with pytest.raises(StripeValidationError, match="archived"):
        customer.subscribe(price=price)
    with pytest.raises(StripeValidationError, match="recurring"):
        customer.subscribe(price=one_time)
    assert fake_stripe.request_count == 0


# --- charge ----------------------------------------------------------------------------------


def test_charge_with_the_default_payment_method(paying: Customer, fake_stripe: FakeStripe) -> None:
    fake_stripe.reset_requests()
    intent = paying.charge(Decimal("10.50"), "usd", metadata={"order": "42"})
    assert fake_stripe.request_count == 1
    sent = fake_stripe.requests[0].params
    assert sent["amount"] == "1050" or sent["amount"] == 1050
    assert sent["payment_method"] == paying.default_payment_method_id
    assert intent.status == "succeeded" and intent.amount == 1050 and intent.currency == "usd"
    charge = Charge.objects.get(payment_intent=intent)
    assert charge.amount == 1050 and charge.card_last4 == "4242"
    assert paying.charges.count() == 1


def test_charge_in_a_zero_decimal_currency_is_not_multiplied(
    paying: Customer, fake_stripe: FakeStripe
) -> None:
    intent = paying.charge(Decimal("500"), "jpy")
    assert intent.amount == 500
    assert fake_stripe.get("payment_intent", intent.stripe_id)["amount"] == 500


def test_identical_charges_are_one_payment_unless_told_apart(paying: Customer) -> None:
    first = paying.charge(1000, "usd", metadata={"order": "1"})
    again = paying.charge(1000, "usd", metadata={"order": "1"})
    other = paying.charge(1000, "usd", metadata={"order": "2"})
    assert first.stripe_id == again.stripe_id != other.stripe_id
    assert PaymentIntent.objects.count() == 2


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [
        (-100, "usd", "amount"),
        (0, "usd", "amount"),
        (Decimal("1.005"), "usd", "amount"),
        (10.5, "usd", "amount"),
        (1000, "usx", "currency"),
        (1000, "", "currency"),
    ],
)
def test_charge_bad_input_sends_nothing(
    paying: Customer, fake_stripe: FakeStripe, amount: Any, currency: str, field: str
) -> None:
    fake_stripe.reset_requests()
    with pytest.raises(StripeValidationError) as info:
        paying.charge(amount, currency)
    assert info.value.field == field
    assert fake_stripe.request_count == 0
    assert PaymentIntent.objects.count() == 0


def test_charge_without_a_payment_method_is_refused(
    customer: Customer, fake_stripe: FakeStripe
) -> None:
    fake_stripe.reset_requests()
    with pytest.raises(StripeValidationError, match="payment_method"):
        customer.charge(1000, "usd")
    assert fake_stripe.request_count == 0


def test_declined_charge_raises_with_the_code_and_writes_nothing(customer: Customer) -> None:
    pm = get_client().v1.payment_methods.create(
        params={"type": "card", "card": {"token": "tok_visa"}}
    )
    customer.add_payment_method(pm.id)
    with pytest.raises(StripeAPIError) as info:
        customer.charge(1000, "usd", payment_method="pm_card_chargeDeclined")
    assert info.value.code == "card_declined" and info.value.type == "card_error"
    assert PaymentIntent.objects.count() == 0 and Charge.objects.count() == 0


def test_refund_part_of_a_payment(paying: Customer) -> None:
    intent = paying.charge(2000, "usd")
    refund = StripeRefund.create(intent, amount=500)
    assert refund.amount == 500 and refund.status == "succeeded"


# --- payment methods, invoice items, invoices -------------------------------------------------


def test_add_payment_method_attaches_and_sets_the_default(
    customer: Customer, fake_stripe: FakeStripe
) -> None:
    pm = customer.add_payment_method("pm_card_mastercard")
    assert pm.customer_id == customer.stripe_id and pm.card_brand == "mastercard"
    remote = fake_stripe.get("customer", customer.stripe_id)
    assert remote["invoice_settings"]["default_payment_method"] == pm.stripe_id
    assert customer.default_payment_method_id == pm.stripe_id
    assert Customer.objects.get(pk=customer.pk).default_payment == pm
    assert PaymentMethod.objects.filter(customer=customer).count() == 1


def test_add_invoice_item_and_send_invoice(customer: Customer, fake_stripe: FakeStripe) -> None:
    item = customer.add_invoice_item(Decimal("25.00"), "eur", "Setup fee")
    assert (item.amount, item.currency, item.description) == (2500, "eur", "Setup fee")
    assert InvoiceItem.objects.filter(customer=customer, invoice__isnull=True).count() == 1
    invoice = customer.send_invoice()
    assert invoice.status == "open" and invoice.number
    assert invoice.collection_method == "send_invoice"
    assert invoice.total == 2500 and invoice.lines.count() == 1
    assert customer.invoices.get() == invoice


def test_add_invoice_item_bad_currency_sends_nothing(
    customer: Customer, fake_stripe: FakeStripe
) -> None:
    fake_stripe.reset_requests()
    with pytest.raises(StripeValidationError, match="currency"):
        customer.add_invoice_item(100, "eurx")
    assert fake_stripe.request_count == 0


def test_upcoming_invoice_is_a_preview_not_stored(
    paying: Customer, price: Price, fake_stripe: FakeStripe
) -> None:
    paying.subscribe(price=price)
    paying.add_invoice_item(300, "usd", "Extra")
    invoices_before = Invoice.objects.count()
    preview = paying.upcoming_invoice()
    assert preview.pk is None and preview.total is not None and preview.total >= 300
    assert preview.preview_lines
    assert Invoice.objects.count() == invoices_before


# --- coupons and promotion codes ---------------------------------------------------------------


def test_add_coupon_applies_a_discount_to_the_subscription(
    paying: Customer, price: Price, fake_stripe: FakeStripe
) -> None:
    sub = paying.subscribe(price=price)
    coupon = StripeCoupon.create(percent_off=25, duration="forever", name="Quarter off")
    updated = paying.add_coupon(coupon=coupon)
    assert updated.pk == sub.pk
    remote = fake_stripe.get("subscription", sub.stripe_id)
    assert len(remote["discounts"]) == 1
    assert len(Subscription.objects.get(pk=sub.pk).discounts or []) == 1


def test_add_coupon_by_promotion_code(paying: Customer, price: Price) -> None:
    paying.subscribe(price=price)
    coupon = StripeCoupon.create(amount_off=500, currency="usd", duration="once")
    StripePromotionCode.create(
        promotion={"type": "coupon", "coupon": coupon.stripe_id}, code="WELCOME5"
    )
    updated = paying.add_coupon(promotion_code="WELCOME5")
    assert len(updated.discounts or []) == 1


def test_add_coupon_refuses_unknown_codes_and_needs_a_subscription(
    paying: Customer, price: Price, fake_stripe: FakeStripe
) -> None:
    with pytest.raises(StripeValidationError, match="subscription"):
        paying.add_coupon(coupon="nope")
    paying.subscribe(price=price)
    fake_stripe.reset_requests()
    with pytest.raises(StripeValidationError, match="coupon"):
        paying.add_coupon(coupon="nope")
    with pytest.raises(StripeValidationError, match="promotion_code"):
        paying.add_coupon(promotion_code="NOPE")
    assert fake_stripe.request_count == 0


def test_purge_deletes_in_stripe_and_soft_deletes(
    customer: Customer, fake_stripe: FakeStripe
) -> None:
    customer.purge()
    assert fake_stripe.get("customer", customer.stripe_id).get("deleted") is True
    row = Customer.objects.get(pk=customer.pk)
    assert row.is_active is False and row.date_purged is not None


# --- review fixes ------------------------------------------------------------------------------


def test_subscribe_twice_is_one_subscription_until_it_ends(
    paying: Customer, price: Price, fake_stripe: FakeStripe
) -> None:
    first = paying.subscribe(price=price)
    again = paying.subscribe(price=price)
    assert again.stripe_id == first.stripe_id
    from stripe_integrations.actions import StripeSubscription

    StripeSubscription.cancel(first)
    renewed = paying.subscribe(price=price)
    assert renewed.stripe_id != first.stripe_id
    separate = paying.subscribe(price=price, idempotency_key="seat-2")
    assert separate.stripe_id not in (first.stripe_id, renewed.stripe_id)


def test_paying_again_with_another_card_after_a_decline(
    customer: Customer, fake_stripe: FakeStripe
) -> None:
    from stripe_integrations.actions import StripeInvoice

    customer.add_invoice_item(1200, "usd", "Consulting")
    invoice = customer.send_invoice(collection_method="charge_automatically")
    with pytest.raises(StripeAPIError):
        StripeInvoice.pay(invoice)  # no card at all yet
    customer.add_payment_method("pm_card_visa")
    paid = StripeInvoice.pay(invoice)
    assert paid.status == "paid" and paid.amount_paid == 1200


def test_refund_by_id_and_a_free_price(paying: Customer, price: Price) -> None:
    intent = paying.charge(3000, "usd")
    refund = StripeRefund.create(intent.stripe_id, amount=Decimal("5.00"))
    assert refund.amount == 500
    with pytest.raises(StripeValidationError, match="minor units"):
        StripeRefund.create("pi_unknown", amount=Decimal("1.00"))
    free = StripePrice.create(product=price.product_id, unit_amount=0, currency="usd")
    assert free.unit_amount == 0


def test_on_session_charge_hands_back_the_client_secret(customer: Customer) -> None:
    customer.add_payment_method("pm_card_visa")
    intent = customer.charge(
        1000, "usd", payment_method="pm_card_authenticationRequired", off_session=False
    )
    assert intent.status == "requires_action" and intent.requires_action
    assert intent.client_secret and "secret" in intent.client_secret
    assert "client_secret" not in str(PaymentIntent.objects.get(pk=intent.pk).raw)
