"""The example project's pages: an index, and "my billing" for the logged-in user."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from stripe_integrations.actions import StripeCustomer
from stripe_integrations.models import Price, Product


def index(request: HttpRequest) -> HttpResponse:
    """Links to what the example project has."""
    return render(request, "example/index.html")


@login_required
def billing(request: HttpRequest) -> HttpResponse:
    """The user's Stripe customer, default card, subscriptions and invoices, read from the
    mirror (no Stripe request): what a project shows on its own "billing" page."""
    customer = StripeCustomer.get(request.user)
    if customer is None:
        return render(request, "example/billing.html", {"customer": None})

    subscriptions = list(customer.subscriptions.prefetch_related("items").order_by("-created"))
    items = [item for sub in subscriptions for item in sub.items.all()]
    prices = Price.objects.in_bulk(
        {i.price_stripe_id for i in items if i.price_stripe_id}, field_name="stripe_id"
    )
    products = Product.objects.in_bulk(
        {i.product_stripe_id for i in items if i.product_stripe_id}, field_name="stripe_id"
    )
    rows: list[dict[str, Any]] = []
    for sub in subscriptions:
        lines = []
        for item in sub.items.all():
            price = prices.get(item.price_stripe_id or "")
            product = products.get(item.product_stripe_id or "")
            lines.append({"item": item, "price": price, "product": product})
        rows.append({"subscription": sub, "items": lines})

    context = {
        "customer": customer,
        "card": customer.default_payment,
        "subscriptions": rows,
        "invoices": customer.invoices.order_by("-created", "-id"),
    }
    return render(request, "example/billing.html", context)
