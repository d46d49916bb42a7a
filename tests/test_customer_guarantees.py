"""What StripeCustomer promises beyond the happy path: budgets, validation, errors."""

from __future__ import annotations

from typing import Any

import pytest

from stripe_integrations.actions import StripeCustomer
from stripe_integrations.client import get_client
from stripe_integrations.conf import PINNED_API_VERSION
from stripe_integrations.exceptions import StripeAPIError, StripeValidationError
from stripe_integrations.models import Customer, Event, PaymentMethod, Subscription
from stripe_integrations.testing import FakeStripe

pytestmark = pytest.mark.django_db


def _customer_with_subscriptions(fake: FakeStripe, user: Any, count: int) -> Customer:
    customer = StripeCustomer.create(user, "jenny@example.com")
    client = get_client()
    pm = client.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_visa"}})
    client.v1.payment_methods.attach(pm.id, params={"customer": customer.stripe_id})
    client.v1.customers.update(
        customer.stripe_id, params={"invoice_settings": {"default_payment_method": pm.id}}
    )
    price = fake.add(
        "price",
        unit_amount=1000,
        currency="usd",
        recurring={"interval": "month"},
        product_data={"name": "Gold"},
    )
    for _ in range(count):
        fake.add("subscription", customer=customer.stripe_id, items=[{"price": price["id"]}])
    return customer


# --- budgets -----------------------------------------------------------------------------


