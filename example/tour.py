"""A scripted tour of the customer actions: a fresh SQLite database, the in-process fake
Stripe, and every step printed with the Stripe requests and SQL queries it cost.

Run with ``make demo-tour`` (or ``.venv/bin/python example/tour.py``). ``make demo`` serves the
example project instead (see ``example/demo.py``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
if "EXAMPLE_DB" not in os.environ:
    _tmp = tempfile.mkdtemp(prefix="si-tour-")
    atexit.register(shutil.rmtree, _tmp, ignore_errors=True)
    os.environ["EXAMPLE_DB"] = str(Path(_tmp) / "tour.sqlite3")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from stripe_integrations.actions import StripeCustomer  # noqa: E402
from stripe_integrations.client import get_client  # noqa: E402
from stripe_integrations.exceptions import StripeValidationError  # noqa: E402
from stripe_integrations.models import Customer  # noqa: E402
from stripe_integrations.testing import FakeStripe, fake_stripe  # noqa: E402


@contextmanager
def step(title: str, fake: FakeStripe) -> Iterator[None]:
    """Print a step with the Stripe requests and SQL queries it cost."""
    print(f"\n== {title}")
    before = fake.request_count
    with CaptureQueriesContext(connection) as queries:
        yield
    print(f"   ({fake.request_count - before} Stripe request(s), {len(queries)} SQL quer(ies))")


def show(label: str, value: Any) -> None:
    print(f"   {label:<28} {value}")


def tour(fake: FakeStripe) -> None:
    user = get_user_model().objects.create(username="jenny", email="jenny@example.com")
    client = get_client()

    with step("StripeCustomer.create(user, 'jenny@example.com', name=..., metadata=...)", fake):
        customer = StripeCustomer.create(
            user, "jenny@example.com", name="Jenny Rosen", metadata={"plan": "gold"}
        )
    show("stripe_id", customer.stripe_id)
    show("email / name", f"{customer.email} / {customer.name}")
    show("idempotency key sent", fake.requests[-1].idempotency_key)

    with step("StripeCustomer.create(...) again: the existing customer comes back", fake):
        again = StripeCustomer.create(user, "jenny@example.com")
    show("same customer", again.stripe_id == customer.stripe_id)

    with step("StripeCustomer.get(user)", fake):
        show("found", StripeCustomer.get(user))

    with step("Bad input is refused before any request", fake):
        try:
            StripeCustomer.update(customer, metadata={"bad[key]": "x"})
        except StripeValidationError as exc:
            show("StripeValidationError", exc)

    print("\n.. meanwhile in Stripe: a card becomes the default, two subscriptions, one canceled")
    pm = client.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_visa"}})
    client.v1.payment_methods.attach(pm.id, params={"customer": customer.stripe_id})
    client.v1.customers.update(
        customer.stripe_id, params={"invoice_settings": {"default_payment_method": pm.id}}
    )
    product = client.v1.products.create(params={"name": "Gold"})
    price = client.v1.prices.create(
        params={
            "product": product.id,
            "unit_amount": 1500,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    for _ in range(2):
        sub = client.v1.subscriptions.create(
            params={"customer": customer.stripe_id, "items": [{"price": price.id}]}
        )
    client.v1.subscriptions.cancel(sub.id)

    with step("StripeCustomer.sync(customer): customer, default card, all subscriptions", fake):
        StripeCustomer.sync(customer)
    card = customer.default_payment
    show("default payment method", card)
    for s in customer.subscriptions.order_by("created", "id"):
        period_end = s.current_period_end.date() if s.current_period_end else None
        show(f"subscription {s.stripe_id}", f"{s.status}, period ends {period_end}")

    with step("StripeCustomer.update(customer, metadata={'plan': '', 'seats': 3})", fake):
        StripeCustomer.update(customer, metadata={"plan": "", "seats": 3})
    show("metadata", customer.metadata)

    other = client.v1.customers.create(params={"email": "team@example.com"})
    event = {
        "id": "evt_demo",
        "object": "event",
        "type": "customer.updated",
        "created": 1700000000,
        "data": {"object": {"id": other.id, "object": "customer"}},
    }
    with step("StripeCustomer.link_customer(event) for a customer we never saw", fake):
        linked = StripeCustomer.link_customer(event)
    show("event linked to", linked.customer_id)
    show("mirrored", Customer.objects.get(stripe_id=other.id).email)

    with step("StripeCustomer.list(email='team@example.com')", fake):
        show("customers", [c.stripe_id for c in StripeCustomer.list(email="team@example.com")])

    with step("StripeCustomer.delete(customer)", fake):
        StripeCustomer.delete(customer)
    show("is_active / date_purged", f"{customer.is_active} / {customer.date_purged}")


def main(run: Callable[[FakeStripe], None] = tour) -> None:
    call_command("migrate", verbosity=0)
    print("django-stripe-integrations demo: SQLite at", connection.settings_dict["NAME"])
    print("Stripe: the in-process fake (stripe_integrations.testing.FakeStripe)")
    with fake_stripe() as fake:
        run(fake)
    print(f"\nDone: {fake.request_count} Stripe requests in all.")


if __name__ == "__main__":
    main()
