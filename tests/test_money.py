"""Amounts in minor units, whatever the currency's exponent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from stripe_integrations.exceptions import StripeValidationError
from stripe_integrations.money import check_currency, to_major_units, to_minor_units


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        (1050, "usd", 1050),
        (Decimal("10.50"), "usd", 1050),
        ("10.5", "eur", 1050),
        (Decimal("500"), "jpy", 500),
        (500, "jpy", 500),
        (Decimal("1.5"), "kwd", 1500),
        (Decimal("0.010"), "bhd", 10),
        (Decimal("500"), "JPY", 500),
        (Decimal("12"), "krw", 12),
    ],
)
def test_minor_units(amount: Any, currency: str, minor: int) -> None:
    assert to_minor_units(amount, currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        (Decimal("10.505"), "usd", "more decimals"),
        (Decimal("1.5"), "jpy", "more decimals"),
        (Decimal("0.0001"), "kwd", "more decimals"),
        (0, "usd", "positive"),
        (-5, "usd", "positive"),
        (Decimal("-1"), "usd", "positive"),
        (1.5, "usd", "int"),
        (True, "usd", "integer"),
        ("ten", "usd", "not a number"),
        (Decimal("NaN"), "usd", "finite"),
        (10**12, "usd", "larger"),
        (Decimal("0.001"), "bhd", "end in 0"),
        (1005, "kwd", "end in 0"),
    ],
)
def test_bad_amounts_name_the_field(amount: Any, currency: str, message: str) -> None:
    with pytest.raises(StripeValidationError, match=message) as info:
        to_minor_units(amount, currency)
    assert info.value.field == "amount"


@pytest.mark.parametrize("bad", ["usd1", "xyz", "", None, 840, "dollars"])
def test_bad_currency(bad: Any) -> None:
    with pytest.raises(StripeValidationError, match="currency"):
        check_currency(bad)


def test_currency_is_lowercased_and_round_trips() -> None:
    assert check_currency("USD") == "usd"
    assert to_major_units(1050, "usd") == Decimal("10.50")
    assert to_major_units(500, "jpy") == Decimal("500")
    assert to_major_units(1500, "kwd") == Decimal("1.500")


def test_zero_is_allowed_only_where_asked() -> None:
    assert to_minor_units(0, "usd", allow_zero=True) == 0
    with pytest.raises(StripeValidationError):
        to_minor_units(0, "usd")
