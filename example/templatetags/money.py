"""``{% load money %}`` then ``{{ invoice.total|money:invoice.currency }}`` -> ``15.00 USD``."""

from __future__ import annotations

from django import template

from stripe_integrations.money import to_major_units

register = template.Library()


@register.filter
def money(amount: int | None, currency: str | None) -> str:
    """An amount in the currency's minor unit, shown in major units with the currency code
    (1500 usd -> ``15.00 USD``, 3000 jpy -> ``3000 JPY``)."""
    if amount is None or not currency:
        return "—"
    return f"{to_major_units(amount, currency.lower())} {currency.upper()}"
