"""The error an endpoint of :class:`~.fake.FakeStripe` answers with, in Stripe's JSON shape."""

from __future__ import annotations

from typing import Any

#: How Stripe names each type in "No such ..." messages.
DISPLAY_NAMES = {
    "customer": "customer",
    "payment_method": "PaymentMethod",
    "card": "source",
    "product": "product",
    "price": "price",
    "subscription": "subscription",
    "subscription_item": "subscription item",
    "event": "event",
    "coupon": "coupon",
    "promotion_code": "promotion code",
    "discount": "discount",
    "tax_rate": "tax rate",
    "invoiceitem": "invoiceitem",
    "invoice": "invoice",
    "line_item": "line item",
    "invoice_payment": "invoice payment",
    "payment_intent": "payment_intent",
    "charge": "charge",
    "refund": "refund",
    "setup_intent": "setupintent",
}


class FakeError(Exception):
    """An API error the fake answers with, in Stripe's error JSON shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or _default_error_type(status)
        self.code = code
        self.param = param
        self.decline_code = decline_code
        #: More fields of the error hash (``payment_intent``, ``setup_intent``, ``charge``).
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        """The response body: ``{"error": {...}}``."""
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = "https://stripe.com/docs/error-codes/" + self.code.replace("_", "-")
        if self.param is not None:
            error["param"] = self.param
        if self.decline_code:
            error["decline_code"] = self.decline_code
        error.update(self.extra)
        return {"error": error}


def _default_error_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 402:
        return "card_error"
    if status >= 500:
        return "api_error"
    return "invalid_request_error"


def missing(object_type: str, object_id: str, *, param: str | None = None) -> FakeError:
    """``resource_missing``: 404 for an id in the path, 400 for an id given as a parameter."""
    name = DISPLAY_NAMES.get(object_type, object_type)
    return FakeError(
        400 if param else 404,
        f"No such {name}: '{object_id}'",
        code="resource_missing",
        param=param or "id",
    )
