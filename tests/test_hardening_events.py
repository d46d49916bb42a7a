"""Verified deliveries of odd shape, exactly-once across a crash, leases and Connect events.

Every verified delivery is either stored (200) or refused with a reason (400), never a 500;
a stored event is applied once even when its worker dies at any point.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from stripe_integrations import signals
from stripe_integrations.models import Customer, Event, EventStatus, Product
from stripe_integrations.sync.storable import ESCAPED_PREFIX, restored, storable
from stripe_integrations.testing import FakeStripe
from stripe_integrations.testing.webhooks import build_event, post_event
from stripe_integrations.webhooks import registry
from stripe_integrations.webhooks.processing import process_event, store_event
from stripe_integrations.webhooks.views import MAX_JSON_DEPTH

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def deliver(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    client = Client()

    def post(event: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return post_event(client, event, **kwargs)

    return post


def body_with(event: dict[str, Any], marker: str, raw_json: str) -> bytes:
    """The JSON of ``event`` with the string ``marker`` replaced by ``raw_json`` verbatim."""
    text = json.dumps(event)
    assert text.count(json.dumps(marker)) == 1
    return text.replace(json.dumps(marker), raw_json).encode()


def product_event(fake: FakeStripe, **fields: Any) -> dict[str, Any]:
    product = fake.add("product", name="Gold")
    return build_event("product.updated", product, **fields)


# -- verified bodies: stored, never a 500 --------------------------------------------------------

STORED_TEXT = [
    ("nul", r'"a\u0000b"', "a\x00b"),
    ("lone-surrogate", r'"x\ud83dy"', "x\ud83dy"),
    ("prefix-lookalike", json.dumps(ESCAPED_PREFIX + '"z"'), ESCAPED_PREFIX + '"z"'),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "raw_json", "value"), STORED_TEXT, ids=[c[0] for c in STORED_TEXT]
)
def test_text_no_database_holds_is_stored_escaped_and_lossless(
    deliver: Callable[..., Any], fake_stripe: FakeStripe, case: str, raw_json: str, value: str
) -> None:
    event = product_event(fake_stripe)
    event["data"]["object"]["description"] = "MARKER"
    event["data"]["object"]["metadata"] = {"note": "MARKER2"}
    body = body_with(event, "MARKER", raw_json)
    body = body.replace(b'"MARKER2"', raw_json.encode())
    response = deliver(body)
    assert response.status_code == 200, response.content
    stored = Event.objects.get(stripe_id=event["id"])
    assert stored.status == EventStatus.SUCCEEDED
    kept = stored.raw["data"]["object"]["description"]
    assert kept.startswith(ESCAPED_PREFIX) and "\x00" not in kept
    original = restored(stored.raw)
    assert original["data"]["object"]["description"] == value
    assert original["data"]["object"]["metadata"] == {"note": value}
    assert original == json.loads(body)


@pytest.mark.django_db
def test_a_nul_in_a_key_is_escaped_too(
    deliver: Callable[..., Any], fake_stripe: FakeStripe
) -> None:
    event = product_event(fake_stripe)
    event["data"]["object"]["metadata"] = {"MARKER": "v"}
    body = body_with(event, "MARKER", r'"k\u0000"')
    assert deliver(body).status_code == 200
    stored = Event.objects.get(stripe_id=event["id"])
    assert restored(stored.raw)["data"]["object"]["metadata"] == {"k\x00": "v"}


@pytest.mark.django_db
def test_mirrored_rows_keep_such_text_escaped(
    deliver: Callable[..., Any], fake_stripe: FakeStripe
) -> None:
    """The handler re-fetches the object; its row stores the same escaped form."""
    product = fake_stripe.add("product", name="Gold", description="line\x00two")
    response = deliver(build_event("product.updated", product))
    assert response.status_code == 200
    row = Product.objects.get(stripe_id=product["id"])
    assert restored(row.raw)["description"] == "line\x00two"


REFUSED_BODIES = [
    ("nan", "NaN", "not standard JSON"),
    ("infinity", "Infinity", "not standard JSON"),
    ("minus-infinity", "-Infinity", "not standard JSON"),
    ("huge-float", "1e400", "not standard JSON"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "raw_json", "reason"), REFUSED_BODIES, ids=[c[0] for c in REFUSED_BODIES]
)
def test_non_standard_json_is_refused_with_a_reason(
    deliver: Callable[..., Any], fake_stripe: FakeStripe, case: str, raw_json: str, reason: str
) -> None:
    event = product_event(fake_stripe)
    event["data"]["object"]["amount"] = "MARKER"
    response = deliver(body_with(event, "MARKER", raw_json))
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert not Event.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 3000, 100_000])
def test_deep_nesting_is_refused_with_a_reason(
    deliver: Callable[..., Any], fake_stripe: FakeStripe, depth: int
) -> None:
    event = product_event(fake_stripe)
    event["data"]["object"]["metadata"] = "MARKER"
    response = deliver(body_with(event, "MARKER", "[" * depth + "]" * depth))
    assert response.status_code == 400
    assert "nests deeper" in response.json()["error"]
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_nesting_within_the_bound_is_stored(
    deliver: Callable[..., Any], fake_stripe: FakeStripe
) -> None:
    event = product_event(fake_stripe)
    event["data"]["object"]["metadata"] = "MARKER"
    depth = MAX_JSON_DEPTH - 4  # event > data > object > metadata
    assert deliver(body_with(event, "MARKER", "[" * depth + "]" * depth)).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["object", "request"])
def test_ids_longer_than_their_column_are_stored_in_raw_only(
    deliver: Callable[..., Any], fake_stripe: FakeStripe, where: str
) -> None:
    long_id = "x" * 300
    event = product_event(fake_stripe)
    if where == "object":
        event["type"] = "test.long_id"
        event["data"]["object"]["id"] = long_id
    else:
        event["request"] = {"id": long_id, "idempotency_key": None}
    response = deliver(event)
    assert response.status_code == 200, response.content
    stored = Event.objects.get(stripe_id=event["id"])
    assert stored.object_id is None if where == "object" else stored.request_id is None
    location = stored.raw["data"]["object"] if where == "object" else stored.raw["request"]
    assert location["id"] == long_id


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["id", "type"])
def test_an_event_id_or_type_no_column_holds_is_refused(
    deliver: Callable[..., Any], fake_stripe: FakeStripe, field: str
) -> None:
    event = product_event(fake_stripe)
    event[field] = "MARKER"
    prefix = "evt_" if field == "id" else "product."
    response = deliver(body_with(event, "MARKER", json.dumps(prefix)[:-1] + r'\u0000"'))
    assert response.status_code == 400
    assert "malformed" in response.json()["error"]
    assert not Event.objects.exists()


def test_storable_is_one_to_one() -> None:
    values = [
        "plain",
        "a\x00b",
        "\ud800",
        ESCAPED_PREFIX,
        ESCAPED_PREFIX + '"a\\u0000b"',
        {"k\x00": ["\x00", {"n": 1, "f": 1.5, "b": True, "z": None}]},
    ]
    for value in values:
        stored = storable(value)
        assert restored(stored) == value
        assert "\x00" not in json.dumps(stored)
    untouched = {"a": ["b", {"c": 1}]}
    assert storable(untouched) is untouched


# -- exactly once across a crash ----------------------------------------------------------------


class Crash(BaseException):
    """Stands for the process dying (not an ``Exception``: nothing catches it)."""


def _stored_event(event_type: str, **fields: Any) -> Event:
    data = {
        "id": f"evt_{event_type.replace('.', '_')}_{time.monotonic_ns()}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "obj_1", "object": "thing"}},
        **fields,
    }
    event, created = store_event(data)
    assert created and event is not None
    return event


@pytest.mark.django_db(transaction=True)
def test_a_crash_right_after_the_handlers_commit_leaves_the_event_succeeded() -> None:
    """The old code committed the handlers' writes, then marked the event in a second
    statement: a crash between the two re-ran the handlers on recovery."""
    runs: list[str] = []

    def handler(event: Event) -> None:
        runs.append(event.stripe_id)
        transaction.on_commit(crash)

    def crash() -> None:
        raise Crash

    registry.register("test.crash", handler)
    try:
        event = _stored_event("test.crash")
        with pytest.raises(Crash):
            process_event(event.pk)
        assert Event.objects.get(pk=event.pk).status == EventStatus.SUCCEEDED
        # Recovery: the lease ran out long ago; whatever is due is processed again.
        Event.objects.filter(pk=event.pk).update(locked_at=None)
        from django.core.management import call_command

        call_command("stripe_process_events", stdout=open(os.devnull, "w"))
    finally:
        registry.unregister(handler)
    assert runs == [event.stripe_id]


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_lease_was_taken_over_rolls_back() -> None:
    """A hung worker resumes after another took its event over: its writes never land."""
    entered = threading.Event()
    release = threading.Event()
    writes: list[str] = []

    def slow(event: Event) -> None:
        if not entered.is_set():
            entered.set()
            release.wait(10)
        Customer.objects.create(stripe_id=f"cus_{len(writes)}_{event.pk}")
        writes.append(threading.current_thread().name)

    registry.register("test.hung", slow)
    outcomes: list[Any] = []
    try:
        event = _stored_event("test.hung")
        worker = threading.Thread(
            target=lambda: outcomes.append(process_event(event.pk)), name="hung"
        )
        from stripe_integrations.webhooks import leases

        # No renewal: the hung worker's lease expires as if its renewer had died with it.
        original = leases.renewer.hold_many
        leases.renewer.hold_many = lambda claims: _nothing()  # type: ignore[method-assign]
        try:
            worker.start()
            assert entered.wait(10)
            Event.objects.filter(pk=event.pk).update(locked_at=None)  # the lease expired
            taken_over = process_event(event.pk)
        finally:
            leases.renewer.hold_many = original  # type: ignore[method-assign]
        release.set()
        worker.join(10)
    finally:
        registry.unregister(slow)
        connection.close()
    assert taken_over.status == EventStatus.SUCCEEDED
    assert outcomes and outcomes[0].status == EventStatus.PROCESSING
    assert Customer.objects.count() == 1  # the hung worker's row was rolled back
    stored = Event.objects.get(pk=event.pk)
    assert stored.status == EventStatus.SUCCEEDED and stored.attempts == 2


def _nothing() -> Any:
    from contextlib import nullcontext

    return nullcontext()


@pytest.mark.django_db(transaction=True)
def test_a_long_handler_keeps_its_lease(settings: Any) -> None:
    settings.STRIPE_CONFIG = {**settings.STRIPE_CONFIG, "EVENT_LEASE_SECONDS": 1}
    runs: list[str] = []
    started = threading.Event()

    def long(event: Event) -> None:
        runs.append(threading.current_thread().name)
        started.set()
        time.sleep(2.5)

    registry.register("test.long", long)
    try:
        event = _stored_event("test.long")
        worker = threading.Thread(target=process_event, args=(event.pk,), name="worker")
        worker.start()
        assert started.wait(10)
        competitors = []
        for _ in range(4):  # over two lease lengths, a competitor keeps trying
            time.sleep(0.5)
            competitors.append(process_event(event.pk).status)
        worker.join(10)
    finally:
        registry.unregister(long)
        connection.close()
    assert runs == ["worker"]
    assert set(competitors) == {EventStatus.PROCESSING}
    assert Event.objects.get(pk=event.pk).status == EventStatus.SUCCEEDED


@pytest.fixture
def worker_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SI_USE_TEST_DATABASE": "1",
        "SI_EVENT_LEASE_SECONDS": "2",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
    }
    if connection.vendor == "postgresql":
        env["DB"] = "postgres"
        env["PGTESTDATABASE"] = connection.settings_dict["NAME"]
    else:
        env["DB"] = "sqlite"
        env["SI_SQLITE_TEST_NAME"] = connection.settings_dict["NAME"]
    yield env


WORKER = """
import sys, time
import django
django.setup()
from pathlib import Path
from stripe_integrations.models import Customer
from stripe_integrations.webhooks import registry
from stripe_integrations.webhooks.processing import process_event

