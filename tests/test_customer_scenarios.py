"""Customer actions end to end, on every backend that supports the flow."""

from __future__ import annotations

from typing import Any

import pytest

from stripe_integrations.actions import StripeCustomer
from stripe_integrations.client import get_client
from stripe_integrations.models import Customer, PaymentMethod, Subscription, SubscriptionItem

pytestmark = [pytest.mark.django_db, pytest.mark.localstripe]


def test_create_mirrors_the_stripe_customer_and_links_the_user(backend: Any, user: Any) -> None:
    email = backend.unique_email()
    customer = StripeCustomer.create(
        user, email, name="Jenny Rosen", metadata={"plan": "gold"}, phone="+15555550100"
    )

    remote = get_client().v1.customers.retrieve(customer.stripe_id)
    assert remote.email == email
    assert remote.name == "Jenny Rosen"
    assert remote.metadata["plan"] == "gold"
    row = Customer.objects.get(stripe_id=customer.stripe_id)
    assert row.subscriber_id == user.pk
    assert row.is_active is True
    assert row.livemode is False
    assert row.email == email
    assert row.name == "Jenny Rosen"
    assert row.phone == "+15555550100"
    assert row.metadata["plan"] == "gold"
    assert row.raw["id"] == customer.stripe_id
    assert row.synced_at is not None
    assert row.created is not None and row.created.tzinfo is not None


def test_create_twice_returns_the_existing_customer(backend: Any, user: Any) -> None:
    first = StripeCustomer.create(user, backend.unique_email())
    second = StripeCustomer.create(user, backend.unique_email())
    assert second.stripe_id == first.stripe_id
    assert Customer.objects.filter(subscriber=user).count() == 1


def test_get_returns_the_active_customer_or_none(backend: Any, user: Any) -> None:
    assert StripeCustomer.get(user) is None
    created = StripeCustomer.create(user, backend.unique_email())
    got = StripeCustomer.get(user)
    assert got is not None and got.pk == created.pk


def test_update_sets_fields_and_unsets_metadata_keys(backend: Any, user: Any) -> None:
    customer = StripeCustomer.create(user, backend.unique_email(), metadata={"a": "1", "b": "2"})
    StripeCustomer.update(customer, name="New Name", metadata={"a": "", "c": "3"})

    remote = get_client().v1.customers.retrieve(customer.stripe_id).to_dict()
    assert remote["name"] == "New Name"
    if backend.name == "localstripe":
        assert remote["metadata"]["a"] == ""  # localstripe keeps unset keys (notes)
    else:
        assert "a" not in remote["metadata"]
    assert remote["metadata"]["b"] == "2" and remote["metadata"]["c"] == "3"
    row = Customer.objects.get(pk=customer.pk)
    assert row.name == "New Name"
    assert row.metadata == remote["metadata"]  # the mirror holds what Stripe holds
    assert customer.name == "New Name" and customer.metadata == remote["metadata"]


def test_delete_removes_in_stripe_and_soft_deletes_locally(backend: Any, user: Any) -> None:
    customer = StripeCustomer.create(user, backend.unique_email())
    StripeCustomer.delete(customer)

    row = Customer.objects.get(pk=customer.pk)
    assert row.is_active is False and row.date_purged is not None
    assert StripeCustomer.get(user) is None
    # A new customer can be created for the same user afterwards.
    again = StripeCustomer.create(user, backend.unique_email())
    assert again.stripe_id != customer.stripe_id
    assert Customer.objects.filter(subscriber=user, is_active=True).count() == 1


def test_sync_mirrors_default_payment_method_and_all_subscriptions(backend: Any, user: Any) -> None:
    customer = StripeCustomer.create(user, backend.unique_email())
    pm_id = backend.card_payment_method(customer.stripe_id)
    kept = backend.subscribe(customer.stripe_id)
    canceled = backend.subscribe(customer.stripe_id)
    get_client().v1.subscriptions.cancel(canceled)

    StripeCustomer.sync(customer)

    assert customer.default_payment_method_id == pm_id
    pm = PaymentMethod.objects.get(stripe_id=pm_id)
    assert pm.card_last4 == "4242"
    assert customer.default_payment is not None and customer.default_payment.pk == pm.pk
    statuses = dict(
        Subscription.objects.filter(customer=customer).values_list("stripe_id", "status")
    )
    assert statuses == {kept: "active", canceled: "canceled"}
    assert SubscriptionItem.objects.filter(subscription_id=kept).count() == 1
    assert Subscription.objects.get(stripe_id=kept).current_period_end is not None


def test_list_filters_by_email_and_mirrors_each_customer(backend: Any, user: Any) -> None:
    email = backend.unique_email()
    client = get_client()
    ids = {client.v1.customers.create(params={"email": email}).id for _ in range(3)}
    client.v1.customers.create(params={"email": backend.unique_email()})

    listed = list(StripeCustomer.list(email=email))

    assert {c.stripe_id for c in listed} == ids
    assert set(Customer.objects.filter(email=email).values_list("stripe_id", flat=True)) == ids
    assert all(c.subscriber_id is None for c in listed)


def test_link_customer_mirrors_an_unknown_customer(backend: Any) -> None:
    remote = get_client().v1.customers.create(params={"email": backend.unique_email()})
    event = {
        "id": "evt_test_link_1",
        "object": "event",
        "type": "customer.updated",
        "created": 1700000000,
        "livemode": False,
        "api_version": "2026-10-28.endive",
        "data": {"object": {"id": remote.id, "object": "customer"}},
    }
    linked = StripeCustomer.link_customer(event)
    assert linked.customer_id == remote.id
    assert Customer.objects.get(stripe_id=remote.id).email == remote.email
