"""Tests of the in-process Stripe fake, driven through stripe-python's own client."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import stripe

from stripe_integrations import testing
from stripe_integrations.testing import API_VERSION, FakeStripe

pytest_plugins = ["stripe_integrations.testing.fixtures"]

CUSTOMER_FIELDS = {
    "id",
    "object",
    "address",
    "balance",
    "created",
    "currency",
    "default_source",
    "delinquent",
    "description",
    "discount",
    "email",
    "invoice_prefix",
    "invoice_settings",
    "livemode",
    "metadata",
    "name",
    "next_invoice_sequence",
    "phone",
    "preferred_locales",
    "shipping",
    "tax_exempt",
    "test_clock",
}


@pytest.fixture
def fake() -> FakeStripe:
    return FakeStripe(seed=1234)


@pytest.fixture
def client(fake: FakeStripe) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_x", http_client=fake, max_network_retries=0)


def make_client(fake: FakeStripe, retries: int) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_x", http_client=fake, max_network_retries=retries)


def response(obj: stripe.StripeObject) -> stripe.StripeResponse:
    assert obj.last_response is not None
    return obj.last_response


def monthly_price(client: stripe.StripeClient, amount: int = 1000) -> stripe.Price:
    return client.v1.prices.create(
        params={
            "unit_amount": amount,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "product_data": {"name": "Pro"},
        }
    )


# -- customers --------------------------------------------------------------------------------


def test_customer_create_returns_stripe_shape(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(
        params={
            "email": "a@b.c",
            "name": "Ada",
            "balance": 150,
            "address": {"city": "Paris", "country": "FR"},
            "preferred_locales": ["fr", "en"],
            "invoice_settings": {"footer": "Thanks"},
        }
    )
    data = customer.to_dict()
    assert set(data) == CUSTOMER_FIELDS
    assert customer.id.startswith("cus_") and len(customer.id) == len("cus_") + 14
    assert customer.object == "customer"
    assert customer.email == "a@b.c"
    assert customer.balance == 150
    assert data["address"] == {
        "city": "Paris",
        "country": "FR",
        "line1": None,
        "line2": None,
        "postal_code": None,
        "state": None,
    }
    assert customer.preferred_locales == ["fr", "en"]
    assert data["invoice_settings"] == {
        "custom_fields": None,
        "default_payment_method": None,
        "footer": "Thanks",
        "rendering_options": None,
    }
    assert customer.tax_exempt == "none"
    assert customer.livemode is False
    assert len(customer.invoice_prefix or "") == 8
    assert (customer.invoice_prefix or "").upper() == customer.invoice_prefix


def test_customer_retrieve_and_update(client: stripe.StripeClient) -> None:
    created = client.v1.customers.create(params={"email": "old@b.c"})
    updated = client.v1.customers.update(created.id, params={"email": "new@b.c", "phone": "1"})
    fetched = client.v1.customers.retrieve(created.id)
    assert updated.email == "new@b.c"
    assert fetched.email == "new@b.c"
    assert fetched.phone == "1"
    assert fetched.created == created.created


def test_metadata_update_merges_and_empty_string_unsets(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"metadata": {"a": "1", "b": "2"}})
    updated = client.v1.customers.update(customer.id, params={"metadata": {"a": "", "c": "3"}})
    assert updated.to_dict()["metadata"] == {"b": "2", "c": "3"}
    cleared = client.v1.customers.update(customer.id, params={"metadata": ""})
    assert cleared.to_dict()["metadata"] == {}


def test_empty_string_unsets_nullable_field(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"description": "vip"})
    updated = client.v1.customers.update(customer.id, params={"description": ""})
    assert updated.description is None


def test_unknown_parameter_is_rejected(client: stripe.StripeClient, fake: FakeStripe) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        misspelt: Any = {"emial": "a@b.c"}
        client.v1.customers.create(params=misspelt)
    assert info.value.http_status == 400
    assert info.value.code == "parameter_unknown"
    assert info.value.param == "emial"
    assert fake.objects("customer") == []


def test_missing_customer_is_404(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.retrieve("cus_missing")
    assert info.value.http_status == 404
    assert info.value.code == "resource_missing"
    assert info.value.param == "id"
    assert info.value.user_message == "No such customer: 'cus_missing'"


def test_deleted_customer_stub(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "gone@b.c"})
    deleted = client.v1.customers.delete(customer.id)
    assert deleted.to_dict() == {"id": customer.id, "object": "customer", "deleted": True}
    again = client.v1.customers.retrieve(customer.id, params={"expand": ["default_source"]})
    assert response(again).code == 200
    assert again.to_dict() == {"id": customer.id, "object": "customer", "deleted": True}
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.update(customer.id, params={"name": "x"})
    assert info.value.http_status == 404
    assert info.value.code == "resource_missing"
    assert client.v1.customers.list().data == []


def test_customer_list_is_newest_first_with_pagination(client: stripe.StripeClient) -> None:
    ids = [client.v1.customers.create(params={"name": f"c{i}"}).id for i in range(5)]
    newest_first = ids[::-1]
    first = client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in first.data] == newest_first[:2]
    assert first.has_more is True
    assert first.url == "/v1/customers"
    second = client.v1.customers.list(params={"limit": 2, "starting_after": first.data[-1].id})
    assert [c.id for c in second.data] == newest_first[2:4]
    last = client.v1.customers.list(params={"limit": 2, "starting_after": second.data[-1].id})
    assert [c.id for c in last.data] == newest_first[4:]
    assert last.has_more is False
    before = client.v1.customers.list(params={"limit": 2, "ending_before": newest_first[3]})
    assert [c.id for c in before.data] == newest_first[1:3]
    assert before.has_more is True
    every = [c.id for c in client.v1.customers.list(params={"limit": 2}).auto_paging_iter()]
    assert every == newest_first


def test_customer_list_filters(client: stripe.StripeClient, fake: FakeStripe) -> None:
    match = client.v1.customers.create(params={"email": "x@b.c"})
    client.v1.customers.create(params={"email": "y@b.c"})
    client.v1.customers.create(params={"email": "X@b.c"})
    found = client.v1.customers.list(params={"email": "x@b.c"})
    assert [c.id for c in found.data] == [match.id]
    old = fake.add("customer", email="old@b.c", created=1000)
    ranged = client.v1.customers.list(params={"created": {"lte": 1000}})
    assert [c.id for c in ranged.data] == [old["id"]]


@pytest.mark.parametrize("limit", [0, 101])
def test_customer_list_limit_bounds(client: stripe.StripeClient, limit: int) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.list(params={"limit": limit})
    assert info.value.param == "limit"


def test_customer_with_card_source_and_payment_method(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(
        params={
            "source": "tok_visa",
            "payment_method": "pm_card_mastercard",
            "invoice_settings": {"default_payment_method": "pm_card_mastercard"},
        }
    )
    assert customer.to_dict()["default_source"].startswith("card_")
    default_pm = customer.invoice_settings and customer.invoice_settings.default_payment_method
    assert isinstance(default_pm, str) and default_pm.startswith("pm_")
    assert default_pm != "pm_card_mastercard"
    pm = client.v1.payment_methods.retrieve(default_pm)
    assert pm.customer == customer.id
    assert pm.card is not None and pm.card.brand == "mastercard"


def test_payment_method_param_attaches_without_setting_default(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    assert customer.invoice_settings is not None
    assert customer.invoice_settings.default_payment_method is None
    listed = client.v1.customers.payment_methods.list(customer.id)
    assert len(listed.data) == 1
    assert listed.data[0].customer == customer.id


# -- payment methods and sources --------------------------------------------------------------


def test_payment_method_shape_and_attach_detach(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    pm = client.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_visa"}})
    assert pm.id.startswith("pm_")
    assert pm.customer is None
    assert pm.type == "card"
    assert pm.allow_redisplay == "unspecified"
    assert pm.card is not None
    assert (pm.card.brand, pm.card.last4, pm.card.funding) == ("visa", "4242", "credit")
    attached = client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    assert attached.customer == customer.id
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": pm.id}}
    )
    detached = client.v1.payment_methods.detach(pm.id)
    assert detached.customer is None
    refreshed = client.v1.customers.retrieve(customer.id)
    assert refreshed.invoice_settings is not None
    assert refreshed.invoice_settings.default_payment_method is None


def test_payment_method_from_card_number(client: stripe.StripeClient) -> None:
    pm = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "5555555555554444", "exp_month": 4, "exp_year": 2031, "cvc": "1"},
        }
    )
    assert pm.card is not None
    assert (pm.card.brand, pm.card.last4, pm.card.exp_month, pm.card.exp_year) == (
        "mastercard",
        "4444",
        4,
        2031,
    )


def test_test_payment_method_ids_materialize(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    first = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    second = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    assert first.id != second.id
    assert {first.id, second.id}.isdisjoint({"pm_card_visa"})
    listed = client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"})
    assert {pm.id for pm in listed.data} == {first.id, second.id}
    assert (
        client.v1.payment_methods.list(params={"customer": customer.id, "type": "sepa_debit"}).data
        == []
    )


def test_declining_card_fails_to_attach(client: stripe.StripeClient, fake: FakeStripe) -> None:
    customer = client.v1.customers.create()
    with pytest.raises(stripe.CardError) as info:
        client.v1.payment_methods.attach("pm_card_chargeDeclined", params={"customer": customer.id})
    assert info.value.http_status == 402
    assert info.value.code == "card_declined"
    with pytest.raises(stripe.CardError):
        client.v1.customers.create(params={"payment_method": "pm_card_chargeDeclined"})
    assert [c["id"] for c in fake.objects("customer")] == [customer.id]


def test_default_payment_method_must_be_attached(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    loose = client.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_visa"}})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.update(
            customer.id, params={"invoice_settings": {"default_payment_method": loose.id}}
        )
    assert info.value.param == "invoice_settings[default_payment_method]"


def test_card_sources(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    card = client.v1.customers.payment_sources.create(customer.id, params={"source": "tok_visa"})
    assert card.id.startswith("card_")
    data = card.to_dict()
    assert data["object"] == "card"
    assert (data["brand"], data["last4"], data["customer"]) == ("Visa", "4242", customer.id)
    second = client.v1.customers.payment_sources.create(
        customer.id, params={"source": "tok_mastercard"}
    )
    assert client.v1.customers.retrieve(customer.id).default_source == card.id
    fetched = client.v1.customers.payment_sources.retrieve(customer.id, second.id)
    assert fetched.to_dict()["brand"] == "MasterCard"
    listed = client.v1.customers.payment_sources.list(customer.id)
    assert [s.id for s in listed.data] == [second.id, card.id]
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.payment_sources.create(customer.id, params={"source": "tok_nope"})
    assert info.value.param == "source"


def test_update_default_source(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"source": "tok_visa"})
    other = client.v1.customers.payment_sources.create(customer.id, params={"source": "tok_amex"})
    updated = client.v1.customers.update(customer.id, params={"default_source": other.id})
    assert updated.default_source == other.id
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.update(customer.id, params={"default_source": "card_nope"})
    assert info.value.param == "default_source"


# -- expand -----------------------------------------------------------------------------------


def test_expand_replaces_ids_with_objects(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(
        params={
            "source": "tok_visa",
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    expanded = client.v1.customers.retrieve(
        customer.id,
        params={"expand": ["invoice_settings.default_payment_method", "default_source"]},
    )
    data = expanded.to_dict()
    assert data["invoice_settings"]["default_payment_method"]["object"] == "payment_method"
    assert data["default_source"]["object"] == "card"
    plain = client.v1.customers.retrieve(customer.id).to_dict()
    assert isinstance(plain["default_source"], str)
    assert "cash_balance" not in plain
    with_balance = client.v1.customers.retrieve(customer.id, params={"expand": ["cash_balance"]})
    assert with_balance.to_dict()["cash_balance"]["object"] == "cash_balance"


def test_expand_on_list_data(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    pm_id = client.v1.customers.payment_methods.list(customer.id).data[0].id
    price = monthly_price(client)
    client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "default_payment_method": pm_id,
        }
    )
    listed = client.v1.subscriptions.list(
        params={"customer": customer.id, "expand": ["data.default_payment_method"]}
    )
    assert listed.data[0].to_dict()["default_payment_method"]["id"] == pm_id


def test_expand_unknown_property_is_rejected(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.retrieve(customer.id, params={"expand": ["nonsense"]})
    assert "cannot be expanded" in (info.value.user_message or "")


# -- products, prices, subscriptions ----------------------------------------------------------


def test_products_and_prices(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Gold", "metadata": {"tier": "1"}})
    assert product.id.startswith("prod_") and product.active is True
    price = client.v1.prices.create(
        params={
            "product": product.id,
            "unit_amount": 2500,
            "currency": "EUR",
            "recurring": {"interval": "year"},
        }
    )
    assert price.id.startswith("price_")
    assert (price.currency, price.unit_amount) == ("eur", 2500)
    assert price.to_dict()["unit_amount_decimal"] == Decimal("2500")
    assert price.type == "recurring"
    assert price.recurring is not None
    assert (price.recurring.interval, price.recurring.interval_count) == ("year", 1)
    one_time = client.v1.prices.create(
        params={"product": product.id, "unit_amount": 5, "currency": "eur"}
    )
    assert one_time.type == "one_time" and one_time.recurring is None
    assert client.v1.products.retrieve(product.id).name == "Gold"
    assert client.v1.prices.retrieve(price.id).product == product.id
    listed = client.v1.prices.list(params={"product": product.id, "type": "recurring"})
    assert [p.id for p in listed.data] == [price.id]
    assert [p.id for p in client.v1.products.list().data] == [product.id]
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(
            params={"product": "prod_nope", "unit_amount": 1, "currency": "usd"}
        )
    assert (info.value.http_status, info.value.param) == (400, "product")


def test_subscription_shape_has_item_level_periods(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(
        params={
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    price = monthly_price(client)
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price.id, "quantity": 3}],
            "metadata": {"plan": "pro"},
        }
    )
    data = sub.to_dict()
    assert sub.id.startswith("sub_")
    assert sub.status == "active"
    assert "current_period_start" not in data and "current_period_end" not in data
    assert (sub.customer, sub.currency, sub.collection_method) == (
        customer.id,
        "usd",
        "charge_automatically",
    )
    assert (sub.cancel_at_period_end, sub.canceled_at, sub.ended_at) == (False, None, None)
    assert sub.start_date == sub.created == sub.billing_cycle_anchor
    assert data["discounts"] == [] and data["latest_invoice"].startswith("in_")
    assert data["metadata"] == {"plan": "pro"}
    items = data["items"]
    assert (items["object"], items["has_more"], items["total_count"]) == ("list", False, 1)
    item = items["data"][0]
    assert item["id"].startswith("si_")
    assert (item["object"], item["quantity"], item["subscription"]) == (
        "subscription_item",
        3,
        sub.id,
    )
    assert item["price"]["id"] == price.id and item["price"]["object"] == "price"
    assert item["current_period_start"] == sub.start_date
    assert item["current_period_end"] - item["current_period_start"] == 30 * 86_400


def test_subscription_with_trial(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    price = monthly_price(client)
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price.id}], "trial_period_days": 14}
    )
    assert sub.status == "trialing"
    assert sub.trial_start == sub.created
    assert sub.trial_end == sub.created + 14 * 86_400
    assert sub["items"].data[0].current_period_end == sub.trial_end
    ended = client.v1.subscriptions.update(sub.id, params={"trial_end": "now"})
    assert ended.status == "active"


def test_subscription_create_validates_references(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscriptions.create(
            params={"customer": "cus_nope", "items": [{"price": "price_x"}]}
        )
    assert (info.value.http_status, info.value.code, info.value.param) == (
        400,
        "resource_missing",
        "customer",
    )
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscriptions.create(
            params={"customer": customer.id, "items": [{"price": "price_nope"}]}
        )
    assert (info.value.code, info.value.param) == ("resource_missing", "items[0][price]")


def test_subscription_update_and_cancel(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    price = monthly_price(client)
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price.id}]}
    )
    period_end = sub["items"].data[0].current_period_end
    updated = client.v1.subscriptions.update(
        sub.id, params={"cancel_at_period_end": True, "metadata": {"k": "v"}}
    )
    assert updated.cancel_at_period_end is True
    assert updated.cancel_at == period_end
    assert updated.metadata.to_dict() == {"k": "v"}
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled"
    assert canceled.canceled_at is not None and canceled.ended_at is not None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.update(sub.id, params={"description": "x"})


def test_subscription_items_update(client: stripe.StripeClient, fake: FakeStripe) -> None:
    customer = client.v1.customers.create()
    basic, pro = monthly_price(client, 500), monthly_price(client, 2000)
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": basic.id}]}
    )
    item_id = sub["items"].data[0].id
    changed = client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item_id, "quantity": 4}, {"price": pro.id}]}
    )
    assert [(i.price.id, i.quantity) for i in changed["items"].data] == [(basic.id, 4), (pro.id, 1)]
    assert changed["items"].total_count == 2
    trimmed = client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item_id, "deleted": True}]}
    )
    assert [i.price.id for i in trimmed["items"].data] == [pro.id]
    listed = client.v1.subscription_items.list(params={"subscription": sub.id})
    assert [i.price.id for i in listed.data] == [pro.id]
    assert fake.events[-1]["data"]["previous_attributes"]["items"]["total_count"] == 2


def test_subscription_list_status_filter(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    price = monthly_price(client)
    params: Any = {"customer": customer.id, "items": [{"price": price.id}]}
    first = client.v1.subscriptions.create(params=params)
    second = client.v1.subscriptions.create(params=params)
    client.v1.subscriptions.cancel(first.id)
    default = client.v1.subscriptions.list(params={"customer": customer.id})
    assert [s.id for s in default.data] == [second.id]
    everything = client.v1.subscriptions.list(params={"customer": customer.id, "status": "all"})
    assert [s.id for s in everything.data] == [second.id, first.id]
    canceled = client.v1.subscriptions.list(params={"status": "canceled"})
    assert [s.id for s in canceled.data] == [first.id]


def test_deleting_customer_cancels_subscriptions(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create()
    price = monthly_price(client)
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price.id}]}
    )
    client.v1.customers.delete(customer.id)
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"


def test_failing_card_makes_subscription_incomplete(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(
        params={
            "payment_method": "pm_card_chargeCustomerFail",
            "invoice_settings": {"default_payment_method": "pm_card_chargeCustomerFail"},
        }
    )
    price = monthly_price(client)
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price.id}]}
    )
    assert sub.status == "incomplete"
    with pytest.raises(stripe.CardError):
        client.v1.subscriptions.create(
            params={
                "customer": customer.id,
                "items": [{"price": price.id}],
                "payment_behavior": "error_if_incomplete",
            }
        )


# -- events -----------------------------------------------------------------------------------


def test_mutations_emit_events(client: stripe.StripeClient, fake: FakeStripe) -> None:
    customer = client.v1.customers.create(
        params={"email": "a@b.c", "metadata": {"a": "1"}},
        options={"idempotency_key": "create-1"},
    )
    client.v1.customers.update(customer.id, params={"email": "z@b.c", "metadata": {"b": "2"}})
    client.v1.customers.update(customer.id, params={"email": "z@b.c"})  # no change, no event
    client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    client.v1.customers.payment_sources.create(customer.id, params={"source": "tok_visa"})
    client.v1.customers.delete(customer.id)
    assert fake.event_types == [
        "customer.created",
        "customer.updated",
        "payment_method.attached",
        "customer.source.created",
        "customer.updated",
        "customer.deleted",
    ]
    created, updated = fake.events[0], fake.events[1]
    assert created["id"].startswith("evt_")
    assert created["object"] == "event"
    assert created["api_version"] == API_VERSION
    assert created["livemode"] is False
    assert created["pending_webhooks"] == 0
    assert created["data"]["object"]["id"] == customer.id
    assert created["request"] == {
        "id": response(customer).request_id,
        "idempotency_key": "create-1",
    }
    assert updated["data"]["object"]["email"] == "z@b.c"
    assert updated["data"]["previous_attributes"] == {"email": "a@b.c", "metadata": {"b": None}}


def test_subscription_events(client: stripe.StripeClient, fake: FakeStripe) -> None:
    customer = client.v1.customers.create()
    price = monthly_price(client)
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price.id}]}
    )
    client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    client.v1.subscriptions.cancel(sub.id)
    sub_events = [e for e in fake.events if e["type"].startswith("customer.subscription.")]
    assert [e["type"] for e in sub_events] == [
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    ]
    assert sub_events[1]["data"]["previous_attributes"] == {
        "cancel_at_period_end": False,
        "cancel_at": None,
    }
    assert sub_events[2]["data"]["object"]["status"] == "canceled"


def test_events_are_served_by_the_api(client: stripe.StripeClient, fake: FakeStripe) -> None:
    customer = client.v1.customers.create()
    client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    listed = client.v1.events.list()
    assert [e.type for e in listed.data] == ["payment_method.attached", "customer.created"]
    only = client.v1.events.list(params={"type": "customer.*"})
    assert [e.type for e in only.data] == ["customer.created"]
    event = client.v1.events.retrieve(listed.data[1].id)
    assert event.data.object["id"] == customer.id


# -- idempotency and concurrency --------------------------------------------------------------


def run_threads(count: int, target: Any) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = target(index)
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_idempotent_creates_make_one_object() -> None:
    fake = FakeStripe(latency=0.005)  # widens the window a racy replay check would lose in
    client = make_client(fake, retries=0)

    def create(_: int) -> stripe.Customer:
        return client.v1.customers.create(
            params={"email": "same@b.c"}, options={"idempotency_key": "one-key"}
        )

    results = run_threads(20, create)
    assert all(isinstance(result, stripe.Customer) for result in results)
    assert len({result.id for result in results}) == 1
    assert len(fake.objects("customer")) == 1
    assert len({result.last_response.body for result in results}) == 1
    replayed = [r.last_response.headers.get("Idempotent-Replayed") for r in results]
    assert replayed.count("true") == 19
    assert fake.request_count == 20
    assert sum(request.replayed for request in fake.requests) == 19
    assert fake.event_types == ["customer.created"]


def test_concurrent_distinct_creates_are_all_stored(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    results = run_threads(20, lambda i: client.v1.customers.create(params={"name": str(i)}))
    assert len({result.id for result in results}) == 20
    listed = client.v1.customers.list(params={"limit": 100})
    by_request = {result.last_response.request_id: result.id for result in results}
    served = [by_request[request.request_id] for request in fake.requests[:20]]
    assert [c.id for c in listed.data] == served[::-1]


def test_same_key_with_other_params_is_idempotency_error(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    client.v1.customers.create(params={"email": "a@b.c"}, options={"idempotency_key": "k1"})
    with pytest.raises(stripe.IdempotencyError) as info:
        client.v1.customers.create(params={"email": "b@b.c"}, options={"idempotency_key": "k1"})
    assert info.value.http_status == 400
    assert info.value.error is not None and info.value.error.type == "idempotency_error"
    assert len(fake.objects("customer")) == 1


def test_get_requests_ignore_idempotency_keys(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    customer = client.v1.customers.create(options={"idempotency_key": "k2"})
    fetched = client.v1.customers.retrieve(customer.id, options={"idempotency_key": "k2"})
    assert fetched.id == customer.id
    assert fake.requests[-1].idempotency_key is None
    assert fake.requests[-1].replayed is False


# -- injected failures ------------------------------------------------------------------------


def test_fail_next_429_is_rate_limit_error(client: stripe.StripeClient, fake: FakeStripe) -> None:
    fake.fail_next(429)
    with pytest.raises(stripe.RateLimitError) as info:
        client.v1.customers.create()
    assert info.value.http_status == 429
    assert info.value.error is not None
    assert (info.value.error.type, info.value.error.code) == ("invalid_request_error", "rate_limit")
    assert fake.request_count == 1
    assert fake.objects("customer") == []
    assert client.v1.customers.create().id.startswith("cus_")


def test_fail_next_500_without_retries(client: stripe.StripeClient, fake: FakeStripe) -> None:
    fake.fail_next(500)
    with pytest.raises(stripe.APIError) as info:
        client.v1.customers.create()
    assert info.value.http_status == 500
    assert info.value.error is not None and info.value.error.type == "api_error"
    assert fake.request_count == 1


def test_fail_next_500_is_retried_with_the_same_key(fake: FakeStripe) -> None:
    client = make_client(fake, retries=2)
    fake.fail_next(500, count=2)
    customer = client.v1.customers.create(params={"email": "r@b.c"})
    assert customer.email == "r@b.c"
    assert [r.status for r in fake.requests] == [500, 500, 200]
    assert len({r.idempotency_key for r in fake.requests}) == 1
    assert len(fake.objects("customer")) == 1


def test_fail_next_500_exhausts_retries(fake: FakeStripe) -> None:
    client = make_client(fake, retries=2)
    fake.fail_next(500, count=3)
    with pytest.raises(stripe.APIError):
        client.v1.customers.create()
    assert fake.request_count == 3


def test_connection_error_without_retries(client: stripe.StripeClient, fake: FakeStripe) -> None:
    fake.fail_next(connection_error=True)
    with pytest.raises(stripe.APIConnectionError) as info:
        client.v1.customers.create()
    assert info.value.should_retry is True
    assert fake.request_count == 1
    assert fake.objects("customer") == []


def test_connection_error_is_retried(fake: FakeStripe) -> None:
    client = make_client(fake, retries=2)
    fake.fail_next(connection_error=True, count=2)
    customer = client.v1.customers.create()
    assert customer.id.startswith("cus_")
    assert fake.request_count == 3


def test_fail_next_matches_path_and_method(client: stripe.StripeClient, fake: FakeStripe) -> None:
    fake.fail_next(404, path="/v1/customers/*", method="GET", message="gone")
    customer = client.v1.customers.create()
    client.v1.customers.update(customer.id, params={"name": "n"})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.retrieve(customer.id)
    assert info.value.user_message == "gone"
    assert client.v1.customers.retrieve(customer.id).name == "n"


def test_should_retry_header_is_honoured(fake: FakeStripe) -> None:
    client = make_client(fake, retries=2)
    fake.fail_next(500, count=3, should_retry=False)
    with pytest.raises(stripe.APIError):
        client.v1.customers.create()
    assert fake.request_count == 1


# -- plumbing ---------------------------------------------------------------------------------


def test_unknown_route(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.raw_request("get", "/v1/nothing_here")
    assert info.value.http_status == 404
    assert info.value.code == "url_invalid"
    assert "Unrecognized request URL" in (info.value.user_message or "")


def test_response_headers(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(options={"idempotency_key": "hdr"})
    headers = response(customer).headers
    assert headers["Content-Type"] == "application/json"
    assert headers["request-id"].startswith("req_")
    assert headers["Idempotency-Key"] == "hdr"
    assert response(customer).idempotency_key == "hdr"


def test_requests_are_recorded(client: stripe.StripeClient, fake: FakeStripe) -> None:
    customer = client.v1.customers.create(params={"metadata": {"a": "b"}, "expand": ["tax"]})
    client.v1.customers.list(params={"email": "x@y.z", "limit": 3})
    first, second = fake.requests
    assert (first.method, first.path) == ("POST", "/v1/customers")
    assert first.params == {"metadata": {"a": "b"}, "expand": ["tax"]}
    assert first.stripe_version == API_VERSION
    assert first.idempotency_key is not None
    assert (second.method, second.path) == ("GET", "/v1/customers")
    assert second.params == {"email": "x@y.z", "limit": "3"}
    assert second.idempotency_key is None
    assert len(fake.requests_to("POST", "/v1/customers*")) == 1
    fake.reset_requests()
    assert fake.request_count == 0
    assert client.v1.customers.retrieve(customer.id).id == customer.id


def test_add_seeds_without_requests_or_events(
    client: stripe.StripeClient, fake: FakeStripe
) -> None:
    customer = fake.add("customer", email="seed@b.c", metadata={"n": 1})
    product = fake.add("product", name="Seeded", id="prod_seeded")
    price = fake.add(
        "price",
        product=product["id"],
        unit_amount=500,
        currency="usd",
        recurring={"interval": "week"},
    )
    sub = fake.add(
        "subscription", customer=customer["id"], items=[{"price": price["id"]}], status="past_due"
    )
    assert fake.request_count == 0
    assert fake.events == []
    assert set(customer) == CUSTOMER_FIELDS
    assert customer["metadata"] == {"n": "1"}
    assert product["id"] == "prod_seeded"
    assert sub["status"] == "past_due"
    item = sub["items"]["data"][0]
    assert item["current_period_end"] - item["current_period_start"] == 7 * 86_400
    assert fake.get("subscription", sub["id"])["status"] == "past_due"
    fetched = client.v1.subscriptions.retrieve(sub["id"])
    assert fetched.status == "past_due"
    with pytest.raises(KeyError):
        fake.get("customer", "cus_unknown")
    with pytest.raises(ValueError, match="resource_missing"):
        fake.add("subscription", customer="cus_nope", items=[{"price": price["id"]}])


def test_add_fills_payment_method_defaults(fake: FakeStripe) -> None:
    customer = fake.add("customer")
    pm = fake.add("payment_method", customer=customer["id"])
    assert pm["type"] == "card"
    assert pm["card"]["last4"] == "4242"
    assert pm["customer"] == customer["id"]
    card = fake.add("card", customer=customer["id"])
    assert card["object"] == "card"
    assert fake.get("customer", customer["id"])["default_source"] == card["id"]


def test_emit_event_and_reset(client: stripe.StripeClient, fake: FakeStripe) -> None:
    customer = fake.add("customer")
    event = fake.emit_event("invoice.paid", {"id": "in_1", "object": "invoice"})
    assert client.v1.events.retrieve(event["id"]).type == "invoice.paid"
    fake.fail_next(500)
    fake.reset()
    assert fake.events == [] and fake.request_count == 0
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve(customer["id"])


def test_update_changes_state_silently(client: stripe.StripeClient, fake: FakeStripe) -> None:
    customer = fake.add("customer")
    fake.update("customer", customer["id"], delinquent=True)
    assert client.v1.customers.retrieve(customer["id"]).delinquent is True
    assert fake.events == []
    with pytest.raises(ValueError):
        fake.update("customer", customer["id"], not_a_field=1)


def test_seed_makes_ids_reproducible() -> None:
    first = FakeStripe(seed=7).add("customer")["id"]
    second = FakeStripe(seed=7).add("customer")["id"]
    assert first == second


def test_list_order_is_stable_within_one_second() -> None:
    fake = FakeStripe(clock=lambda: 1_700_000_000.0)
    client = make_client(fake, retries=0)
    ids = [client.v1.customers.create().id for _ in range(4)]
    assert [c.id for c in client.v1.customers.list().data] == ids[::-1]


def test_async_client_methods(fake: FakeStripe) -> None:
    client = make_client(fake, retries=0)

    async def scenario() -> str:
        customer = await client.v1.customers.create_async(params={"email": "async@b.c"})
        fetched = await client.v1.customers.retrieve_async(customer.id)
        return fetched.email or ""

    assert asyncio.run(scenario()) == "async@b.c"


def test_missing_api_key_is_rejected(fake: FakeStripe) -> None:
    client = stripe.StripeClient("sk_test_x", http_client=fake)
    with pytest.raises(stripe.AuthenticationError):
        client.v1.customers.list(options={"api_key": " "})


@pytest.fixture
def django_stripe_settings() -> Iterator[None]:
    from django.conf import settings

    if not settings.configured:
        settings.configure(STRIPE_CONFIG={"API_KEY": "sk_test_ctx"})
    yield


@pytest.mark.usefixtures("django_stripe_settings")
def test_fake_stripe_context_manager_routes_get_client() -> None:
    from stripe_integrations.client import get_client

    with testing.fake_stripe() as fake:
        customer = get_client().v1.customers.create(params={"email": "ctx@b.c"})
        assert fake.get("customer", customer.id)["email"] == "ctx@b.c"
        assert fake.request_count == 1
    with testing.fake_stripe() as other:
        assert other.objects("customer") == []


@pytest.mark.usefixtures("django_stripe_settings")
def test_fake_stripe_fixture(fake_stripe: FakeStripe) -> None:
    from stripe_integrations.client import get_client

    get_client().v1.customers.create()
    assert fake_stripe.request_count == 1
    assert len(fake_stripe.objects("customer")) == 1


def test_update_sets_and_clears_the_default_payment_method() -> None:
    client = stripe.StripeClient("sk_test_x", http_client=FakeStripe())
    customer = client.v1.customers.create()
    pm = client.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_visa"}})
    client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    updated = client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": pm.id}}
    )
    assert updated.invoice_settings.default_payment_method == pm.id
    assert (
        client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method == pm.id
    )