def stuck(event):
    Customer.objects.create(stripe_id="cus_from_the_dead_worker")
    Path(sys.argv[2]).write_text("started")
    time.sleep(120)

registry.register("test.killed", stuck)
process_event(int(sys.argv[1]))
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_event_is_taken_over_once_its_lease_expires(
    settings: Any, worker_env: dict[str, str], tmp_path: Path
) -> None:
    settings.STRIPE_CONFIG = {**settings.STRIPE_CONFIG, "EVENT_LEASE_SECONDS": 2}
    event = _stored_event("test.killed")
    marker = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(event.pk), str(marker)],
        cwd=ROOT,
        env=worker_env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the worker never started its handler"
            time.sleep(0.05)
        assert Event.objects.get(pk=event.pk).status == EventStatus.PROCESSING
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
    killed_at = time.monotonic()
    runs: list[str] = []

    def recovered(event: Event) -> None:
        runs.append(event.stripe_id)

    registry.register("test.killed", recovered)
    try:
        # While the dead worker's lease runs, nobody takes the event.
        assert process_event(event.pk).status == EventStatus.PROCESSING
        outcome = None
        while time.monotonic() - killed_at < 30:
            outcome = process_event(event.pk)
            if outcome.status != EventStatus.PROCESSING:
                break
            time.sleep(0.2)
    finally:
        registry.unregister(recovered)
    assert outcome is not None and outcome.status == EventStatus.SUCCEEDED
    assert runs == [event.stripe_id]
    stored = Event.objects.get(pk=event.pk)
    assert stored.status == EventStatus.SUCCEEDED and stored.attempts == 2
    # The dead worker's write was never committed.
    assert not Customer.objects.filter(stripe_id="cus_from_the_dead_worker").exists()


