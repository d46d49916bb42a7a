"""The one place a :class:`stripe.StripeClient` is built.

The client carries the pinned API version, network retries, a timeout and an optional base
address (``STRIPE_CONFIG["API_BASE"]``, for a Stripe-compatible server such as localstripe).
Every request it sends goes through the account's rate limiter
(:mod:`stripe_integrations.ratelimit`), which also retries 429s. It never touches the global
``stripe.api_key``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import stripe
from stripe._base_address import BaseAddresses

from stripe_integrations.conf import get_config
from stripe_integrations.ratelimit.http import RateLimitedHTTPClient

_lock = threading.Lock()
_client: stripe.StripeClient | None = None
_http_client_override: stripe.HTTPClient | None = None


def build_client(http_client: stripe.HTTPClient | None = None) -> stripe.StripeClient:
    """Build a new client from ``STRIPE_CONFIG`` (use :func:`get_client` to share one).

    ``http_client`` (default: stripe-python's ``RequestsClient``) is wrapped in the process's
    rate limiter."""
    config = get_config()
    base_addresses: BaseAddresses = {}
    if config.api_base:
        base_addresses["api"] = config.api_base
    return stripe.StripeClient(
        config.api_key or "sk_test_unset",
        stripe_version=config.api_version,
        base_addresses=base_addresses,
        max_network_retries=config.max_network_retries,
        http_client=RateLimitedHTTPClient(
            http_client or stripe.RequestsClient(timeout=config.timeout)
        ),
    )


def get_client() -> stripe.StripeClient:
    """The process-wide client, built on first use and rebuilt when settings change."""
    global _client
    client = _client
    if client is None:
        with _lock:
            if _client is None:
                _client = build_client(_http_client_override)
            client = _client
    return client


def reset_client() -> None:
    """Forget the shared client; the next :func:`get_client` builds a new one."""
    global _client
    with _lock:
        _client = None


@contextmanager
def override_http_client(http_client: stripe.HTTPClient) -> Iterator[stripe.HTTPClient]:
    """Route every request of :func:`get_client` through ``http_client`` (tests, the fake),
    still through the rate limiter."""
    global _http_client_override
    previous = _http_client_override
    _http_client_override = http_client
    reset_client()
    try:
        yield http_client
    finally:
        _http_client_override = previous
        reset_client()
