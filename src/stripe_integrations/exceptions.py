"""Exceptions raised by the library."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import stripe


class StripeIntegrationError(Exception):
    """Base class of every error the library raises on purpose."""


class StripeAPIError(StripeIntegrationError):
    """Stripe answered with an error (or could not be reached).

    Carries Stripe's ``code`` (e.g. ``resource_missing``, ``card_declined``), ``type``
    (``invalid_request_error``, ``card_error``, ``idempotency_error``, ``api_error``),
    ``param``, the HTTP status and the request id. The original SDK exception is the
    ``__cause__`` and also available as ``stripe_error``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        stripe_error: stripe.StripeError | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.type = type
        self.param = param
        self.http_status = http_status
        self.request_id = request_id
        self.stripe_error = stripe_error

    @classmethod
    def from_stripe(cls, exc: stripe.StripeError) -> StripeAPIError:
        error: Any = exc.error
        err_type = getattr(error, "type", None) if error is not None else None
        param = getattr(error, "param", None) if error is not None else None
        if err_type is None and isinstance(exc, stripe.APIConnectionError):
            err_type = "api_connection_error"
        # The SDK leaves ``exc.code`` empty for some errors (429) that carry one in the body.
        code = exc.code or (getattr(error, "code", None) if error is not None else None)
        return cls(
            exc.user_message or str(exc) or exc.__class__.__name__,
            code=code,
            type=err_type,
            param=param,
            http_status=exc.http_status,
            request_id=exc.request_id,
            stripe_error=exc,
        )

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.append(f"(code={self.code})")
        return " ".join(parts)


class StripeValidationError(StripeIntegrationError, ValueError):
    """Input that Stripe would refuse; raised before any request is sent."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@contextmanager
def stripe_errors() -> Iterator[None]:
    """Turn any SDK error raised inside the block into :class:`StripeAPIError`."""
    try:
        yield
    except stripe.StripeError as exc:
        raise StripeAPIError.from_stripe(exc) from exc