# -- Connect events -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("event_type", ["customer.deleted", "product.deleted", "customer.updated"])
def test_connect_events_are_stored_and_skipped_with_the_reason(
    deliver: Callable[..., Any], fake_stripe: FakeStripe, event_type: str
) -> None:
    kind = event_type.split(".")[0]
    obj = {"id": f"{'cus' if kind == 'customer' else 'prod'}_connected1", "object": kind}
    if event_type.endswith("deleted"):
        obj["deleted"] = True
    event = build_event(event_type, obj, account="acct_1Connected")
    skipped: list[tuple[str, str]] = []

    def receiver(sender: Any, event: Event, reason: str, **kwargs: Any) -> None:
        skipped.append((event.stripe_id, reason))

    signals.event_skipped.connect(receiver)
    try:
        response = deliver(event)
    finally:
        signals.event_skipped.disconnect(receiver)
    assert response.status_code == 200
    stored = Event.objects.get(stripe_id=event["id"])
    assert stored.status == EventStatus.SKIPPED
    assert stored.account == "acct_1Connected"
    assert "acct_1Connected" in stored.last_error and "not mirrored" in stored.last_error
    assert skipped == [(event["id"], stored.last_error)]
    assert not Customer.objects.exists() and not Product.objects.exists()
    assert fake_stripe.request_count == 0


