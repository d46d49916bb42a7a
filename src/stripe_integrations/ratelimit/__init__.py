"""One rate limiter for every request the library sends to Stripe.

Stripe allows 100 requests/s per account in live mode and 25 in test mode, counting
everything sent with the account's keys, and answers 429 beyond. Every request of the shared
client (:func:`stripe_integrations.client.get_client`), the backfill's included, first takes a
token from :func:`get_limiter`: a :class:`TokenBucket` per process, or a
:class:`RedisTokenBucket` shared by every process when ``STRIPE_CONFIG["RATE_LIMIT_REDIS_URL"]``
is set. Background work (the backfill, webhook processing) runs inside :func:`background`
and may use only the rate minus ``RATE_LIMIT_RESERVED_SHARE``, so interactive calls do not
wait behind it. See docs/scaling.md.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from stripe_integrations.ratelimit.bucket import (
    DEFAULT_RATES,
    DEFAULT_RESERVED_SHARE,
    Limiter,
    LimiterStats,
    TokenBucket,
    throttle_backoff,
)
from stripe_integrations.ratelimit.context import background, in_background
from stripe_integrations.ratelimit.shared import RedisTokenBucket

__all__ = [
    "DEFAULT_RATES",
    "DEFAULT_RESERVED_SHARE",
    "Limiter",
    "LimiterStats",
    "RedisTokenBucket",
    "TokenBucket",
    "background",
    "configured_rate",
    "get_limiter",
    "in_background",
    "override_limiter",
    "reset_limiter",
    "throttle_backoff",
]

_lock = threading.Lock()
_limiter: Limiter | None = None
_override: Limiter | None = None


def configured_rate(livemode: bool) -> float:
    """Requests per second from ``STRIPE_CONFIG["RATE_LIMIT"]`` (or its older name
    ``SYNC_RATE_LIMIT``), else :data:`DEFAULT_RATES`. The key holds a number, or a dict
    ``{"live": 90, "test": 22}``."""
    from stripe_integrations.conf import raw_settings

    raw = raw_settings()
    name = "RATE_LIMIT" if raw.get("RATE_LIMIT") is not None else "SYNC_RATE_LIMIT"
    value: Any = raw.get(name)
    mode = "live" if livemode else "test"
    if isinstance(value, dict):
        value = value.get(mode)
    if value is None:
        return DEFAULT_RATES[mode]
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = 0.0
    if not rate > 0:
        raise ValueError(f"STRIPE_CONFIG[{name!r}] must be a positive number")
    return rate


def build_limiter() -> Limiter:
    """A new limiter from ``STRIPE_CONFIG`` (use :func:`get_limiter` to share one)."""
    from stripe_integrations.conf import get_config

    config = get_config()
    rate = configured_rate(config.livemode)
    share = config.rate_limit_reserved_share
    if config.rate_limit_redis_url:
        mode = "live" if config.livemode else "test"
        # One bucket per account key (hashed) and mode, wherever the Redis is shared.
        account = hashlib.sha256(str(config.api_key).encode()).hexdigest()[:16]
        return RedisTokenBucket(
            config.rate_limit_redis_url,
            rate,
            key=f"stripe_integrations:ratelimit:{mode}:{account}",
            reserved_share=share,
        )
    return TokenBucket(rate, reserved_share=share)


def get_limiter() -> Limiter:
    """The process's limiter, built on first use and rebuilt when settings change."""
    global _limiter
    if _override is not None:
        return _override
    limiter = _limiter
    if limiter is None:
        with _lock:
            if _limiter is None:
                _limiter = build_limiter()
            limiter = _limiter
    return limiter


def reset_limiter() -> None:
    """Forget the process's limiter; the next :func:`get_limiter` builds a new one."""
    global _limiter
    with _lock:
        _limiter = None


@contextmanager
def override_limiter(limiter: Limiter) -> Iterator[Limiter]:
    """Make :func:`get_limiter` return ``limiter`` while the block runs (tests: a bucket on
    an injected clock, or one that counts)."""
    global _override
    previous = _override
    _override = limiter
    try:
        yield limiter
    finally:
        _override = previous
