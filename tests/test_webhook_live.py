"""End to end with real processes: localstripe sending signed webhooks to a live server, and
a Celery worker process consuming from Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings

from stripe_integrations.client import get_client
from stripe_integrations.models import Customer, Event, EventStatus
from stripe_integrations.testing.webhooks import build_event, post_event
from stripe_integrations.webhooks.backends import thread_backend

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_localstripe_e2e"


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture
def localstripe(request: pytest.FixtureRequest) -> Any:
    if request.config.getoption("--no-localstripe"):
        pytest.skip("--no-localstripe")
    server = request.getfixturevalue("localstripe_server")
    server.reset()
    return server


def test_localstripe_deliveries_update_the_mirror(localstripe: Any, live_server: Any) -> None:
    """localstripe signs and POSTs its events to our endpoint on a live server; the default
    thread backend applies them after the response."""
    localstripe.register_webhook(
        "si-e2e", f"{live_server.url}/stripe/webhook/", SECRET, events=None
    )
    config = {
        "API_KEY": "sk_test_localstripe",
        "API_BASE": localstripe.url,
        "WEBHOOK_SECRETS": [SECRET],
        "EVENT_BACKEND": "thread",
        "EVENT_RETRY_DELAY": 0.2,
    }
    with override_settings(STRIPE_CONFIG=config):
        client = get_client()
        customer = client.v1.customers.create(params={"email": "live@example.com"})
        wait_for(lambda: Customer.objects.filter(stripe_id=customer.id).exists())
        client.v1.customers.update(customer.id, params={"name": "Updated Live"})

        def updated() -> bool:
            thread_backend().join(5)
            return Customer.objects.filter(stripe_id=customer.id, name="Updated Live").exists()

        wait_for(updated)
        client.v1.customers.delete(customer.id)
        wait_for(lambda: Customer.objects.filter(stripe_id=customer.id, is_active=False).exists())
        assert thread_backend().join(10)
    # localstripe keeps registrations across resets: stop this one from reaching later tests.
    localstripe.register_webhook(
        "si-e2e", f"{live_server.url}/stripe/webhook/", SECRET, events=["none.none"]
    )
    types = set(Event.objects.values_list("type", flat=True))
    assert {"customer.created", "customer.updated", "customer.deleted"} <= types
    assert set(Event.objects.values_list("status", flat=True)) == {EventStatus.SUCCEEDED}


QUEUE = f"si-test-{uuid.uuid4().hex[:10]}"  # this run's own queue: no other worker takes it


@pytest.fixture
def celery_worker(localstripe: Any) -> Iterator[subprocess.Popen[bytes]]:
    if connection.vendor != "postgresql":
        pytest.skip("the Celery worker shares the test database: run with DB=postgres")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DB": "postgres",
        "SI_USE_TEST_DATABASE": "1",
        "PGTESTDATABASE": connection.settings_dict["NAME"],
        "SI_STRIPE_API_BASE": localstripe.url,
        "SI_EVENT_BACKEND": "celery",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
    }
    from tests.celery_app import app

    app.control.purge()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.celery_app",
            "worker",
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-Q",
            QUEUE,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: app.control.ping(timeout=0.5) or worker.poll() is not None, 30)
        if worker.poll() is not None:
            raise AssertionError(worker.stderr.read().decode() if worker.stderr else "died")
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_celery_worker_applies_a_signed_webhook(celery_worker: Any, localstripe: Any) -> None:
    config = {
        "API_KEY": "sk_test_localstripe",
        "API_BASE": localstripe.url,
        "WEBHOOK_SECRETS": ["whsec_test_secret"],
        "EVENT_BACKEND": "celery",
        "CELERY_QUEUE": QUEUE,
    }
    with override_settings(STRIPE_CONFIG=config):
        remote = get_client().v1.customers.create(params={"email": "celery@example.com"})
        event = build_event("customer.updated", {"id": remote.id, "object": "customer"})
        response = post_event(Client(), event)
        assert response.status_code == 200
        stored = wait_for(
            lambda: Event.objects.filter(
                stripe_id=event["id"], status=EventStatus.SUCCEEDED
            ).first(),
            30,
        )
    assert stored.attempts == 1
    assert Customer.objects.get(stripe_id=remote.id).email == "celery@example.com"
    assert celery_worker.poll() is None  # the worker is still up: it did the work
