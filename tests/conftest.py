"""Test rig: the same scenario tests run on every Stripe backend that supports them.

- ``fake``: our in-process fake (``stripe_integrations.testing``), always.
- ``localstripe``: a localstripe server started on 127.0.0.1 for the session, for tests marked
  ``@pytest.mark.localstripe`` (skip them all with ``--no-localstripe``).
- ``stripe``: real Stripe test mode when ``STRIPE_TEST_SECRET_KEY`` is set, skipped otherwise.

A scenario test asks for the ``backend`` fixture; other tests use ``fake_stripe`` directly.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import override_settings

from stripe_integrations.client import get_client
from stripe_integrations.testing import FakeStripe, fake_stripe

pytest_plugins = ["stripe_integrations.testing.fixtures"]

REAL_KEY = os.environ.get("STRIPE_TEST_SECRET_KEY", "")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-localstripe",
        action="store_true",
        help="do not run scenario tests against a localstripe server",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    names = ["fake"]
    if metafunc.definition.get_closest_marker("localstripe") and not metafunc.config.getoption(
        "--no-localstripe"
    ):
        names.append("localstripe")
    names.append("stripe")
    metafunc.parametrize("backend", names, indirect=True)


@dataclass
class Backend:
    """A Stripe stand-in a scenario test talks to through ``get_client()``."""

    name: str
    fake: FakeStripe | None = None
    created: list[str] = field(default_factory=list)

    @property
    def is_fake(self) -> bool:
        return self.fake is not None

    def unique_email(self) -> str:
        return f"si-test-{uuid.uuid4().hex[:12]}@example.com"

    def new_card(self) -> str:
        """Create a Visa card PaymentMethod (not attached); returns its id."""
        pm = get_client().v1.payment_methods.create(
            params={
                "type": "card",
                "card": {
                    "number": "4242424242424242",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "cvc": "123",
                }
                if self.name == "localstripe"
                else {"token": "tok_visa"},
            }
        )
        return str(pm.id)

    def card_payment_method(self, customer_id: str) -> str:
        """Attach a Visa card to ``customer_id`` and make it the default; returns its id."""
        client = get_client()
        pm_id = self.new_card()
        client.v1.payment_methods.attach(pm_id, params={"customer": customer_id})
        client.v1.customers.update(
            customer_id, params={"invoice_settings": {"default_payment_method": pm_id}}
        )
        return pm_id

    def subscribe(self, customer_id: str) -> str:
        """Create a monthly subscription for ``customer_id``; returns its id."""
        client = get_client()
        product = client.v1.products.create(params={"name": "Test plan"})
        if self.name == "localstripe":
            plan = client.v1.plans.create(
                params={
                    "amount": 1500,
                    "currency": "usd",
                    "interval": "month",
                    "product": product.id,
                }
            )
            item: dict[str, Any] = {"plan": plan.id}
        else:
            price = client.v1.prices.create(
                params={
                    "unit_amount": 1500,
                    "currency": "usd",
                    "recurring": {"interval": "month"},
                    "product": product.id,
                }
            )
            item = {"price": price.id}
        sub = client.v1.subscriptions.create(params={"customer": customer_id, "items": [item]})
        return sub.id


@pytest.fixture(scope="session")
def localstripe_server() -> Iterator[Any]:
    from stripe_integrations.testing.localstripe import LocalStripe

    with LocalStripe() as server:
        yield server


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    name = request.param
    if name == "fake":
        with fake_stripe() as fake:
            yield Backend("fake", fake=fake)
    elif name == "localstripe":
        server = request.getfixturevalue("localstripe_server")
        server.reset()
        config = {"API_KEY": "sk_test_localstripe", "API_BASE": server.url}
        with override_settings(STRIPE_CONFIG=config):
            yield Backend("localstripe")
    else:
        if not REAL_KEY:
            pytest.skip("real Stripe: set STRIPE_TEST_SECRET_KEY to a test key")
        if not REAL_KEY.startswith(("sk_test_", "rk_test_")):
            pytest.fail("STRIPE_TEST_SECRET_KEY must be a test-mode key")
        with override_settings(STRIPE_CONFIG={"API_KEY": REAL_KEY}):
            b = Backend("stripe")
            yield b


@pytest.fixture
def user(django_user_model: Any) -> Any:
    return django_user_model.objects.create(
        username=f"user-{uuid.uuid4().hex[:8]}", email="jenny@example.com"
    )
