"""Applying stored events: handlers, retries, ordering, signals, replay, admin."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from stripe_integrations import signals
from stripe_integrations.client import get_client
from stripe_integrations.models import (
    Customer,
    Event,
    EventStatus,
    PaymentMethod,
    Subscription,
)
from stripe_integrations.testing import FakeStripe
from stripe_integrations.testing.webhooks import build_event, post_event
from stripe_integrations.webhooks import handler, registry
from stripe_integrations.webhooks.processing import process_event, retry_delay, store_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    client = Client()

    def post(event: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            response = post_event(client, event, **kwargs)
        assert response.status_code == 200, response.content
        return response

    return post


@pytest.fixture
def flaky() -> Iterator[list[int]]:
    """A ``test.flaky`` handler failing on its first two calls; yields the call log."""
    calls: list[int] = []

    def flaky_handler(event: Event) -> None:
        calls.append(event.attempts)
        if len(calls) <= 2:
            raise RuntimeError(f"boom {len(calls)}")

    registry.register("test.flaky", flaky_handler)
    yield calls
    registry.unregister(flaky_handler)


def test_handler_failing_twice_succeeds_on_the_third_attempt(
    deliver: Callable[..., Any], flaky: list[int]
) -> None:
    failures: list[tuple[int, bool]] = []

    def on_failed(
        sender: Any, event: Event, exception: Exception, will_retry: bool, **kw: Any
    ) -> None:
        failures.append((event.attempts, will_retry))

    signals.event_failed.connect(on_failed)
    try:
        event = build_event("test.flaky", {"id": "obj_1", "object": "thing"})
        deliver(event)
    finally:
        signals.event_failed.disconnect(on_failed)
    stored = Event.objects.get(stripe_id=event["id"])
    assert flaky == [1, 2, 3]
    assert stored.status == EventStatus.SUCCEEDED and stored.attempts == 3
    assert stored.last_error == "" and stored.processed_at is not None
    assert failures == [(1, True), (2, True)]


def test_failure_stays_visible_after_the_last_attempt(
    deliver: Callable[..., Any], settings: Any
) -> None:
    settings.STRIPE_CONFIG = {**settings.STRIPE_CONFIG, "EVENT_MAX_ATTEMPTS": 2}

    @handler("test.broken")
    def broken(event: Event) -> None:
        raise ValueError("handler is broken")

    try:
        event = build_event("test.broken", {"id": "obj_2", "object": "thing"})
        deliver(event)
        stored = Event.objects.get(stripe_id=event["id"])
        assert stored.status == EventStatus.FAILED and stored.attempts == 2
        assert stored.last_error == "ValueError: handler is broken"
        assert "handler is broken" in stored.traceback and "Traceback" in stored.traceback
        assert stored.next_attempt_at is None  # no retry scheduled
        with pytest.raises(CommandError, match="1 events failed"):
            call_command("stripe_process_events", "--failed", stdout=StringIO())
    finally:
        registry.unregister(broken)
    # Once the handler is fixed (here: removed), a replay succeeds.
    out = StringIO()
    call_command("stripe_process_events", "--failed", stdout=out)
    assert "1 succeeded" in out.getvalue()
    assert Event.objects.get(stripe_id=event["id"]).status == EventStatus.SUCCEEDED


def test_a_failed_handler_leaves_none_of_its_writes(
    deliver: Callable[..., Any], fake_stripe: FakeStripe, settings: Any
) -> None:
    """The handler's writes roll back with it; the object it names stays mirrored at the
    state Stripe returned (shared by every event of the batch naming it)."""
    settings.STRIPE_CONFIG = {**settings.STRIPE_CONFIG, "EVENT_MAX_ATTEMPTS": 1}
    customer = fake_stripe.add("customer", email="atomic@example.com")

    def fail_after_writing(event: Event) -> None:
        Customer.objects.filter(stripe_id=customer["id"]).update(email="half@example.com")
        raise RuntimeError("after the handler wrote")

    registry.register("customer.updated", fail_after_writing)
    try:
        deliver(build_event("customer.updated", customer))
    finally:
        registry.unregister(fail_after_writing)
    assert Customer.objects.get(stripe_id=customer["id"]).email == "atomic@example.com"
    stored = Event.objects.get()
    assert stored.status == EventStatus.FAILED and stored.customer_id is None


def test_fifty_events_in_shuffled_order_leave_the_final_state(
    deliver: Callable[..., Any], fake_stripe: FakeStripe
) -> None:
    client = get_client()
    customer = client.v1.customers.create(params={"email": "v0@example.com"})
    for i in range(1, 50):
        client.v1.customers.update(
            customer.id, params={"email": f"v{i}@example.com", "metadata": {"version": str(i)}}
        )
    events = [e for e in fake_stripe.events if e["type"].startswith("customer.")]
    assert len(events) == 50
    random.Random(7).shuffle(events)
    # The last delivered event carries an old snapshot: trusting payloads would be wrong.
    assert events[-1]["data"]["object"]["email"] != "v49@example.com"
    for event in events:
        deliver(event)
    row = Customer.objects.get(stripe_id=customer.id)
    final = fake_stripe.get("customer", customer.id)
    assert row.email == final["email"] == "v49@example.com"
    assert row.metadata == final["metadata"]
    assert Event.objects.filter(status=EventStatus.SUCCEEDED).count() == 50


def test_customer_deleted_soft_deletes(
    deliver: Callable[..., Any], fake_stripe: FakeStripe
) -> None:
    customer = get_client().v1.customers.create(params={"email": "bye@example.com"})
    get_client().v1.customers.delete(customer.id)
    for event in fake_stripe.events:
        deliver(event)
    row = Customer.objects.get(stripe_id=customer.id)
    assert row.is_active is False and row.date_purged is not None
    assert row.email == "bye@example.com"


def test_payment_method_and_subscription_events_are_mirrored(
    deliver: Callable[..., Any], fake_stripe: FakeStripe
) -> None:
    client = get_client()
    customer = client.v1.customers.create(params={"email": "pm@example.com"})
    pm = client.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_visa"}})
    client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    price = fake_stripe.add(
        "price",
        unit_amount=900,
        currency="usd",
        recurring={"interval": "month"},
        product_data={"name": "Pro"},
    )
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price["id"]}]}
    )
    client.v1.subscriptions.cancel(sub.id)
    client.v1.payment_methods.detach(pm.id)
    for event in fake_stripe.events:
        deliver(event)
    assert PaymentMethod.objects.get(stripe_id=pm.id).customer_id is None  # detached
    mirrored = Subscription.objects.get(stripe_id=sub.id)
    assert mirrored.status == "canceled" and mirrored.customer_id == customer.id
    assert mirrored.items.count() == 1
    types = set(Event.objects.values_list("type", flat=True))
    assert {"payment_method.attached", "payment_method.detached"} <= types
    assert {"customer.subscription.created", "customer.subscription.deleted"} <= types
    assert set(Event.objects.values_list("status", flat=True)) == {EventStatus.SUCCEEDED}
    assert set(Event.objects.values_list("customer_id", flat=True)) == {customer.id}


def test_unknown_customer_in_an_event_is_fetched_never_404(
    deliver: Callable[..., Any], fake_stripe: FakeStripe
) -> None:
    customer = fake_stripe.add("customer", email="stranger@example.com")
    invoice = {"id": "in_1", "object": "invoice", "customer": customer["id"]}
    deliver(build_event("invoice.paid", invoice))
    assert Customer.objects.get(stripe_id=customer["id"]).email == "stranger@example.com"
    assert Event.objects.get().customer_id == customer["id"]


def test_event_for_a_customer_stripe_never_had_still_succeeds(
    deliver: Callable[..., Any], fake_stripe: FakeStripe
) -> None:
    deliver(
        build_event("invoice.paid", {"id": "in_2", "object": "invoice", "customer": "cus_nope"})
    )
    event = Event.objects.get()
    assert event.status == EventStatus.SUCCEEDED and event.customer_id == "cus_nope"


def test_signals_per_type_and_outcome(deliver: Callable[..., Any], flaky: list[int]) -> None:
    seen: list[str] = []
    processed = signals.for_type("test.flaky")
    failed = signals.for_type("test.flaky", "failed")

    def on_ok(sender: Any, event: Event, **kw: Any) -> None:
        seen.append(f"ok:{event.attempts}")

    def on_fail(sender: Any, event: Event, **kw: Any) -> None:
        seen.append(f"fail:{event.attempts}")

    def on_received(sender: Any, event: Event, **kw: Any) -> None:
        seen.append("received")

    processed.connect(on_ok)
    failed.connect(on_fail)
    signals.event_received.connect(on_received)
    try:
        deliver(build_event("test.flaky", {"id": "o", "object": "thing"}))
    finally:
        processed.disconnect(on_ok)
        failed.disconnect(on_fail)
        signals.event_received.disconnect(on_received)
    assert seen == ["received", "fail:1", "fail:2", "ok:3"]
    with pytest.raises(ValueError):
        signals.for_type("x", "maybe")


def test_several_handlers_and_patterns_run_in_order(deliver: Callable[..., Any]) -> None:
    order: list[str] = []

    @handler("test.order.one")
    def first(event: Event) -> None:
        order.append("first")

    @handler("test.order.*", "test.order.one")
    def second(event: Event) -> None:
        order.append("second")

    try:
        deliver(build_event("test.order.one", {"id": "o", "object": "thing"}))
        deliver(build_event("test.order.two", {"id": "o", "object": "thing"}))
    finally:
        registry.unregister(first)
        registry.unregister(second)
    assert order == ["first", "second", "second"]


def test_backoff_grows_exponentially_and_is_capped(settings: Any) -> None:
    settings.STRIPE_CONFIG = {
        **settings.STRIPE_CONFIG,
        "EVENT_RETRY_DELAY": 10,
        "EVENT_RETRY_MAX_DELAY": 60,
    }
    assert [retry_delay(n) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]


def test_process_event_is_claimed_once() -> None:
    event, created = store_event(build_event("test.noop", {"id": "o", "object": "thing"}))
    assert created and event is not None
    assert process_event(event.pk).status == EventStatus.SUCCEEDED
    assert process_event(event.pk).status == EventStatus.SUCCEEDED  # not run again
    assert Event.objects.get(pk=event.pk).attempts == 1


# --- the command ---------------------------------------------------------------------------


def _stored(event_type: str, **fields: Any) -> Event:
    event, _ = store_event(build_event(event_type, {"id": "o", "object": "thing"}, **fields))
    assert event is not None
    return event


def test_command_processes_pending_and_filters_by_type_and_since() -> None:
    old = _stored("test.a", created=1_600_000_000)
    new_a = _stored("test.a")
    new_b = _stored("test.b")
    out = StringIO()
    call_command("stripe_process_events", "--type", "test.a", "--since", "7d", stdout=out)
    assert "processed 1 events: 1 succeeded" in out.getvalue()
    statuses = dict(Event.objects.values_list("pk", "status"))
    assert statuses == {
        old.pk: EventStatus.PENDING,
        new_a.pk: EventStatus.SUCCEEDED,
        new_b.pk: EventStatus.PENDING,
    }
    call_command("stripe_process_events", "--type", "test.*", stdout=out)
    assert set(Event.objects.values_list("status", flat=True)) == {EventStatus.SUCCEEDED}


def test_command_replays_by_id_and_dry_run_changes_nothing() -> None:
    event = _stored("test.a")
    process_event(event.pk)
    out = StringIO()
    call_command("stripe_process_events", "--ids", event.stripe_id, "--dry-run", stdout=out)
    assert event.stripe_id in out.getvalue()
    assert Event.objects.get(pk=event.pk).attempts == 1
    call_command("stripe_process_events", "--ids", event.stripe_id, stdout=out)
    assert Event.objects.get(pk=event.pk).attempts == 2


def test_command_pulls_missed_events_from_stripe(fake_stripe: FakeStripe) -> None:
    client = get_client()
    customer = client.v1.customers.create(params={"email": "missed@example.com"})
    client.v1.customers.update(customer.id, params={"name": "Missed"})
    store_event(fake_stripe.events[0])  # one of two arrived by webhook
    out = StringIO()
    call_command("stripe_process_events", "--pull", stdout=out)
    assert "pulled 2 events from Stripe, 1 new" in out.getvalue()
    assert Event.objects.filter(source="api").count() == 1
    assert set(Event.objects.values_list("status", flat=True)) == {EventStatus.SUCCEEDED}
    assert Customer.objects.get(stripe_id=customer.id).name == "Missed"


def test_command_rejects_a_bad_since() -> None:
    with pytest.raises(CommandError, match="since"):
        call_command("stripe_process_events", "--since", "last tuesday")


# --- admin ---------------------------------------------------------------------------------


def test_admin_lists_filters_and_retries_events(admin_client: Client, settings: Any) -> None:
    settings.STRIPE_CONFIG = {**settings.STRIPE_CONFIG, "EVENT_MAX_ATTEMPTS": 1}

    def broken(event: Event) -> None:
        raise RuntimeError("down")

    registry.register("test.retry", broken)
    try:
        event = _stored("test.retry")
        process_event(event.pk)
    finally:
        registry.unregister(broken)
    assert Event.objects.get(pk=event.pk).status == EventStatus.FAILED
    url = "/admin/stripe_integrations/event/"
    page = admin_client.get(url, {"status__exact": "failed", "q": "test.retry"})
    assert page.status_code == 200 and event.stripe_id in page.content.decode()
    response = admin_client.post(
        url, {"action": "retry_events", "_selected_action": [event.pk]}, follow=True
    )
    assert response.status_code == 200
    assert Event.objects.get(pk=event.pk).status == EventStatus.SUCCEEDED


def test_admin_retry_needs_the_change_permission(client: Client, django_user_model: Any) -> None:
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(staff)
    event = _stored("test.a")
    response = client.post(
        "/admin/stripe_integrations/event/",
        {"action": "retry_events", "_selected_action": [event.pk]},
    )
    assert Event.objects.get(pk=event.pk).status == EventStatus.PENDING
    assert response.status_code in (200, 302, 403)


# --- review fixes ------------------------------------------------------------------------------


def test_plain_run_leaves_exhausted_events_for_an_explicit_retry(settings: Any) -> None:
    settings.STRIPE_CONFIG = {**settings.STRIPE_CONFIG, "EVENT_MAX_ATTEMPTS": 1}

    def broken(event: Event) -> None:
        raise RuntimeError("down")

    registry.register("test.exhausted", broken)
    try:
        event = _stored("test.exhausted")
        process_event(event.pk)
    finally:
        registry.unregister(broken)
    out = StringIO()
    call_command("stripe_process_events", stdout=out)
    assert "processed 0 events" in out.getvalue()
    assert Event.objects.get(pk=event.pk).attempts == 1
    call_command("stripe_process_events", "--failed", stdout=out)
    assert Event.objects.get(pk=event.pk).status == EventStatus.SUCCEEDED


def test_events_abandoned_in_processing_are_picked_up() -> None:
    from datetime import timedelta

    from django.utils import timezone

    event = _stored("test.stuck")
    Event.objects.filter(pk=event.pk).update(
        status=EventStatus.PROCESSING, locked_at=timezone.now() - timedelta(hours=1)
    )
    fresh = _stored("test.running")
    Event.objects.filter(pk=fresh.pk).update(
        status=EventStatus.PROCESSING, locked_at=timezone.now()
    )
    out = StringIO()
    call_command("stripe_process_events", stdout=out)
    assert "1 events abandoned in processing made pending" in out.getvalue()
    assert Event.objects.get(pk=event.pk).status == EventStatus.SUCCEEDED
    assert Event.objects.get(pk=fresh.pk).status == EventStatus.PROCESSING  # still running


def test_pull_dry_run_stores_nothing(fake_stripe: FakeStripe) -> None:
    get_client().v1.customers.create(params={"email": "dry@example.com"})
    out = StringIO()
    call_command("stripe_process_events", "--pull", "--dry-run", stdout=out)
    assert "pulled 1 events from Stripe, 1 would store" in out.getvalue()
    assert Event.objects.count() == 0


def test_handlers_see_the_linked_customer(
    deliver: Callable[..., Any], fake_stripe: FakeStripe
) -> None:
    customer = fake_stripe.add("customer", email="seen@example.com")
    seen: list[Any] = []

    def look(event: Event) -> None:
        seen.append(
            (event.customer_id, Customer.objects.filter(stripe_id=event.customer_id).exists())
        )

    registry.register("invoice.paid", look)
    try:
        deliver(
            build_event(
                "invoice.paid", {"id": "in_9", "object": "invoice", "customer": customer["id"]}
            )
        )
    finally:
        registry.unregister(look)
    assert seen == [(customer["id"], True)]


def test_a_failing_event_received_receiver_does_not_fail_the_delivery(
    deliver: Callable[..., Any],
) -> None:
    def explode(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    signals.event_received.connect(explode)
    try:
        response = deliver(build_event("test.noop", {"id": "o", "object": "thing"}))
    finally:
        signals.event_received.disconnect(explode)
    assert response.status_code == 200
    assert Event.objects.get().status == EventStatus.SUCCEEDED
