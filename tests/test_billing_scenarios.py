"""Billing helpers end to end on every backend that supports the flow (the fake, localstripe:
payment methods, PaymentIntents, invoice items; real Stripe test mode when configured)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from stripe_integrations.client import get_client
from stripe_integrations.models import Charge, Customer, InvoiceItem, PaymentIntent

pytestmark = [pytest.mark.django_db, pytest.mark.localstripe]


def test_card_charge_and_invoice_item(backend: Any, user: Any) -> None:
    customer, created = Customer.get_or_create(subscriber=user, email=backend.unique_email())
    assert created
    pm_id = backend.new_card()
    pm = customer.add_payment_method(pm_id)
    assert customer.default_payment_method_id == pm.stripe_id
    assert Customer.objects.get(pk=customer.pk).default_payment == pm

    intent = customer.charge(Decimal("12.34"), "usd", metadata={"order": backend.unique_email()})
    assert intent.amount == 1234 and intent.status == "succeeded"
    assert PaymentIntent.objects.filter(customer=customer).count() == 1
    remote = get_client().v1.payment_intents.retrieve(intent.stripe_id)
    assert remote.amount == 1234 and remote.customer == customer.stripe_id
    if intent.latest_charge:
        assert Charge.objects.filter(stripe_id=intent.latest_charge).exists() or (
            backend.name == "localstripe"  # localstripe does not expand latest_charge
        )

    item = customer.add_invoice_item(500, "usd", "Setup fee")
    assert (item.amount, item.currency) == (500, "usd")
    assert InvoiceItem.objects.filter(customer=customer).count() == 1
