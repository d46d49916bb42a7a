"""Concurrent callers on PostgreSQL with real threads, each on its own connection."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections

from stripe_integrations.actions import StripeCustomer
from stripe_integrations.models import Customer
from stripe_integrations.testing import FakeStripe

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL (run with DB=postgres)")


def _run_threads(count: int, target: Any) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait()
            value = target()
            with lock:
                results.append(value)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


def test_twenty_concurrent_creates_make_one_customer(
    fake_stripe: FakeStripe, django_user_model: Any
) -> None:
    user = django_user_model.objects.create(username="racer")

    results, errors = _run_threads(20, lambda: StripeCustomer.create(user, "race@example.com"))

    assert errors == []
    assert len(results) == 20
    assert len({c.stripe_id for c in results}) == 1
    assert len(fake_stripe.objects("customer")) == 1
    assert Customer.objects.filter(subscriber=user).count() == 1
    creates = [r for r in fake_stripe.requests if (r.method, r.path) == ("POST", "/v1/customers")]
    assert len({r.idempotency_key for r in creates}) == 1


def test_concurrent_creates_with_different_params_still_make_one_customer(
    fake_stripe: FakeStripe, django_user_model: Any
) -> None:
    user = django_user_model.objects.create(username="racer2")
    counter = iter(range(1000))

    def create() -> Customer:
        return StripeCustomer.create(user, f"race{next(counter)}@example.com")

    results, errors = _run_threads(10, create)

    assert errors == []
    assert len({c.stripe_id for c in results}) == 1
    assert len(fake_stripe.objects("customer")) == 1
    assert Customer.objects.filter(subscriber=user).count() == 1


def test_fifty_concurrent_deliveries_of_ten_events_store_ten(
    fake_stripe: FakeStripe, settings: Any
) -> None:
    """5 copies each of 10 events, POSTed by 50 threads at once, processed as they commit."""
    from django.test import Client

    from stripe_integrations.models import Event, EventStatus
    from stripe_integrations.testing.webhooks import build_event, post_event

    customers = [fake_stripe.add("customer", email=f"c{i}@example.com") for i in range(10)]
    events = [build_event("customer.updated", c) for c in customers]
    deliveries = iter([e for e in events for _ in range(5)])
    lock = threading.Lock()

    def deliver() -> int:
        with lock:
            event = next(deliveries)
        return post_event(Client(), event).status_code

    results, errors = _run_threads(50, deliver)

    assert errors == []
    assert results == [200] * 50
    assert Event.objects.count() == 10
    assert set(Event.objects.values_list("status", flat=True)) == {EventStatus.SUCCEEDED}
    assert set(Event.objects.values_list("attempts", flat=True)) == {1}
    assert Customer.objects.count() == 10


def test_twenty_concurrent_get_or_create_make_one_customer(
    fake_stripe: FakeStripe, django_user_model: Any
) -> None:
    user = django_user_model.objects.create(username="racer3", email="r3@example.com")

    results, errors = _run_threads(20, lambda: Customer.get_or_create(subscriber=user))

    assert errors == []
    assert len({c.stripe_id for c, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(fake_stripe.objects("customer")) == 1
    assert Customer.objects.filter(subscriber=user).count() == 1


def test_the_creator_says_created_when_a_replay_stored_its_customer_first(
    fake_stripe: FakeStripe, django_user_model: Any, monkeypatch: Any
) -> None:
    """The race of the test above, staged: the caller whose request created the customer is
    overtaken by a caller that got the idempotent replay and stored the row first, so its own
    insert meets the one-active-customer constraint. It still created the customer."""
    from django.db import IntegrityError

    from stripe_integrations.actions import customer as customer_actions

    user = django_user_model.objects.create(username="racer4", email="r4@example.com")
    original = customer_actions.sync_customers

    def overtaken(objects: Any, **kwargs: Any) -> Any:
        def replaying_caller() -> None:
            try:
                original(objects, **kwargs)
            finally:
                connections.close_all()

        other = threading.Thread(target=replaying_caller)
        other.start()
        other.join()
        raise IntegrityError('duplicate key value violates unique constraint "one active"')

    monkeypatch.setattr(customer_actions, "sync_customers", overtaken)
    customer, created = Customer.get_or_create(subscriber=user)

    assert created is True
    assert Customer.objects.get(subscriber=user).stripe_id == customer.stripe_id
    assert len(fake_stripe.objects("customer")) == 1
    deletes = [r for r in fake_stripe.requests if r.method == "DELETE"]
    assert deletes == []