def test_create_costs_one_request_and_four_queries(
    fake_stripe: FakeStripe, user: Any, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(4):
        customer = StripeCustomer.create(user, "jenny@example.com")
    assert fake_stripe.request_count == 1
    request = fake_stripe.requests[0]
    assert (request.method, request.path) == ("POST", "/v1/customers")
    assert request.stripe_version == PINNED_API_VERSION
    assert request.idempotency_key and str(user.pk) in request.idempotency_key
    assert customer.pk is not None and customer.subscriber_id == user.pk


def test_get_costs_one_query_and_no_request(
    fake_stripe: FakeStripe, user: Any, django_assert_num_queries: Any
) -> None:
    StripeCustomer.create(user, "jenny@example.com")
    fake_stripe.reset_requests()
    with django_assert_num_queries(1):
        StripeCustomer.get(user)
    assert fake_stripe.request_count == 0


@pytest.mark.parametrize("subscriptions", [1, 20])
def test_sync_budget_does_not_grow_with_subscriptions(
    fake_stripe: FakeStripe, user: Any, subscriptions: int, django_assert_num_queries: Any
) -> None:
    customer = _customer_with_subscriptions(fake_stripe, user, subscriptions)
    fake_stripe.reset_requests()
    # savepoint, customer, its expanded default payment method, subscriptions, their items,
    # removed items, the items' prices, release: 8 whatever the number of subscriptions.
    with django_assert_num_queries(8):
        StripeCustomer.sync(customer)
    assert fake_stripe.request_count == 2
    assert Subscription.objects.filter(customer=customer).count() == subscriptions
    assert customer.default_payment is not None


def test_sync_with_given_object_and_unexpanded_default_fetches_it(
    fake_stripe: FakeStripe, user: Any
) -> None:
    customer = _customer_with_subscriptions(fake_stripe, user, 1)
    fake_stripe.reset_requests()
    StripeCustomer.sync(customer, fake_stripe.get("customer", customer.stripe_id))
    assert [r.path for r in fake_stripe.requests] == [
        f"/v1/payment_methods/{customer.default_payment_method_id}",
        "/v1/subscriptions",
    ]
    assert PaymentMethod.objects.filter(stripe_id=customer.default_payment_method_id).exists()


# --- validation: nothing sent, nothing written -------------------------------------------

BAD_INPUT = [
    ({"billing_email": "x" * 510 + "@a.b"}, ValueError, "email"),
    ({"billing_email": "not-an-email"}, ValueError, "email"),
    ({"metadata": {f"k{i}": "v" for i in range(51)}}, ValueError, "metadata"),
    ({"metadata": {"k" * 41: "v"}}, ValueError, "metadata"),
    ({"metadata": {"a[b]": "v"}}, ValueError, "metadata"),
    ({"metadata": {"a": "v" * 501}}, ValueError, "metadata"),
    ({"metadata": {"a": {"nested": 1}}}, ValueError, "metadata"),
    ({"name": "n" * 257}, ValueError, "name"),
    ({"description": "d" * 351}, ValueError, "description"),
    ({"balance": "12"}, ValueError, "balance"),
    ({"tax_exempt": "sometimes"}, ValueError, "tax_exempt"),
    ({"invoice_prefix": "ab"}, ValueError, "invoice_prefix"),
    ({"preferred_locales": "en"}, ValueError, "preferred_locales"),
    ({"address": "1 Main St"}, ValueError, "address"),
    ({"favourite_colour": "blue"}, TypeError, "favourite_colour"),
    ({"is_active": False}, TypeError, "is_active"),
    ({"date_purged": None}, TypeError, "date_purged"),
    ({"livemode": True}, TypeError, "livemode"),
    ({"stripe_id": "cus_x"}, TypeError, "stripe_id"),
    ({"billing_email": "a@b.c", "email": "c@d.e"}, TypeError, "email"),
]


@pytest.mark.parametrize(("kwargs", "error", "field"), BAD_INPUT)
def test_bad_input_is_refused_before_any_request(
    fake_stripe: FakeStripe, user: Any, kwargs: dict[str, Any], error: type, field: str
) -> None:
    kwargs = {"billing_email": "jenny@example.com", **kwargs}
    email = kwargs.pop("billing_email")
    with pytest.raises(error, match=field):
        StripeCustomer.create(user, email, **kwargs)
    assert fake_stripe.request_count == 0
    assert Customer.objects.count() == 0


def test_validation_error_names_the_field(fake_stripe: FakeStripe, user: Any) -> None:
    with pytest.raises(StripeValidationError) as info:
        StripeCustomer.create(user, "x" * 600)
    assert info.value.field == "email"


def test_update_validates_before_sending(fake_stripe: FakeStripe, user: Any) -> None:
    customer = StripeCustomer.create(user, "jenny@example.com")
    fake_stripe.reset_requests()
    with pytest.raises(ValueError, match="metadata"):
        StripeCustomer.update(customer, metadata={"x]": "1"})
    with pytest.raises(TypeError, match="test_clock"):
        StripeCustomer.update(customer, test_clock="clock_123")
    assert fake_stripe.request_count == 0


# --- Stripe errors -----------------------------------------------------------------------


def test_stripe_error_carries_code_and_type_and_writes_nothing(
    fake_stripe: FakeStripe, user: Any
) -> None:
    fake_stripe.fail_next(status=400, code="email_invalid", message="Invalid email address")
    with pytest.raises(StripeAPIError) as info:
        StripeCustomer.create(user, "jenny@example.com")
    assert info.value.code == "email_invalid"
    assert info.value.type == "invalid_request_error"
    assert info.value.http_status == 400
    assert Customer.objects.count() == 0


def test_missing_customer_is_resource_missing(fake_stripe: FakeStripe) -> None:
    customer = Customer.objects.create(stripe_id="cus_doesnotexist")
    with pytest.raises(StripeAPIError) as info:
        StripeCustomer.sync(customer)
    assert info.value.code == "resource_missing"
    customer.refresh_from_db()
    assert customer.raw == {} and customer.synced_at is None


def test_server_errors_are_retried_with_the_same_idempotency_key(
    fake_stripe: FakeStripe, user: Any
) -> None:
    fake_stripe.fail_next(status=500, count=1)
    customer = StripeCustomer.create(user, "jenny@example.com")
    assert fake_stripe.request_count == 2
    first, second = fake_stripe.requests
    assert first.idempotency_key == second.idempotency_key
    assert len(fake_stripe.objects("customer")) == 1
    assert Customer.objects.get().stripe_id == customer.stripe_id


def test_rate_limited_request_raises_with_code(fake_stripe: FakeStripe, user: Any) -> None:
    fake_stripe.fail_next(status=429, count=5)
    with pytest.raises(StripeAPIError) as info:
        StripeCustomer.create(user, "jenny@example.com")
    assert info.value.http_status == 429
    assert info.value.code == "rate_limit"
    assert Customer.objects.count() == 0


# --- existing, deleted and recreated customers -------------------------------------------


def test_create_replaces_a_customer_deleted_in_stripe(fake_stripe: FakeStripe, user: Any) -> None:
    old = StripeCustomer.create(user, "jenny@example.com")
    get_client().v1.customers.delete(old.stripe_id)
    new = StripeCustomer.create(user, "jenny@example.com")
    assert new.stripe_id != old.stripe_id
    old.refresh_from_db()
    assert old.is_active is False and old.date_purged is not None
    assert Customer.objects.filter(subscriber=user, is_active=True).get().pk == new.pk


def test_deleted_customer_retrieved_is_soft_deleted(fake_stripe: FakeStripe, user: Any) -> None:
    customer = StripeCustomer.create(user, "jenny@example.com", name="Jenny")
    get_client().v1.customers.delete(customer.stripe_id)
    StripeCustomer.sync(customer)
    row = Customer.objects.get(pk=customer.pk)
    assert row.is_active is False and row.date_purged is not None
    assert row.name == "Jenny"  # last known fields are kept
    assert customer.is_active is False


def test_soft_delete_returns_none_and_frees_the_user(fake_stripe: FakeStripe, user: Any) -> None:
    customer = StripeCustomer.create(user, "jenny@example.com")
    assert StripeCustomer.soft_delete(customer) is None
    row = Customer.objects.get(pk=customer.pk)
    assert row.is_active is False and row.date_purged is not None
    assert row.subscriber_id == user.pk
    assert StripeCustomer.get(user) is None
    assert fake_stripe.get("customer", customer.stripe_id).get("deleted") is not True


def test_recreate_after_soft_delete_uses_a_new_idempotency_key(
    fake_stripe: FakeStripe, user: Any
) -> None:
    first = StripeCustomer.create(user, "jenny@example.com")
    StripeCustomer.soft_delete(first)
    second = StripeCustomer.create(user, "jenny@example.com")
    assert second.stripe_id != first.stripe_id
    keys = [r.idempotency_key for r in fake_stripe.requests if r.method == "POST"]
    assert len(set(keys)) == 2


def test_database_allows_one_active_customer_per_user(user: Any) -> None:
    from django.db import IntegrityError, transaction

    Customer.objects.create(stripe_id="cus_a", subscriber=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(stripe_id="cus_b", subscriber=user)
    Customer.objects.create(stripe_id="cus_c", subscriber=user, is_active=False)
    Customer.objects.create(stripe_id="cus_d", subscriber=user, livemode=True)
    assert Customer.objects.filter(subscriber=user).count() == 3


def test_sync_from_stripe_data_refuses_another_customers_object(
    fake_stripe: FakeStripe, user: Any
) -> None:
    customer = StripeCustomer.create(user, "jenny@example.com")
    other = fake_stripe.add("customer", email="other@example.com")
    with pytest.raises(ValueError, match="stripe_customer"):
        StripeCustomer.sync_from_stripe_data(customer, other)


def test_link_customer_on_customer_deleted_event_never_fails(fake_stripe: FakeStripe) -> None:
    event = Event.objects.create(
        stripe_id="evt_1",
        type="customer.deleted",
        raw={
            "id": "evt_1",
            "object": "event",
            "type": "customer.deleted",
            "data": {"object": {"id": "cus_gone", "object": "customer", "email": "g@x.io"}},
        },
    )
    linked = StripeCustomer.link_customer(event)
    assert linked.customer_id == "cus_gone"
    gone = Customer.objects.get(stripe_id="cus_gone")
    assert gone.is_active is False and gone.email == "g@x.io"
    assert fake_stripe.request_count == 0


def test_link_customer_with_unknown_customer_missing_in_stripe(fake_stripe: FakeStripe) -> None:
    event = Event.objects.create(
        stripe_id="evt_2",
        type="invoice.paid",
        raw={"data": {"object": {"id": "in_1", "object": "invoice", "customer": "cus_nope"}}},
    )
    linked = StripeCustomer.link_customer(event)
    assert linked.customer_id == "cus_nope"
    assert Event.objects.get(pk=event.pk).customer_id == "cus_nope"


def test_a_declined_card_on_create_does_not_lock_the_user_out(
    fake_stripe: FakeStripe, user: Any
) -> None:
    with pytest.raises(StripeAPIError) as info:
        StripeCustomer.create(user, "jenny@example.com", payment_method="pm_card_chargeDeclined")
    assert info.value.code == "card_declined"
    assert Customer.objects.count() == 0
    customer = StripeCustomer.create(user, "jenny@example.com", payment_method="pm_card_visa")
    assert customer.subscriber_id == user.pk
    assert Customer.objects.count() == 1


def test_update_refuses_create_only_parameters(fake_stripe: FakeStripe, user: Any) -> None:
    customer = StripeCustomer.create(user, "jenny@example.com")
    fake_stripe.reset_requests()
    with pytest.raises(TypeError, match="payment_method"):
        StripeCustomer.update(customer, payment_method="pm_card_visa")
    assert fake_stripe.request_count == 0
