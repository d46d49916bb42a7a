"""The webhook endpoint: what it accepts, what it refuses, and that it stores once."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from stripe_integrations.models import Customer, Event, EventStatus
from stripe_integrations.testing import FakeStripe
from stripe_integrations.testing.webhooks import build_event, post_event
from stripe_integrations.webhooks import registry
from stripe_integrations.webhooks.signature import compute_signature, sign

pytestmark = pytest.mark.django_db

SECRET = "whsec_test_secret"
URL = "/stripe/webhook/"


@pytest.fixture
def client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def deliver(client: Client, django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """POST a signed event and run what the commit would trigger (the test is a transaction)."""

    def post(event: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return post_event(client, event, **kwargs)

    return post


def customer_event(fake: FakeStripe, **fields: Any) -> dict[str, Any]:
    customer = fake.add("customer", email="jenny@example.com")
    return build_event("customer.updated", customer, **fields)


def test_signed_event_is_stored_once_and_applied(
    deliver: Callable[..., Any], fake_stripe: FakeStripe
) -> None:
    event = customer_event(fake_stripe)
    response = deliver(event)
    assert response.status_code == 200
    assert response.json() == {"received": True, "id": event["id"], "duplicate": False}
    stored = Event.objects.get(stripe_id=event["id"])
    assert stored.status == EventStatus.SUCCEEDED and stored.attempts == 1
    assert stored.type == "customer.updated" and stored.raw == event
    customer_id = event["data"]["object"]["id"]
    assert stored.customer_id == customer_id
    assert Customer.objects.get(stripe_id=customer_id).email == "jenny@example.com"


def test_three_deliveries_of_one_event_apply_once(
    deliver: Callable[..., Any], fake_stripe: FakeStripe
) -> None:
    calls: list[str] = []

    def count(event: Event) -> None:
        calls.append(event.stripe_id)

    registry.register("customer.updated", count)
    try:
        event = customer_event(fake_stripe)
        responses = [deliver(event) for _ in range(3)]
    finally:
        registry.unregister(count)
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json()["duplicate"] for r in responses] == [False, True, True]
    assert calls == [event["id"]]
    assert Event.objects.count() == 1
    # One refetch of the customer, by the one processing.
    assert (
        len(fake_stripe.requests_to("GET", f"/v1/customers/{event['data']['object']['id']}")) == 1
    )


def test_rotated_secret_and_several_signatures_are_accepted(client: Client) -> None:
    body = json.dumps(build_event("ping.test", {"id": "x", "object": "thing"})).encode()
    ts = int(time.time())
    header = f"t={ts},v1={'0' * 64},v1={compute_signature(body, 'whsec_rotated_secret', ts)}"
    assert post_event(client, body, signature=header).status_code == 200


def test_processing_is_deferred_with_the_manual_backend(
    deliver: Callable[..., Any], fake_stripe: FakeStripe, settings: Any
) -> None:
    settings.STRIPE_CONFIG = {**settings.STRIPE_CONFIG, "EVENT_BACKEND": "manual"}
    event = customer_event(fake_stripe)
    fake_stripe.reset_requests()
    assert deliver(event).status_code == 200
    assert Event.objects.get().status == EventStatus.PENDING
    assert fake_stripe.request_count == 0


def test_only_post_is_allowed(client: Client) -> None:
    assert client.get(URL).status_code == 405
    assert client.put(URL, b"{}").status_code == 405
    assert Event.objects.count() == 0


def test_the_url_is_reversible() -> None:
    assert reverse("stripe_integrations:webhook") == URL


# --- bad requests: 400, a reason, a log line, and no row ---------------------------------


def _now() -> int:
    """Signing time, read when a case is sent (not when the module is imported, which may be
    longer ago than the tolerance: every case would then be refused as expired)."""
    return int(time.time())


def _good() -> dict[str, Any]:
    return build_event("customer.updated", {"id": "cus_x", "object": "customer"})


def _body(event: Any) -> bytes:
    return json.dumps(event).encode()


def _signed(body: bytes, secret: str = SECRET, ts: int | None = None) -> str:
    return sign(body, secret, _now() if ts is None else ts)


Case = Callable[[], tuple[bytes, "str | None"]]


def _case(
    mutate: Callable[[dict[str, Any]], Any] | None = None,
    *,
    raw: bytes | None = None,
    header: Callable[[bytes], str | None] | None = None,
) -> Case:
    """A bad request, built (and signed) when the test sends it."""

    def build() -> tuple[bytes, str | None]:
        event = _good()
        body = raw if raw is not None else _body(mutate(event) if mutate else event)
        return body, (header(body) if header else _signed(body))

    return build


def _drop(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda e: {k: v for k, v in e.items() if k != key}


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda e: {**e, key: value}


BAD_REQUESTS: dict[str, Case] = {
    "no signature header": _case(header=lambda b: None),
    "empty signature header": _case(header=lambda b: ""),
    "garbled header": _case(header=lambda b: "garbage"),
    "no timestamp": _case(header=lambda b: f"v1={compute_signature(b, SECRET, _now())}"),
    "non-numeric timestamp": _case(
        header=lambda b: f"t=abc,v1={compute_signature(b, SECRET, _now())}"
    ),
    "no v1 signature": _case(header=lambda b: f"t={_now()},v0=abc"),
    "wrong secret": _case(header=lambda b: _signed(b, "whsec_someone_else")),
    "signature of another body": _case(header=lambda b: _signed(b + b" ")),
    "expired timestamp": _case(header=lambda b: _signed(b, ts=_now() - 3600)),
    "future timestamp": _case(header=lambda b: _signed(b, ts=_now() + 3600)),
    "timestamp swapped after signing": _case(
        header=lambda b: f"t={_now() + 1},v1={compute_signature(b, SECRET, _now())}"
    ),
    "empty body": _case(raw=b""),
    "invalid JSON": _case(raw=b"{not json"),
    "invalid UTF-8": _case(raw=b'{"id": "\xff"}'),
    "JSON array": _case(raw=b"[1, 2, 3]"),
    "not an event object": _case(_set("object", "customer")),
    "no id": _case(_drop("id")),
    "id is not an event id": _case(_set("id", "cus_123")),
    "no type": _case(_drop("type")),
    "type is not a string": _case(_set("type", 42)),
    "no data": _case(_drop("data")),
    "data.object missing": _case(_set("data", {"previous_attributes": {}})),
    "no livemode": _case(_drop("livemode")),
    "live event at a test endpoint": _case(_set("livemode", True)),
    "oversized body": _case(raw=b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_request_is_refused_without_a_row(
    case: str, client: Client, caplog: pytest.LogCaptureFixture, fake_stripe: FakeStripe
) -> None:
    body, header = BAD_REQUESTS[case]()
    extra = {"HTTP_STRIPE_SIGNATURE": header} if header is not None else {}
    with caplog.at_level(logging.WARNING, logger="stripe_integrations.webhooks"):
        response = client.generic("POST", URL, body, content_type="application/json", **extra)
    assert response.status_code == 400, response.content
    assert response.json()["error"]
    assert Event.objects.count() == 0
    assert fake_stripe.request_count == 0
    assert any("rejected" in r.getMessage() for r in caplog.records)


def test_at_least_twenty_bad_requests_are_covered() -> None:
    assert len(BAD_REQUESTS) >= 20


def test_no_secret_configured_refuses_everything(client: Client) -> None:
    with override_settings(STRIPE_CONFIG={"API_KEY": "sk_test_x", "WEBHOOK_SECRETS": []}):
        event = _good()
        response = post_event(client, event, secret=SECRET)
    assert response.status_code == 400
    assert Event.objects.count() == 0


def test_body_limit_is_a_setting(client: Client, settings: Any) -> None:
    settings.STRIPE_CONFIG = {**settings.STRIPE_CONFIG, "WEBHOOK_MAX_BODY_BYTES": 100}
    response = post_event(client, _good())
    assert response.status_code == 400 and response.json()["error"] == "body too large"
