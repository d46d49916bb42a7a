"""Secrets never appear in an error page, a log or the admin: the config's repr, Django's
technical 500 page around the verify path, the ``stripe`` SDK's and the library's log
records, and mirrored text shown by the admin."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.debug import ExceptionReporter

from stripe_integrations.conf import StripeConfig, get_config
from stripe_integrations.models import Customer, Event
from stripe_integrations.sync import sync_objects
from stripe_integrations.testing.webhooks import build_event
from stripe_integrations.webhooks import signature, views
from stripe_integrations.webhooks.signature import sign

API_KEY = "sk_test_library_tests"
WEBHOOK_SECRETS = ("whsec_test_secret", "whsec_rotated_secret")
CONFIGURED = (API_KEY, *WEBHOOK_SECRETS)


def assert_no_secret(text: str) -> None:
    for secret in CONFIGURED:
        assert secret not in text


# --- the config's repr ----------------------------------------------------------------------


def test_the_config_repr_hides_the_key_and_the_webhook_secrets() -> None:
    config = get_config()
    for text in (repr(config), str(config), f"{config}", repr(config.webhook_secrets)):
        assert_no_secret(text)
        assert "[redacted]" in text
    assert "sk_test_[redacted]" in repr(config)
    # The values themselves are intact.
    assert str(config.api_key) == API_KEY and f"{config.api_key}" == API_KEY
    assert tuple(config.webhook_secrets) == WEBHOOK_SECRETS
    built = StripeConfig(api_key="sk_live_handmade", webhook_secrets=("whsec_handmade",))
    assert "handmade" not in repr(built)
    assert repr(built.api_key) == "'sk_live_[redacted]'"


# --- Django's error page around the verify path ---------------------------------------------


def _delivery() -> tuple[bytes, str]:
    body = json.dumps(build_event("customer.updated", {"id": "cus_x", "object": "customer"}))
    return body.encode(), sign(body, WEBHOOK_SECRETS[0])


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False], ids=["DEBUG", "production"])
def test_the_500_page_of_an_error_in_the_view_shows_no_secret(
    debug: bool, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.DEBUG = debug

    def broken(body: bytes) -> Any:
        raise RuntimeError("a defect after the signature check")

    monkeypatch.setattr(views, "parse_event", broken)
    body, header = _delivery()
    client = Client()
    with pytest.raises(RuntimeError) as caught:
        client.generic(
            "POST",
            "/stripe/webhook/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=header,
        )
    request = RequestFactory().post(
        "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    info = caught.value
    reporter = ExceptionReporter(request, type(info), info, info.__traceback__)
    html = reporter.get_traceback_html()
    assert "a defect after the signature check" in html
    assert "StripeConfig(" in html or not debug  # the config local is shown, redacted
    assert_no_secret(html)
    assert_no_secret(reporter.get_traceback_text())
    assert Event.objects.count() == 0


@pytest.mark.parametrize("debug", [True, False], ids=["DEBUG", "production"])
def test_the_500_page_of_an_error_inside_the_signature_check_shows_no_secret(
    debug: bool, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.DEBUG = debug

    def broken(payload: bytes, secret: str, timestamp: int) -> str:
        raise RuntimeError("a defect inside the signature check")

    body, _ = _delivery()
    monkeypatch.setattr(signature, "compute_signature", broken)
    request = RequestFactory().post("/stripe/webhook/", body, content_type="application/json")
    try:
        signature.verify(body, f"t={int(time.time())},v1={'0' * 64}", get_config().webhook_secrets)
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
    html = reporter.get_traceback_html()
    assert "a defect inside the signature check" in html
    assert_no_secret(html)
    assert_no_secret(reporter.get_traceback_text())


# --- logs -------------------------------------------------------------------------------------

SDK_BODY = json.dumps(
    {
        "id": "pi_3Leak",
        "object": "payment_intent",
        "client_secret": "pi_3Leak_secret_Abc123",
        "note": "seti_1Leak_secret_Def456 cs_test_a1B2_secret_Ghi789",
        "key": "sk_test_51HleakedKey sk_live_abc rk_live_def",
        "endpoint": "whsec_leakedSecret",
        "configured": API_KEY,
    },
    indent=2,
)
LEAKS = (
    "Abc123",
    "Def456",
    "Ghi789",
    "51HleakedKey",
    "sk_live_abc",
    "rk_live_def",
    "leakedSecret",
    API_KEY,
)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """What a real handler on the ``stripe`` and ``stripe_integrations`` loggers writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(n) for n in ("stripe", "stripe_integrations")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)


def test_the_sdk_debug_log_of_a_response_body_is_redacted(captured: io.StringIO) -> None:
    # The SDK's own logging path: stripe._util.log_debug("API response body", body=...).
    stripe._util.log_debug("API response body", body=SDK_BODY)  # type: ignore[attr-defined]
    logging.getLogger("stripe").info("Post details %s", {"client_secret": "seti_9_secret_Zz"})
    out = captured.getvalue()
    assert "API response body" in out and "pi_3Leak" in out
    for leak in (*LEAKS, "_secret_Zz"):
        assert leak not in out, leak
    assert out.count("[redacted]") >= len(LEAKS)


def test_child_loggers_and_tracebacks_of_the_library_are_redacted(
    captured: io.StringIO,
) -> None:
    log = logging.getLogger("stripe_integrations.webhooks.some_child")
    try:
        raise RuntimeError(f"bad key {API_KEY} and {WEBHOOK_SECRETS[1]}")
    except RuntimeError:
        log.exception("failed with %s", WEBHOOK_SECRETS[0])
    out = captured.getvalue()
    assert "failed with [redacted]" in out
    assert "RuntimeError: bad key [redacted] and [redacted]" in out
    assert_no_secret(out)


def test_the_filter_works_on_any_handler() -> None:
    from stripe_integrations.logs import RedactSecrets

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    other = logging.getLogger("some.other.library")
    other.addHandler(handler)
    other.propagate = False
    try:
        other.warning("response %s", SDK_BODY)
    finally:
        other.removeHandler(handler)
        other.propagate = True
    out = stream.getvalue()
    assert "pi_3Leak" in out
    for leak in LEAKS:
        assert leak not in out, leak


# --- the admin ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_redacts_secrets_in_mirrored_text(admin_client: Client) -> None:
    sync_objects(
        [
            {
                "id": "cus_leaky",
                "object": "customer",
                "livemode": False,
                "created": int(time.time()),
                "email": f"{API_KEY}@example.com",
                "name": f"Key {API_KEY}",
                "description": f"pasted {API_KEY} and {WEBHOOK_SECRETS[0]} here",
                "phone": "pi_1X_secret_Y",
                "metadata": {},
            }
        ]
    )
    customer = Customer.objects.get(stripe_id="cus_leaky")
    assert API_KEY in customer.description  # the mirror keeps what Stripe has
    change = reverse("admin:stripe_integrations_customer_change", args=[customer.pk])
    changelist = reverse("admin:stripe_integrations_customer_changelist")
    history = reverse("admin:stripe_integrations_customer_history", args=[customer.pk])
    pages = {
        url: admin_client.get(url)
        for url in (change, changelist, f"{changelist}?q=cus_leaky", history)
    }
    for url, response in pages.items():
        assert response.status_code == 200, url
        html = response.content.decode()
        assert_no_secret(html)
        assert "_secret_Y" not in html
        assert "[redacted]@example.com" in html, url  # the row's title
    for url in (change, changelist, f"{changelist}?q=cus_leaky"):
        assert "Key [redacted]" in pages[url].content.decode(), url
    assert "pasted [redacted] and [redacted] here" in pages[change].content.decode()
