"""Unauthenticated requests never reach a 500: whatever the bytes of the Stripe-Signature
header, a delivery that does not verify gets a 400 with a short reason, leaves no row, and
logs at WARNING at most (nothing mails the admins), in bounded work."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings

from stripe_integrations.models import Event
from stripe_integrations.testing.webhooks import build_event
from stripe_integrations.webhooks import signature, views
from stripe_integrations.webhooks.signature import (
    MAX_HEADER_LENGTH,
    MAX_SIGNATURES,
    SignatureError,
    compute_signature,
    parse_header,
)

pytestmark = pytest.mark.django_db

SECRET = "whsec_test_secret"
URL = "/stripe/webhook/"


@pytest.fixture
def client() -> Client:
    # A 500 must show as a 500 here, not as an exception raised into the test.
    return Client(enforce_csrf_checks=True, raise_request_exception=False)


def _body() -> bytes:
    return json.dumps(
        build_event("customer.updated", {"id": "cus_x", "object": "customer"})
    ).encode()


def _sig(body: bytes, ts: int | None = None) -> str:
    return compute_signature(body, SECRET, int(time.time()) if ts is None else ts)


HeaderOf = Callable[[bytes], str]

#: header builder -> the reason the 400 carries
FORGED_HEADERS: dict[str, tuple[HeaderOf, str]] = {
    # "²".isdigit() is True, int("²") raises ValueError.
    "superscript digit timestamp": (
        lambda b: f"t=²,v1={_sig(b)}",
        "malformed Stripe-Signature header",
    ),
    # Arabic-Indic digits: int() accepts them, the scheme does not.
    "non-ASCII decimal timestamp": (
        lambda b: "t=\u0661\u0667" + "\u0660" * 8 + f",v1={_sig(b)}",
        "malformed Stripe-Signature header",
    ),
    # abs(time() - int) overflows a float.
    "400-digit timestamp": (
        lambda b: f"t={'9' * 400},v1={_sig(b)}",
        "malformed timestamp in Stripe-Signature header",
    ),
    # int() refuses more than 4,300 digits.
    "5,000-digit timestamp": (
        lambda b: f"t={'1' * 5000},v1={_sig(b)}",
        "Stripe-Signature header too long",
    ),
    "1,000-digit timestamp within the length cap": (
        lambda b: f"t={'1' * 1000}",
        "malformed timestamp in Stripe-Signature header",
    ),
    # hmac.compare_digest raises TypeError on non-ASCII str.
    "non-ASCII v1 signature": (
        lambda b: f"t={int(time.time())},v1={'é' * 64}",
        "malformed Stripe-Signature header",
    ),
    "non-ASCII v1 beside a wrong one": (
        lambda b: f"t={int(time.time())},v1={'0' * 64},v1=é",
        "malformed Stripe-Signature header",
    ),
    "non-hex v1 signature": (
        lambda b: f"t={int(time.time())},v1={'z' * 64}",
        "no v1 signature in Stripe-Signature header",
    ),
    "two timestamps": (
        lambda b: f"t={int(time.time())},t={int(time.time())},v1={_sig(b)}",
        "malformed timestamp in Stripe-Signature header",
    ),
    "NUL in the header": (
        lambda b: f"t={int(time.time())}\x00,v1={_sig(b)}",
        "malformed timestamp in Stripe-Signature header",
    ),
    "100,000 v1 entries": (
        lambda b: f"t={int(time.time())}" + f",v1={'0' * 64}" * 100_000,
        "Stripe-Signature header too long",
    ),
    # The right signature after MAX_SIGNATURES wrong ones is not tried.
    "right signature past the cap": (
        lambda b: f"t={int(time.time())}" + f",v1={'0' * 64}" * MAX_SIGNATURES + f",v1={_sig(b)}",
        "no signature matches",
    ),
}


def _post(client: Client, body: bytes, header: str | None) -> Any:
    extra = {} if header is None else {"HTTP_STRIPE_SIGNATURE": header}
    return client.generic("POST", URL, body, content_type="application/json", **extra)


@pytest.mark.parametrize("case", list(FORGED_HEADERS))
def test_forged_header_is_a_400_logged_at_warning_at_most(
    case: str, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    build, reason = FORGED_HEADERS[case]
    body = _body()
    with caplog.at_level(logging.DEBUG):
        response = _post(client, body, build(body))
    assert response.status_code == 400, response.content[:300]
    assert response.json() == {"error": reason}
    assert Event.objects.count() == 0
    assert [r for r in caplog.records if r.levelno > logging.WARNING] == []
    assert any("rejected" in r.getMessage() for r in caplog.records)


def test_a_right_signature_among_the_first_ones_is_still_accepted(client: Client) -> None:
    body = _body()
    header = f"t={int(time.time())}" + f",v1={'0' * 64}" * (MAX_SIGNATURES - 1)
    response = _post(client, body, f"{header},v1={_sig(body).upper()}")
    assert response.status_code == 200, response.content
    assert Event.objects.count() == 1


def test_parsing_is_bounded() -> None:
    header = "t=1700000000" + f",v1={'a' * 64}" * 14
    assert len(header) <= MAX_HEADER_LENGTH
    assert len(parse_header(header)[1]) == MAX_SIGNATURES
    with pytest.raises(SignatureError):
        parse_header("t=1," + "x" * MAX_HEADER_LENGTH)


def test_an_unexpected_parsing_defect_is_a_400_not_a_500(
    client: Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(header: str) -> Any:
        raise OverflowError("a bug in the parser")

    monkeypatch.setattr(signature, "parse_header", broken)
    body = _body()
    with caplog.at_level(logging.DEBUG):
        response = _post(client, body, f"t={int(time.time())},v1={_sig(body)}")
    assert response.status_code == 400
    assert response.json() == {"error": "malformed Stripe-Signature header"}
    assert Event.objects.count() == 0
    assert [r for r in caplog.records if r.levelno > logging.WARNING] == []


def test_missing_secret_is_an_error_once_per_process_then_warnings(
    client: Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "_no_secret_reported", threading.Event())
    body = _body()
    with (
        override_settings(STRIPE_CONFIG={"API_KEY": "sk_test_x", "WEBHOOK_SECRETS": []}),
        caplog.at_level(logging.DEBUG),
    ):
        responses = [_post(client, body, f"t=1,v1={'0' * 64}") for _ in range(3)]
    assert [r.status_code for r in responses] == [400, 400, 400]
    assert {r.json()["error"] for r in responses} == {"no webhook secret configured"}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        'STRIPE_CONFIG["WEBHOOK_SECRETS"] is empty: refusing every delivery'
    ]
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("length", "reason"),
    [
        ("²", "invalid Content-Length"),
        ("\u0663", "invalid Content-Length"),  # int() reads an Arabic-Indic 3
        ("1" * 5000, "invalid Content-Length"),
        ("9" * 400, "invalid Content-Length"),
        ("-1", "invalid Content-Length"),
        ("abc", "invalid Content-Length"),
        ("9" * 20, "body too large"),
    ],
    ids=["superscript", "arabic-indic", "5000 digits", "400 digits", "negative", "letters", "huge"],
)
def test_a_forged_content_length_is_a_400_too(
    length: str, reason: str, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    body = _body()
    with caplog.at_level(logging.DEBUG):
        response = client.generic(
            "POST",
            URL,
            body,
            content_type="application/json",
            CONTENT_LENGTH=length,
            HTTP_STRIPE_SIGNATURE=f"t={int(time.time())},v1={_sig(body)}",
        )
    assert response.status_code == 400, response.content[:300]
    assert response.json() == {"error": reason}
    assert Event.objects.count() == 0
    assert [r for r in caplog.records if r.levelno > logging.WARNING] == []
