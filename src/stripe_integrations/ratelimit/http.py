"""The HTTP client wrapper that puts every request of a :class:`stripe.StripeClient` through
the rate limiter and retries Stripe's 429s.

stripe-python (16.x) retries connection errors, 409 and 5xx by itself, and a 429 only when
Stripe sends ``Stripe-Should-Retry: true``, after its own back-off (0.5 s doubling to 5 s);
it never reads ``Retry-After``. So 429s are handled here, per attempt: each one slows the
shared limiter and pauses it for ``Retry-After`` seconds (capped; without the header, for
stripe-python's own back-off), and the request is sent again when the limiter lets it
through. stripe-python's loop is told not to retry a rate
limit on top. A 429 carrying ``lock_timeout`` is not a rate limit: it is left to
stripe-python's retries like a 409.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import stripe

from stripe_integrations.ratelimit.bucket import MAX_PAUSE, Limiter, throttle_backoff
from stripe_integrations.ratelimit.context import in_background, mark_sent, retries_by_caller

_R = TypeVar("_R", bound=tuple[Any, int, Mapping[str, str]])

#: 429 retries of an interactive call (a user may be waiting) and of background work (which
#: should outlast a burst rather than fail an event).
INTERACTIVE_RETRIES = 3
BACKGROUND_RETRIES = 10


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """The value of header ``name`` whatever its case (None when absent)."""
    if not headers:
        return None
    try:
        value = headers.get(name)
        if value is not None:
            return str(value)
    except Exception:
        pass
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return str(value)
    return None


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds asked by a ``Retry-After`` header (a number or an HTTP date), or None."""
    value = header(headers, "Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def is_rate_limited(response: tuple[Any, int, Mapping[str, str]] | None) -> bool:
    """Whether ``response`` is a 429 for the rate limit (not a ``lock_timeout``)."""
    if response is None or response[1] != 429:
        return False
    body = response[0]
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return not (isinstance(body, str) and "lock_timeout" in body)


def pause_for(
    headers: Mapping[str, str] | None,
    attempt: int,
    backoff: Callable[[int], float] = throttle_backoff,
) -> float:
    """How long a 429 pauses the limiter: ``Retry-After`` when given, else
    ``backoff(attempt)``."""
    asked = retry_after(headers)
    return asked if asked is not None else backoff(attempt)


class RateLimitedHTTPClient(stripe.HTTPClient):
    """Wraps stripe-python's HTTP client ``inner``: takes a token from ``limiter`` (default:
    :func:`~stripe_integrations.ratelimit.get_limiter`, read per request) before every
    attempt, and retries rate-limit 429s as the module docstring says."""

    name = "rate_limited"

    def __init__(self, inner: stripe.HTTPClient, limiter: Limiter | None = None) -> None:
        super().__init__()
        self.inner = inner
        self._limiter = limiter

    @property
    def limiter(self) -> Limiter:
        """The limiter the next request uses."""
        if self._limiter is not None:
            return self._limiter
        from stripe_integrations.ratelimit import get_limiter

        return get_limiter()

    def _decide(self, limiter: Limiter, response: _R, attempt: int) -> bool:
        """After attempt number ``attempt`` answered ``response``: whether to send it again."""
        if not is_rate_limited(response) or retries_by_caller():
            return False
        headers = response[2]
        asked = retry_after(headers)
        # Without Retry-After, the wrapped client's own back-off (stripe-python's: 0.5 s
        # doubling to 5 s, jittered; the fake's ``retry_delay``).
        limiter.throttled(pause_for(headers, attempt, self.inner._sleep_time_seconds))
        if header(headers, "Stripe-Should-Retry") == "false":
            return False
        if asked is not None and asked > MAX_PAUSE:
            return False  # come back much later: the caller's own retries decide when
        budget = BACKGROUND_RETRIES if in_background() else INTERACTIVE_RETRIES
        return attempt <= budget

    def _send(self, call: Callable[[], _R]) -> _R:
        limiter = self.limiter
        attempt = 0
        while True:
            limiter.acquire()
            mark_sent()
            response = call()
            attempt += 1
            if not self._decide(limiter, response, attempt):
                return response

    async def _send_async(self, call: Callable[[], Awaitable[_R]]) -> _R:
        limiter = self.limiter
        attempt = 0
        while True:
            await limiter.acquire_async()
            mark_sent()
            response = await call()
            attempt += 1
            if not self._decide(limiter, response, attempt):
                return response

    # -- stripe.HTTPClient -----------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        """One attempt through the limiter (429s sent again)."""
        return self._send(lambda: self.inner.request(method, url, headers, post_data))

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        """One streamed attempt through the limiter (429s sent again)."""
        return self._send(lambda: self.inner.request_stream(method, url, headers, post_data))

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        """One async attempt through the limiter (429s sent again)."""
        return await self._send_async(
            lambda: self.inner.request_async(method, url, headers, post_data)
        )

    async def request_stream_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[Any, int, Mapping[str, str]]:
        """One async streamed attempt through the limiter (429s sent again)."""
        return await self._send_async(
            lambda: self.inner.request_stream_async(method, url, headers, post_data)
        )

    def _should_retry(
        self,
        response: tuple[Any, int, Mapping[str, str] | None] | None,
        api_connection_error: stripe.APIConnectionError | None,
        num_retries: int,
        max_network_retries: int | None,
    ) -> bool:
        # A rate-limit 429 reaching stripe-python's loop was already retried (or must not be).
        if response is not None and is_rate_limited(response):  # type: ignore[arg-type]
            return False
        return bool(
            self.inner._should_retry(
                response, api_connection_error, num_retries, max_network_retries
            )
        )

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return self.inner._sleep_time_seconds(num_retries)

    def sleep_async(self, secs: float) -> Awaitable[None]:
        """Delegated to the wrapped client."""
        return self.inner.sleep_async(secs)

    def close(self) -> None:
        """Close the wrapped client."""
        self.inner.close()

    async def close_async(self) -> None:
        """Close the wrapped client."""
        await self.inner.close_async()


def is_limited(client: Any) -> bool:
    """Whether ``client`` (a :class:`stripe.StripeClient`) sends through a
    :class:`RateLimitedHTTPClient`."""
    requestor = getattr(client, "_requestor", None)
    return isinstance(getattr(requestor, "_client", None), RateLimitedHTTPClient)
