"""Amounts and currencies, as Stripe counts them: integers in the currency's minor unit."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from stripe_integrations.exceptions import StripeValidationError

#: Currencies whose amounts have no minor unit (1 JPY is sent as 1).
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
#: Currencies with three decimals (1 KWD is sent as 1000).
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())

#: ISO 4217 codes of currencies Stripe settles or presents (lowercase).
CURRENCIES = frozenset(
    """
    aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp
    byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel
    gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd
    kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn
    nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd
    shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx usd usdc uyu uzs vnd vuv
    wst xaf xcd xof xpf yer zar zmw
    """.split()
)


def check_currency(value: Any, field: str = "currency") -> str:
    """A lowercase ISO currency code Stripe knows."""
    if not isinstance(value, str) or value.lower() not in CURRENCIES:
        raise StripeValidationError(field, f"{value!r} is not a currency Stripe supports")
    return value.lower()


def exponent(currency: str) -> int:
    """Digits of the minor unit: 0, 2 or 3."""
    currency = currency.lower()
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def to_minor_units(
    amount: Any, currency: str, field: str = "amount", *, allow_zero: bool = False
) -> int:
    """An amount in the minor unit: an ``int`` is taken as already in minor units; a
    ``Decimal`` (or numeric string) is in major units and converted (``Decimal("10.50")``
    USD -> 1050, ``Decimal("500")`` JPY -> 500, ``Decimal("1.5")`` KWD -> 1500). More
    precision than the currency has is refused, never rounded. Must be positive (or zero
    with ``allow_zero``); three-decimal amounts must end in 0, as Stripe requires."""
    if isinstance(amount, bool):
        raise StripeValidationError(field, "must be an integer or a Decimal")
    if isinstance(amount, int):
        minor = amount
    elif isinstance(amount, Decimal | str):
        try:
            major = Decimal(str(amount))
        except InvalidOperation as exc:
            raise StripeValidationError(field, f"{amount!r} is not a number") from exc
        if not major.is_finite():
            raise StripeValidationError(field, "must be finite")
        scaled = major.scaleb(exponent(currency))
        if scaled != scaled.to_integral_value():
            raise StripeValidationError(
                field, f"{amount} has more decimals than {currency.upper()} allows"
            )
        minor = int(scaled)
    else:
        raise StripeValidationError(
            field, f"must be an int (minor units) or a Decimal, not {type(amount).__name__}"
        )
    if minor < 0 or (minor == 0 and not allow_zero):
        raise StripeValidationError(field, "must be positive")
    if currency.lower() in THREE_DECIMAL and minor % 10:
        # Card networks settle these currencies to the hundredth: Stripe wants a final 0.
        raise StripeValidationError(
            field, f"{currency.upper()} amounts must end in 0 in minor units (got {minor})"
        )
    if minor > 99_999_999_999:
        raise StripeValidationError(field, "is larger than Stripe accepts")
    return minor


def to_major_units(minor: int, currency: str) -> Decimal:
    """The inverse of :func:`to_minor_units`, for display."""
    return Decimal(minor).scaleb(-exponent(currency))
