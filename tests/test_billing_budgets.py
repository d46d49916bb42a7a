"""Exact Stripe requests and SQL queries of each Customer helper (same on SQLite and PG)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from stripe_integrations.actions import StripeCoupon, StripePrice, StripeProduct
from stripe_integrations.models import Customer
from stripe_integrations.testing import FakeStripe

pytestmark = pytest.mark.django_db

# helper: (Stripe requests, SQL queries), and why.
BUDGETS = {
    # read the user's rows; savepoint, upsert, release
    "get_or_create": (1, 4),
    # read the user's rows; refresh from Stripe (it must still exist), one upsert
    "get_or_create again": (1, 2),
    # attach + set default; upsert the payment method, upsert the customer
    "add_payment_method": (2, 2),
    # the customer's subscriptions (key), the prices (validation); subscription, items,
    # removed items, the first invoice, its lines, removed lines, prices
    "subscribe": (1, 9),
    # the PaymentIntent and its expanded charge
    "charge": (1, 2),
    "add_invoice_item": (1, 1),
    # a preview is never stored
    "upcoming_invoice": (1, 0),
    # create, finalize, send; pending items (key), invoice, lines, removed lines
    "send_invoice": (3, 4),
    # the single valid subscription, the coupon; subscription, items, removed items, prices
    "add_coupon": (1, 6),
    "is_subscribed_to": (0, 1),
    "has_any_active_subscription": (0, 1),
    "purge": (1, 1),
}


def test_each_helper_costs_exactly_its_budget(fake_stripe: FakeStripe, user: Any) -> None:
    measured: dict[str, tuple[int, int]] = {}

    def measure(name: str, call: Callable[[], Any]) -> Any:
        fake_stripe.reset_requests()
        with CaptureQueriesContext(connection) as queries:
            result = call()
        measured[name] = (fake_stripe.request_count, len(queries))
        return result

    customer, _ = measure("get_or_create", lambda: Customer.get_or_create(subscriber=user))
    measure("get_or_create again", lambda: Customer.get_or_create(subscriber=user))
    measure("add_payment_method", lambda: customer.add_payment_method("pm_card_visa"))
    product = StripeProduct.create(name="Gold")
    price = StripePrice.create(
        product=product.stripe_id, unit_amount=100, currency="usd", recurring={"interval": "month"}
    )
    measure("subscribe", lambda: customer.subscribe(price=price))
    measure("charge", lambda: customer.charge(Decimal("1.00"), "usd"))
    measure("add_invoice_item", lambda: customer.add_invoice_item(100, "usd"))
    measure("upcoming_invoice", lambda: customer.upcoming_invoice())
    measure("send_invoice", lambda: customer.send_invoice())
    coupon = StripeCoupon.create(percent_off=10, duration="once")
    measure("add_coupon", lambda: customer.add_coupon(coupon=coupon))
    measure("is_subscribed_to", lambda: customer.is_subscribed_to(product))
    measure("has_any_active_subscription", lambda: customer.has_any_active_subscription())
    measure("purge", lambda: customer.purge())
    assert measured == BUDGETS
