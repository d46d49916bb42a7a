"""Customer's subscription questions, answered from the mirror in one query each."""

from __future__ import annotations

from typing import Any

import pytest

from stripe_integrations.models import Customer, Invoice, Price
from stripe_integrations.models.customer import MultipleSubscriptionsError
from stripe_integrations.sync import sync_objects

pytestmark = pytest.mark.django_db

NOW = 1_790_000_000


def subscription(sub_id: str, status: str, product: str = "prod_gold", **extra: Any) -> dict:
    """An endive-shaped subscription: periods on the items only."""
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": "cus_1",
        "status": status,
        "created": NOW,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{sub_id}",
                    "object": "subscription_item",
                    "quantity": 3,
                    "current_period_start": NOW,
                    "current_period_end": NOW + 30 * 86400,
                    "price": {
                        "id": f"price_{product}",
                        "object": "price",
                        "product": product,
                        "currency": "usd",
                        "unit_amount": 1500,
                        "type": "recurring",
                        "recurring": {"interval": "month", "interval_count": 1},
                    },
                }
            ],
        },
        **extra,
    }


@pytest.fixture
def customer() -> Customer:
    return Customer.objects.create(stripe_id="cus_1", email="c@example.com")


def test_item_level_periods_and_active_subscription(
    customer: Customer, django_assert_num_queries: Any
) -> None:
    sync_objects([subscription("sub_a", "active")])
    with django_assert_num_queries(1):
        assert customer.has_any_active_subscription() is True
    with django_assert_num_queries(1):
        assert customer.is_subscribed_to("prod_gold") is True
    with django_assert_num_queries(1):
        assert customer.is_subscribed_to("prod_silver") is False
    sub = customer.subscription
    assert sub is not None and sub.current_period_end is not None
    assert sub.items.get().quantity == 3
    price = Price.objects.get(stripe_id="price_prod_gold")  # mirrored from the item
    assert (price.unit_amount, price.recurring_interval, price.product_id) == (
        1500,
        "month",
        "prod_gold",
    )


@pytest.mark.parametrize(
    ("status", "active", "valid"),
    [
        ("active", True, True),
        ("trialing", True, True),
        ("past_due", False, True),
        ("canceled", False, False),
        ("incomplete", False, False),
        ("incomplete_expired", False, False),
        ("unpaid", False, False),
        ("paused", False, False),
    ],
)
def test_one_definition_of_active_and_valid(
    customer: Customer, status: str, active: bool, valid: bool
) -> None:
    sync_objects([subscription("sub_s", status)])
    assert customer.has_any_active_subscription() is active
    assert customer.active_subscriptions.exists() is active
    assert customer.valid_subscriptions.exists() is valid
    assert customer.is_subscribed_to("prod_gold") is valid
    assert (customer.subscription is not None) is valid


def test_several_valid_subscriptions_is_a_clear_error(customer: Customer) -> None:
    sync_objects([subscription("sub_1", "active"), subscription("sub_2", "past_due", "prod_b")])
    with pytest.raises(MultipleSubscriptionsError, match="valid_subscriptions"):
        _ = customer.subscription
    assert customer.valid_subscriptions.count() == 2


def test_relations_people_query(customer: Customer) -> None:
    sync_objects(
        [
            subscription("sub_r", "active"),
            {
                "id": "in_r",
                "object": "invoice",
                "customer": "cus_1",
                "status": "paid",
                "amount_paid": 1500,
                "currency": "usd",
            },
            {
                "id": "ch_r",
                "object": "charge",
                "customer": "cus_1",
                "amount": 1500,
                "currency": "usd",
                "payment_intent": "pi_r",
                "status": "succeeded",
            },
            {"id": "pm_r", "object": "payment_method", "customer": "cus_1", "type": "card"},
        ]
    )
    assert [s.stripe_id for s in customer.subscriptions.all()] == ["sub_r"]
    assert [i.stripe_id for i in customer.invoices.all()] == ["in_r"]
    assert [c.stripe_id for c in customer.charges.all()] == ["ch_r"]
    assert [p.stripe_id for p in customer.payment_methods.all()] == ["pm_r"]
    assert Price.objects.get().product_id == "prod_gold"


