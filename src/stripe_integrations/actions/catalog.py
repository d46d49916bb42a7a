"""``StripeProduct``, ``StripePrice``, ``StripeCoupon``, ``StripePromotionCode``."""

from __future__ import annotations

from typing import Any

from stripe_integrations import validation as v
from stripe_integrations.actions.base import CatalogActions
from stripe_integrations.money import check_currency, to_minor_units


class StripeProduct(CatalogActions):
    """Products: create, retrieve, update, list (each mirrored)."""

    SERVICE = "products"
    KIND = "product"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        v.check_string("name", params.get("name"), 250)
        if not params["name"]:
            raise v.StripeValidationError("name", "is required")
        return params


class StripePrice(CatalogActions):
    """Prices: create, retrieve, update, list (each mirrored)."""

    SERVICE = "prices"
    KIND = "price"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        currency = check_currency(params.get("currency"))
        params = {**params, "currency": currency}
        if "unit_amount" in params:
            params["unit_amount"] = to_minor_units(
                params["unit_amount"], currency, "unit_amount", allow_zero=True
            )
        if not params.get("product") and not params.get("product_data"):
            raise v.StripeValidationError("product", "is required (or product_data)")
        if params.get("product"):
            params["product"] = v.check_stripe_id("product", params["product"])
        return params


class StripeCoupon(CatalogActions):
    """Coupons: create, retrieve, update, list (each mirrored)."""

    SERVICE = "coupons"
    KIND = "coupon"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        percent, amount = params.get("percent_off"), params.get("amount_off")
        if (percent is None) == (amount is None):
            raise v.StripeValidationError("percent_off", "give percent_off or amount_off")
        if percent is not None and not (0 < float(percent) <= 100):
            raise v.StripeValidationError("percent_off", "must be in (0, 100]")
        if amount is not None:
            currency = check_currency(params.get("currency"))
            params = {
                **params,
                "currency": currency,
                "amount_off": to_minor_units(amount, currency, "amount_off"),
            }
        if params.get("duration", "once") not in ("once", "repeating", "forever"):
            raise v.StripeValidationError("duration", "must be once, repeating or forever")
        return params


class StripePromotionCode(CatalogActions):
    """Promotion codes: create, retrieve, update, list (each mirrored)."""

    SERVICE = "promotion_codes"
    KIND = "promotion_code"
