"""Text Stripe or the database refuse (U+0000, lone surrogates) is a ``ValueError`` naming
the field, raised by every action before any request: nothing is sent, nothing is written,
and no Stripe object is left orphaned by a row PostgreSQL would not store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import models

from stripe_integrations import validation as v
from stripe_integrations.actions import (
    StripeCoupon,
    StripeCustomer,
    StripeInvoice,
    StripeInvoiceItem,
    StripePaymentIntent,
    StripePrice,
    StripeProduct,
    StripePromotionCode,
    StripeRefund,
    StripeSubscription,
)
from stripe_integrations.exceptions import StripeValidationError
from stripe_integrations.models import (
    Coupon,
    Customer,
    Invoice,
    InvoiceItem,
    PaymentIntent,
    Price,
    Product,
    PromotionCode,
    Refund,
    Subscription,
)
from stripe_integrations.testing import FakeStripe

pytestmark = pytest.mark.django_db

NUL = "a\x00b"
SURROGATE = "a\ud83db"  # half of an emoji's UTF-16 pair
ADDRESS = {"line1": "1 Main St", "city": "Paris", "country": "FR", "postal_code": "75001"}


class World:
    """What a case acts on: a fresh user, a mirrored customer, a mirrored monthly price."""

    def __init__(self, user: Any, customer: Customer, price: Price) -> None:
        self.user, self.customer, self.price = user, customer, price


Action = Callable[[World], Any]

#: case -> (action, the field the error names, the model that must gain no row)
CASES: dict[str, tuple[Action, str, type[models.Model]]] = {
    "customer name": (
        lambda w: StripeCustomer.create(w.user, "jenny@example.com", name=NUL),
        "name",
        Customer,
    ),
    "customer email": (
        lambda w: StripeCustomer.create(w.user, f"jen{SURROGATE}@example.com"),
        "email",
        Customer,
    ),
    "customer description": (
        lambda w: StripeCustomer.create(w.user, description=SURROGATE),
        "description",
        Customer,
    ),
    "customer phone": (lambda w: StripeCustomer.create(w.user, phone=NUL), "phone", Customer),
    "customer metadata value": (
        lambda w: StripeCustomer.create(w.user, metadata={"note": NUL}),
        "metadata.note",
        Customer,
    ),
    "customer metadata key": (
        lambda w: StripeCustomer.create(w.user, metadata={NUL: "x"}),
        "metadata",
        Customer,
    ),
    "customer address": (
        lambda w: StripeCustomer.create(w.user, address={**ADDRESS, "line2": NUL}),
        "address.line2",
        Customer,
    ),
    "customer shipping": (
        lambda w: StripeCustomer.create(
            w.user, shipping={"name": "Jenny", "address": {**ADDRESS, "city": SURROGATE}}
        ),
        "shipping.address.city",
        Customer,
    ),
    "customer preferred locales": (
        lambda w: StripeCustomer.create(w.user, preferred_locales=["fr", NUL]),
        "preferred_locales[1]",
        Customer,
    ),
    "customer tax id": (
        lambda w: StripeCustomer.create(w.user, tax_id_data=[{"type": "eu_vat", "value": NUL}]),
        "tax_id_data[0].value",
        Customer,
    ),
    "customer update name": (
        lambda w: StripeCustomer.update(w.customer, name=NUL),
        "name",
        Customer,
    ),
    "customer update metadata": (
        lambda w: StripeCustomer.update(w.customer, metadata={"k": SURROGATE}),
        "metadata.k",
        Customer,
    ),
    "customer list filter": (
        lambda w: list(StripeCustomer.list(email=f"{NUL}@example.com")),
        "email",
        Customer,
    ),
    "model helper door": (
        lambda w: w.customer.add_invoice_item(500, "usd", description=NUL),
        "description",
        InvoiceItem,
    ),
    "product name": (lambda w: StripeProduct.create(name=NUL), "name", Product),
    "product description": (
        lambda w: StripeProduct.create(name="Gold", description=SURROGATE),
        "description",
        Product,
    ),
    "product update": (
        lambda w: StripeProduct.update(w.price.product_id, name=NUL),
        "name",
        Product,
    ),
    "price nickname": (
        lambda w: StripePrice.create(
            product=w.price.product_id, unit_amount=100, currency="usd", nickname=NUL
        ),
        "nickname",
        Price,
    ),
    "price product_data": (
        lambda w: StripePrice.create(
            product_data={"name": SURROGATE}, unit_amount=100, currency="usd"
        ),
        "product_data.name",
        Price,
    ),
    "coupon name": (
        lambda w: StripeCoupon.create(percent_off=10, duration="once", name=NUL),
        "name",
        Coupon,
    ),
    "promotion code": (
        lambda w: StripePromotionCode.create(promotion={"type": "coupon", "coupon": "c"}, code=NUL),
        "code",
        PromotionCode,
    ),
    "invoice item description": (
        lambda w: StripeInvoiceItem.create(w.customer, 500, "usd", description=NUL),
        "description",
        InvoiceItem,
    ),
    "invoice footer": (
        lambda w: StripeInvoice.send(w.customer, footer=SURROGATE),
        "footer",
        Invoice,
    ),
    "invoice custom fields": (
        lambda w: StripeInvoice.send(w.customer, custom_fields=[{"name": "PO", "value": NUL}]),
        "custom_fields[0].value",
        Invoice,
    ),
    "payment description": (
        lambda w: StripePaymentIntent.charge(
            w.customer, 500, "usd", payment_method="pm_card_visa", description=NUL
        ),
        "description",
        PaymentIntent,
    ),
    "payment shipping": (
        lambda w: StripePaymentIntent.charge(
            w.customer,
            500,
            "usd",
            payment_method="pm_card_visa",
            shipping={"name": NUL, "address": ADDRESS},
        ),
        "shipping.name",
        PaymentIntent,
    ),
    "refund metadata": (
        lambda w: StripeRefund.create("pi_123", metadata={"reason": NUL}),
        "metadata.reason",
        Refund,
    ),
    "subscription item metadata": (
        lambda w: StripeSubscription.create(
            w.customer, items=[{"price": w.price.stripe_id, "metadata": {"seat": NUL}}]
        ),
        "items[0].metadata.seat",
        Subscription,
    ),
    "subscription description": (
        lambda w: StripeSubscription.create(w.customer, w.price, description=SURROGATE),
        "description",
        Subscription,
    ),
}


@pytest.fixture
def world(fake_stripe: FakeStripe, user: Any, django_user_model: Any) -> World:
    customer, _ = Customer.get_or_create(subscriber=user)
    product = StripeProduct.create(name="Gold")
    price = StripePrice.create(
        product=product.stripe_id, unit_amount=1500, currency="usd", recurring={"interval": "month"}
    )
    other = django_user_model.objects.create(username="someone-new", email="new@example.com")
    fake_stripe.reset_requests()
    return World(other, customer, price)


@pytest.mark.parametrize("case", list(CASES))
def test_refused_text_is_a_value_error_naming_the_field_before_any_request(
    case: str, world: World, fake_stripe: FakeStripe
) -> None:
    action, field, model = CASES[case]
    rows = model._default_manager.count()
    customers = Customer.objects.count()
    with pytest.raises(ValueError) as caught:
        action(world)
    assert isinstance(caught.value, StripeValidationError)
    assert caught.value.field == field, str(caught.value)
    assert str(caught.value).startswith(f"{field}: ")
    assert "U+0000" in str(caught.value) or "U+D83D" in str(caught.value)
    assert fake_stripe.request_count == 0, fake_stripe.requests
    assert model._default_manager.count() == rows
    assert Customer.objects.count() == customers


def test_ordinary_text_passes() -> None:
    params = {"name": "Zoë 🎉", "metadata": {"note": "tab\there"}, "items": [{"q": "ok"}]}
    assert v.check_text("", params) is params


def test_the_message_names_the_character() -> None:
    with pytest.raises(StripeValidationError, match=r"^metadata: key 'a\\x00b' contains a NUL"):
        v.check_text("", {"metadata": {NUL: "x"}})
    with pytest.raises(
        StripeValidationError, match=r"^name: contains a lone surrogate \(U\+D83D\)"
    ):
        v.check_text("name", SURROGATE)
