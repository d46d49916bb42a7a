"""Settings, system checks and the client factory."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from stripe_integrations.client import build_client, get_client
from stripe_integrations.conf import PINNED_API_VERSION, get_config
from stripe_integrations.testing import FakeStripe


def _ids(config: Any, **settings: Any) -> set[str]:
    with override_settings(STRIPE_CONFIG=config, **settings):
        return {m.id for m in run_checks(tags=["stripe_integrations"]) if m.id}


def test_valid_config_has_no_messages() -> None:
    assert _ids({"API_KEY": "sk_test_x", "WEBHOOK_SECRETS": ["whsec_1", "whsec_2"]}) == set()


@pytest.mark.parametrize(
    ("config", "settings", "expected"),
    [
        ({}, {}, "stripe_integrations.E002"),
        ({"API_KEY": "pk_test_x"}, {}, "stripe_integrations.E003"),
        ({"API_KEY": "sk_live_x"}, {"DEBUG": True}, "stripe_integrations.W001"),
        ({"API_KEY": "sk_test_x", "API_VERSION": "latest"}, {}, "stripe_integrations.E004"),
        ({"API_KEY": "sk_test_x", "WEBHOOK_SECRETS": "whsec_1"}, {}, "stripe_integrations.E005"),
        (
            {"API_KEY": "sk_test_x", "SUBSCRIBER_MODEL": "nope.Model"},
            {},
            "stripe_integrations.E006",
        ),
        ({"API_KEY": "sk_test_x", "WEBHOOK_SECRET": "x"}, {}, "stripe_integrations.W002"),
    ],
)
def test_checks_name_the_problem(config: Any, settings: Any, expected: str) -> None:
    assert expected in _ids(config, **settings)


def test_missing_setting_is_an_error() -> None:
    with override_settings():
        from django.conf import settings

        del settings.STRIPE_CONFIG
        ids = {m.id for m in run_checks(tags=["stripe_integrations"])}
    assert ids == {"stripe_integrations.E001"}


def test_live_key_with_debug_off_is_fine() -> None:
    assert _ids({"API_KEY": "sk_live_x", "WEBHOOK_SECRETS": ["whsec_1"]}, DEBUG=False) == set()


def test_no_webhook_secret_is_a_warning() -> None:
    assert _ids({"API_KEY": "sk_test_x"}) == {"stripe_integrations.W003"}


def test_unknown_event_backend_is_an_error() -> None:
    config = {"API_KEY": "sk_test_x", "WEBHOOK_SECRETS": ["whsec_1"], "EVENT_BACKEND": "pigeon"}
    assert "stripe_integrations.E007" in _ids(config)


def test_max_attempts_below_one_is_an_error() -> None:
    config = {"API_KEY": "sk_test_x", "WEBHOOK_SECRETS": ["whsec_1"], "EVENT_MAX_ATTEMPTS": 0}
    assert "stripe_integrations.E010" in _ids(config)


def test_mode_follows_the_key() -> None:
    with override_settings(STRIPE_CONFIG={"API_KEY": "sk_live_abc"}):
        assert get_config().livemode is True
    with override_settings(STRIPE_CONFIG={"API_KEY": "rk_test_abc"}):
        assert get_config().livemode is False


def test_api_version_is_pinned_not_floating() -> None:
    assert get_config().api_version == PINNED_API_VERSION
    fake = FakeStripe()
    build_client(fake).v1.customers.create()
    assert fake.requests[0].stripe_version == PINNED_API_VERSION
    with override_settings(
        STRIPE_CONFIG={"API_KEY": "sk_test_x", "API_VERSION": "2025-03-31.basil"}
    ):
        fake = FakeStripe()
        build_client(fake).v1.customers.create()
        assert fake.requests[0].stripe_version == "2025-03-31.basil"


def test_client_is_shared_and_rebuilt_when_settings_change() -> None:
    first = get_client()
    assert get_client() is first
    with override_settings(
        STRIPE_CONFIG={"API_KEY": "sk_test_other", "API_BASE": "http://127.0.0.1:9"}
    ):
        other = get_client()
        assert other is not first
        assert other._requestor._options.base_addresses["api"] == "http://127.0.0.1:9"
    assert get_client() is not other


def test_global_stripe_key_is_never_set() -> None:
    import stripe

    get_client()
    assert stripe.api_key is None
