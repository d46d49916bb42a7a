"""The one mapping accepts the pinned shape and older ones, and never crashes on a null."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from stripe_integrations.actions import StripeCustomer
from stripe_integrations.models import Customer, PaymentMethod, Subscription, SubscriptionItem
from stripe_integrations.sync import sync_objects, sync_subscriptions
from stripe_integrations.sync.mapping import customer_fields

pytestmark = pytest.mark.django_db

PINNED_CUSTOMER = {
    "id": "cus_NffrFeUfNV2Hib",
    "object": "customer",
    "address": {
        "city": "Paris",
        "country": "FR",
        "line1": "1 rue",
        "line2": None,
        "postal_code": "75001",
        "state": None,
    },
    "balance": -500,
    "created": 1680893993,
    "currency": "eur",
    "default_source": None,
    "delinquent": False,
    "description": "A customer",
    "discount": None,
    "email": "jennyrosen@example.com",
    "invoice_prefix": "0759376C",
    "invoice_settings": {
        "custom_fields": None,
        "default_payment_method": "pm_123",
        "footer": None,
        "rendering_options": None,
    },
    "livemode": False,
    "metadata": {"order_id": "6735"},
    "name": "Jenny Rosen",
    "next_invoice_sequence": 3,
    "phone": "+33100000000",
    "preferred_locales": ["fr", "en"],
    "shipping": None,
    "tax_exempt": "none",
    "test_clock": None,
    "a_field_from_the_future": {"nested": True},
}

# 2017-08-15 (what localstripe sends): account_balance, embedded sources and subscriptions.
OLD_CUSTOMER = {
    "id": "cus_old",
    "object": "customer",
    "account_balance": 250,
    "created": 1500000000,
    "currency": "usd",
    "default_source": "card_old",
    "email": "old@example.com",
    "livemode": False,
    "metadata": {},
    "sources": {
        "object": "list",
        "data": [
            {
                "id": "card_old",
                "object": "card",
                "brand": "Visa",
                "last4": "4242",
                "exp_month": 4,
                "exp_year": 2030,
                "customer": "cus_old",
                "funding": "credit",
                "country": "US",
                "name": None,
                "address_zip": "94107",
            },
        ],
        "has_more": False,
    },
    "subscriptions": {
        "object": "list",
        "data": [
            {
                "id": "sub_old",
                "object": "subscription",
                "customer": "cus_old",
                "status": "active",
                "current_period_start": 1500000000,
                "current_period_end": 1502592000,
                "created": 1500000000,
                "livemode": False,
                "metadata": {},
                "quantity": 2,
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": "si_old",
                            "object": "subscription_item",
                            "created": 1500000000,
                            "plan": {"id": "gold", "object": "plan", "product": "prod_1"},
                            "quantity": 2,
                            "metadata": {},
                        }
                    ],
                },
            },
        ],
        "has_more": False,
    },
}


def test_pinned_shape_maps_every_attribute() -> None:
    [row] = sync_objects([PINNED_CUSTOMER])
    row = Customer.objects.get(pk=row.pk)
    assert row.address["city"] == "Paris"
    assert row.balance == -500 and row.currency == "eur"
    assert row.created == datetime(2023, 4, 7, 18, 59, 53, tzinfo=UTC)
    assert row.delinquent is False
    assert row.description == "A customer"
    assert row.default_payment_method_id == "pm_123"
    assert row.invoice_settings["default_payment_method"] == "pm_123"
    assert row.invoice_prefix == "0759376C" and row.next_invoice_sequence == 3
    assert row.preferred_locales == ["fr", "en"]
    assert row.tax_exempt == "none"
    assert row.metadata == {"order_id": "6735"}
    # Nothing Stripe sent is lost, even what we do not map.
    assert row.raw["a_field_from_the_future"] == {"nested": True}


def test_old_shape_maps_renamed_and_embedded_objects() -> None:
    sync_objects([OLD_CUSTOMER])
    row = Customer.objects.get(stripe_id="cus_old")
    assert row.balance == 250
    assert row.default_source_id == "card_old"
    card = PaymentMethod.objects.get(stripe_id="card_old")
    assert (card.object_type, card.type, card.card_last4, card.card_brand) == (
        "card",
        "card",
        "4242",
        "Visa",
    )
    assert row.default_payment == card
    sub = Subscription.objects.get(stripe_id="sub_old")
    assert sub.customer_id == "cus_old" and sub.quantity == 2
    assert sub.current_period_end == datetime.fromtimestamp(1502592000, tz=UTC)
    item = SubscriptionItem.objects.get(stripe_id="si_old")
    assert item.price_stripe_id == "gold" and item.product_stripe_id == "prod_1"


def test_current_periods_are_read_from_items() -> None:
    sub = {
        "id": "sub_new",
        "object": "subscription",
        "customer": "cus_x",
        "status": "active",
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "object": "subscription_item",
                    "price": {"id": "price_a"},
                    "current_period_start": 1700000000,
                    "current_period_end": 1702592000,
                },
                {
                    "id": "si_2",
                    "object": "subscription_item",
                    "price": "price_b",
                    "current_period_start": 1700000100,
                    "current_period_end": 1705000000,
                },
            ],
        },
    }
    sync_subscriptions([sub])
    row = Subscription.objects.get(stripe_id="sub_new")
    assert row.current_period_start == datetime.fromtimestamp(1700000000, tz=UTC)
    assert row.current_period_end == datetime.fromtimestamp(1705000000, tz=UTC)
    assert set(row.items.values_list("price_stripe_id", flat=True)) == {"price_a", "price_b"}


def test_items_removed_in_stripe_are_removed_locally() -> None:
    sub: dict[str, Any] = {
        "id": "sub_r",
        "object": "subscription",
        "status": "active",
        "items": {
            "data": [
                {"id": "si_keep", "object": "subscription_item"},
                {"id": "si_drop", "object": "subscription_item"},
            ]
        },
    }
    sync_subscriptions([sub])
    sub["items"]["data"] = sub["items"]["data"][:1]
    sync_subscriptions([sub])
    assert list(SubscriptionItem.objects.values_list("stripe_id", flat=True)) == ["si_keep"]


@pytest.mark.parametrize("value", [None, "", 0, [], {}, "garbage", True])
def test_nulls_and_wrong_types_never_crash(value: Any) -> None:
    obj: dict[str, Any] = {"id": "cus_null", "object": "customer"}
    for key in PINNED_CUSTOMER:
        if key not in ("id", "object"):
            obj[key] = value
    fields = customer_fields(obj)
    assert fields["stripe_id"] == "cus_null"
    sync_objects([obj])
    assert Customer.objects.filter(stripe_id="cus_null").exists()


def test_sync_from_stripe_data_updates_the_given_instance(user: Any) -> None:
    customer = Customer.objects.create(stripe_id=PINNED_CUSTOMER["id"], subscriber=user)
    result = StripeCustomer.sync_from_stripe_data(customer, PINNED_CUSTOMER)
    assert result is customer
    assert customer.email == "jennyrosen@example.com"
    assert customer.subscriber_id == user.pk and customer.is_active is True
    assert Customer.objects.get(pk=customer.pk).name == "Jenny Rosen"


def test_local_columns_survive_a_sync(user: Any) -> None:
    Customer.objects.create(stripe_id=PINNED_CUSTOMER["id"], subscriber=user)
    sync_objects([PINNED_CUSTOMER])
    row = Customer.objects.get(stripe_id=PINNED_CUSTOMER["id"])
    assert row.subscriber_id == user.pk and row.is_active is True


def test_unknown_object_type_is_refused() -> None:
    with pytest.raises(ValueError, match="transfer"):
        sync_objects([{"id": "tr_1", "object": "transfer"}])