@pytest.mark.django_db
def test_a_celery_redelivery_of_a_held_event_looks_again_after_a_lease(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``reject_on_worker_lost`` redelivers at once, before the dead worker's lease expires."""
    pytest.importorskip("celery")
    from django.utils import timezone

    from stripe_integrations.tasks import process_event_task

    settings.STRIPE_CONFIG = {**settings.STRIPE_CONFIG, "EVENT_LEASE_SECONDS": 45}
    event = _stored_event("test.redelivered")
    Event.objects.filter(pk=event.pk).update(
        status=EventStatus.PROCESSING, locked_at=timezone.now(), attempts=1
    )
    asked: list[float] = []

    class Retry(Exception):
        pass

    def retry(countdown: float) -> Exception:
        asked.append(countdown)
        return Retry()

    monkeypatch.setattr(process_event_task, "retry", retry)
    with pytest.raises(Retry):
        process_event_task.run(event.pk)
    assert asked == [45.0]
    assert Event.objects.get(pk=event.pk).attempts == 1  # nothing was run


@pytest.mark.django_db
def test_a_pulled_event_no_column_holds_is_skipped_with_a_warning(
    fake_stripe: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    from io import StringIO

    from django.core.management import call_command

    from stripe_integrations.client import get_client

    customer = get_client().v1.customers.create(params={"email": "pulled@example.com"})
    odd = fake_stripe.emit_event("customer." + "x" * 300, fake_stripe.get("customer", customer.id))
    fine = fake_stripe.events[0]
    out = StringIO()
    with caplog.at_level("WARNING", logger="stripe_integrations.webhooks"):
        call_command("stripe_process_events", "--pull", stdout=out)
    assert "pulled 2 events from Stripe, 1 new" in out.getvalue()
    assert list(Event.objects.values_list("stripe_id", flat=True)) == [fine["id"]]
    assert f"{odd['id']!r} from the Events API not stored: event type is malformed" in caplog.text
