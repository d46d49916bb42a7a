"""Coalesced processing: a batch of events fetches each distinct object once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from stripe_integrations.models import Charge, Customer, Event, EventStatus, Invoice
from stripe_integrations.sync import sync_customers
from stripe_integrations.testing import FakeStripe
from stripe_integrations.testing.webhooks import build_event
from stripe_integrations.webhooks import registry
from stripe_integrations.webhooks.processing import drain, process_batch, store_event

ROOT = Path(__file__).resolve().parent.parent

INVOICE_TYPES = [
    "invoice.created",
    "invoice.finalized",
    "invoice.updated",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.updated",
    "invoice.sent",
    "invoice.upcoming",
]


def stored(event_type: str, obj: dict[str, Any], created: int) -> Event:
    event, new = store_event(build_event(event_type, obj, created=created))
    assert new and event is not None
    return event


def billing_run(fake: FakeStripe, customers: int) -> tuple[list[Event], set[str]]:
    """Per customer, the 8 events of a monthly renewal over 4 objects (Stripe's shape)."""
    events: list[Event] = []
    objects: set[str] = set()
    created = int(time.time()) - 100
    product = fake.add("product", name="Plan")
    price = fake.add(
        "price",
        product=product["id"],
        unit_amount=900,
        currency="usd",
        recurring={"interval": "month"},
    )
    for n in range(customers):
        customer = fake.add("customer", email=f"run{n}@example.com")
        sync_customers([customer])
        subscription = fake.add(
            "subscription", customer=customer["id"], items=[{"price": price["id"]}]
        )
        invoice = fake.add("invoice", customer=customer["id"])
        intent = fake.add(
            "payment_intent",
            amount=900,
            currency="usd",
            customer=customer["id"],
            payment_method="pm_card_visa",
            confirm=True,
        )
        charge = fake.get("charge", intent["latest_charge"])
        shape = [
            ("invoice.created", invoice),
            ("invoice.finalized", invoice),
            ("payment_intent.created", intent),
            ("payment_intent.succeeded", intent),
            ("charge.succeeded", charge),
            ("invoice.paid", invoice),
            ("invoice.payment_succeeded", invoice),
            ("customer.subscription.updated", subscription),
        ]
        for event_type, obj in shape:
            created += 1
            events.append(stored(event_type, obj, created))
        objects |= {invoice["id"], intent["id"], charge["id"], subscription["id"]}
    return events, objects


@pytest.mark.django_db
def test_eight_events_of_one_invoice_cost_one_retrieve(fake_stripe: FakeStripe) -> None:
    customer = fake_stripe.add("customer", email="one@example.com")
    sync_customers([customer])
    invoice = fake_stripe.add("invoice", customer=customer["id"])
    created = int(time.time()) - 50
    events = [stored(t, invoice, created + i) for i, t in enumerate(INVOICE_TYPES)]
    seen: list[str] = []

    def record(event: Event) -> None:
        assert Invoice.objects.filter(stripe_id=invoice["id"]).exists()  # mirrored first
        seen.append(event.stripe_id)

    registry.register("invoice.*", record)
    fake_stripe.reset_requests()
    try:
        outcomes = process_batch()
    finally:
        registry.unregister(record)
    assert [o.status for o in outcomes] == [EventStatus.SUCCEEDED] * 8
    assert [r.path for r in fake_stripe.requests] == [f"/v1/invoices/{invoice['id']}"]
    assert seen == [e.stripe_id for e in events]  # once each, in created order
    assert set(Event.objects.values_list("customer_id", flat=True)) == {customer["id"]}


@pytest.mark.django_db
def test_a_billing_run_costs_one_request_per_distinct_object(
    fake_stripe: FakeStripe,
) -> None:
    _events, objects = billing_run(fake_stripe, customers=5)
    fake_stripe.reset_requests()
    outcomes = drain()
    assert len(outcomes) == 40
    assert {o.status for o in outcomes} == {EventStatus.SUCCEEDED}
    assert fake_stripe.request_count == len(objects) == 20  # 0.5 requests per event
    assert Charge.objects.count() == 5 and Invoice.objects.count() == 5


@pytest.mark.django_db
def test_new_customers_are_fetched_once_per_batch(fake_stripe: FakeStripe) -> None:
    customer = fake_stripe.add("customer", email="new@example.com")
    invoice = fake_stripe.add("invoice", customer=customer["id"])
    intent = fake_stripe.add("payment_intent", amount=900, currency="usd", customer=customer["id"])
    created = int(time.time()) - 50
    stored("invoice.paid", invoice, created)
    stored("payment_intent.succeeded", intent, created + 1)
    fake_stripe.reset_requests()
    assert {o.status for o in process_batch()} == {EventStatus.SUCCEEDED}
    paths = sorted(r.path for r in fake_stripe.requests)
    assert paths == sorted(
        [
            f"/v1/customers/{customer['id']}",
            f"/v1/invoices/{invoice['id']}",
            f"/v1/payment_intents/{intent['id']}",
        ]
    )
    assert Customer.objects.filter(stripe_id=customer["id"]).exists()


@pytest.mark.django_db
def test_a_failing_handler_fails_its_event_only(fake_stripe: FakeStripe, settings: Any) -> None:
    settings.STRIPE_CONFIG = {**settings.STRIPE_CONFIG, "EVENT_MAX_ATTEMPTS": 3}
    customer = fake_stripe.add("customer", email="partial@example.com")
    sync_customers([customer])
    invoice = fake_stripe.add("invoice", customer=customer["id"])
    created = int(time.time()) - 50
    events = [stored(t, invoice, created + i) for i, t in enumerate(INVOICE_TYPES[:3])]

    def fail_on_finalized(event: Event) -> None:
        Customer.objects.filter(stripe_id=customer["id"]).update(email="half@example.com")
        if event.type == "invoice.finalized":
            raise RuntimeError("boom")

    registry.register("invoice.*", fail_on_finalized)
    try:
        outcomes = process_batch()
    finally:
        registry.unregister(fail_on_finalized)
    assert [o.status for o in outcomes] == ["succeeded", "failed", "succeeded"]
    failed = Event.objects.get(pk=events[1].pk)
    assert failed.last_error == "RuntimeError: boom" and failed.next_attempt_at is not None
    assert Invoice.objects.filter(stripe_id=invoice["id"]).exists()
    # The others' handler writes stand, the failed one's rolled back with it.
    assert Customer.objects.get(stripe_id=customer["id"]).email == "half@example.com"


@pytest.mark.django_db
def test_a_failed_fetch_fails_the_events_that_need_it_and_they_retry(
    fake_stripe: FakeStripe,
) -> None:
    customer = fake_stripe.add("customer", email="retry@example.com")
    sync_customers([customer])
    invoice = fake_stripe.add("invoice", customer=customer["id"])
    intent = fake_stripe.add("payment_intent", amount=900, currency="usd", customer=customer["id"])
    created = int(time.time()) - 50
    stored("invoice.paid", invoice, created)
    stored("invoice.payment_succeeded", invoice, created + 1)
    stored("payment_intent.succeeded", intent, created + 2)
    fake_stripe.fail_next(400, path=f"/v1/invoices/{invoice['id']}", code="lock_timeout")
    outcomes = process_batch()
    assert [o.status for o in outcomes] == ["failed", "failed", "succeeded"]
    assert "lock_timeout" in Event.objects.filter(status="failed").first().last_error
    fake_stripe.reset_requests()
    call_command("stripe_process_events", "--failed", stdout=open(os.devnull, "w"))
    assert set(Event.objects.values_list("status", flat=True)) == {EventStatus.SUCCEEDED}
    assert [r.path for r in fake_stripe.requests] == [f"/v1/invoices/{invoice['id']}"]


WORKER = """
import sys, time
import django
django.setup()
from pathlib import Path
from stripe_integrations.models import Customer
from stripe_integrations.testing import fake_stripe
from stripe_integrations.webhooks import registry
from stripe_integrations.webhooks.processing import drain

marker, slow_invoice, customer_id, *invoice_ids = sys.argv[1:]

def mark(event):
    Customer.objects.create(stripe_id="cus_mark_" + event.stripe_id)
    if event.data_object["id"] == slow_invoice and event.type == "invoice.paid":
        Path(marker).write_text("started")
        time.sleep(120)

registry.register("*", mark)
with fake_stripe() as fake:
    fake.add("customer", id=customer_id)
    for invoice_id in invoice_ids:
        fake.add("invoice", id=invoice_id, customer=customer_id)
    drain()
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_leaves_each_event_applied_once(
    fake_stripe: FakeStripe, settings: Any, tmp_path: Path
) -> None:
    """Groups committed before the kill stay succeeded; the group being applied is rolled
    back and taken over once the lease expires; every event's handler effect exists once."""
    settings.STRIPE_CONFIG = {**settings.STRIPE_CONFIG, "EVENT_LEASE_SECONDS": 2}
    customer = fake_stripe.add("customer", email="killed@example.com")
    sync_customers([customer])
    invoices = [fake_stripe.add("invoice", customer=customer["id"]) for _ in range(3)]
    created = int(time.time()) - 50
    events = []
    for n, invoice in enumerate(invoices):
        events.append(stored("invoice.created", invoice, created + 2 * n))
        events.append(stored("invoice.paid", invoice, created + 2 * n + 1))
    target = invoices[1]["id"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SI_USE_TEST_DATABASE": "1",
        "SI_EVENT_LEASE_SECONDS": "2",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    if connection.vendor == "postgresql":
        env.update(DB="postgres", PGTESTDATABASE=connection.settings_dict["NAME"])
    else:
        env.update(DB="sqlite", SI_SQLITE_TEST_NAME=connection.settings_dict["NAME"])
    marker = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(marker), target, customer["id"]]
        + [invoice["id"] for invoice in invoices],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "")
            assert time.monotonic() < deadline, "the worker never reached the second invoice"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
    statuses = dict(Event.objects.values_list("pk", "status"))
    # Groups are applied as their objects arrive: the blocked invoice's group is not
    # committed; each other group is either committed (succeeded) or not started.
    assert {statuses[e.pk] for e in events[2:4]} == {"processing"}
    assert set(statuses.values()) <= {"processing", "succeeded"}
    left = sum(1 for status in statuses.values() if status == "processing")
    marks = 0

    def mark(event: Event) -> None:
        nonlocal marks
        marks += 1
        Customer.objects.create(stripe_id="cus_mark_" + event.stripe_id)

    registry.register("*", mark)
    try:
        deadline = time.monotonic() + 30
        while Event.objects.exclude(status=EventStatus.SUCCEEDED).exists():
            assert time.monotonic() < deadline, "the events were never taken over"
            drain()
            time.sleep(0.2)
    finally:
        registry.unregister(mark)
    assert marks == left  # the events the dead worker had not committed, once each
    for event in events:
        assert Customer.objects.filter(stripe_id="cus_mark_" + event.stripe_id).count() == 1


@pytest.mark.django_db
def test_the_fetch_time_is_when_the_limiter_sent_the_request(fake_stripe: FakeStripe) -> None:
    """A request held by the rate limiter returns the object as of its sending: that time,
    not the one before the wait, is what the freshness rule compares."""
    from datetime import timedelta

    from django.utils import timezone

    from stripe_integrations.ratelimit import TokenBucket, override_limiter
    from stripe_integrations.sync.fetch import Target, fetch

    customer = fake_stripe.add("customer", email="held@example.com")
    held = TokenBucket(1000.0)
    original = held.acquire

    def slow_acquire(background: bool | None = None) -> float:
        time.sleep(0.3)
        return original(background)

    held.acquire = slow_acquire  # type: ignore[method-assign]
    asked = timezone.now()
    with override_limiter(held):
        fetched = fetch(Target("customer", customer["id"]))
    assert fetched.obj["id"] == customer["id"]
    assert fetched.at >= asked + timedelta(seconds=0.3)