# --- invoice shapes across API versions ------------------------------------------------------

ENDIVE_INVOICE = {
    "id": "in_new",
    "object": "invoice",
    "customer": "cus_1",
    "status": "paid",
    "currency": "usd",
    "subtotal": 3000,
    "total": 2700,
    "amount_due": 2700,
    "amount_paid": 2700,
    "amount_remaining": 0,
    "number": "ABC-0001",
    "status_transitions": {"finalized_at": NOW, "paid_at": NOW + 5, "voided_at": None},
    "parent": {
        "type": "subscription_details",
        "subscription_details": {"subscription": "sub_x", "metadata": {}},
    },
    "payments": {
        "object": "list",
        "data": [
            {
                "id": "inpay_1",
                "object": "invoice_payment",
                "is_default": True,
                "payment": {"type": "payment_intent", "payment_intent": "pi_new"},
            }
        ],
        "has_more": False,
    },
    "confirmation_secret": {"client_secret": "pi_new_secret_abc", "type": "payment_intent"},
    "lines": {
        "object": "list",
        "has_more": False,
        "data": [
            {
                "id": "il_1",
                "object": "line_item",
                "amount": 3000,
                "currency": "usd",
                "quantity": 2,
                "period": {"start": NOW, "end": NOW + 100},
                "pricing": {
                    "type": "price_details",
                    "price_details": {"price": "price_a", "product": "prod_a"},
                },
                "parent": {
                    "type": "subscription_item_details",
                    "subscription_item_details": {
                        "subscription": "sub_x",
                        "subscription_item": "si_x",
                    },
                },
            },
        ],
    },
}

OLD_INVOICE = {
    "id": "in_old",
    "object": "invoice",
    "customer": "cus_1",
    "subscription": "sub_old",
    "payment_intent": "pi_old",
    "charge": "ch_old",
    "paid": True,
    "status": "paid",
    "amount_due": 500,
    "lines": {
        "object": "list",
        "has_more": False,
        "data": [
            {
                "id": "sub_old",
                "object": "line_item",
                "type": "subscription",
                "amount": 500,
                "plan": {
                    "id": "gold",
                    "object": "plan",
                    "product": "prod_g",
                    "amount": 500,
                    "interval": "month",
                    "currency": "usd",
                },
            },
        ],
    },
}


def test_invoice_of_the_pinned_version(customer: Customer) -> None:
    sync_objects([ENDIVE_INVOICE])
    invoice = Invoice.objects.get(stripe_id="in_new")
    assert invoice.subscription_id == "sub_x"
    assert invoice.payment_intent == "pi_new"
    assert (invoice.total, invoice.amount_paid, invoice.currency) == (2700, 2700, "usd")
    assert invoice.paid_at is not None and invoice.finalized_at is not None
    assert "confirmation_secret" not in invoice.raw  # client secrets are never stored
    line = invoice.lines.get()
    assert (line.price_stripe_id, line.product_stripe_id, line.quantity) == ("price_a", "prod_a", 2)
    assert line.subscription_stripe_id == "sub_x"


def test_invoice_of_an_old_version_with_reused_line_ids(customer: Customer) -> None:
    second = {**OLD_INVOICE, "id": "in_old2"}
    sync_objects([OLD_INVOICE, second])
    assert Invoice.objects.get(stripe_id="in_old").subscription_id == "sub_old"
    assert Invoice.objects.get(stripe_id="in_old").payment_intent == "pi_old"
    lines = sorted(
        Invoice.objects.get(stripe_id="in_old2").lines.values_list("stripe_id", flat=True)
    )
    assert lines == ["in_old2:sub_old"]
    assert Price.objects.get(stripe_id="gold").unit_amount == 500  # the plan, as a price


def test_deleted_stub_keeps_the_last_fields() -> None:
    sync_objects([{"id": "prod_d", "object": "product", "name": "Doomed", "active": True}])
    sync_objects([{"id": "prod_d", "object": "product", "deleted": True}])
    from stripe_integrations.models import Product

    product = Product.objects.get(stripe_id="prod_d")
    assert product.is_deleted is True and product.name == "Doomed"
