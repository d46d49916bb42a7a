"""A token bucket shared by the threads of one process: requests per second to one account.

Stripe allows 100 requests/s per account in live mode and 25 in test mode, shared with
everything else the application sends. The backfill stays below that by default
(:data:`DEFAULT_RATES`), and halves its rate for a while whenever Stripe answers 429.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

#: Default requests per second of the backfill: below Stripe's per-account limits (live 100,
#: test 25), leaving room for the application's own requests and webhook re-fetches.
DEFAULT_RATES = {"live": 90.0, "test": 22.0}


def configured_rate(livemode: bool) -> float:
    """Requests per second from ``STRIPE_CONFIG["SYNC_RATE_LIMIT"]``, else the default.

    The key holds a number, or a dict ``{"live": 90, "test": 22}``.
    """
    from stripe_integrations.conf import get_config, raw_settings

    value: Any = getattr(get_config(), "sync_rate_limit", None)
    if value is None:
        value = raw_settings().get("SYNC_RATE_LIMIT")
    mode = "live" if livemode else "test"
    if isinstance(value, dict):
        value = value.get(mode)
    if value is None:
        return DEFAULT_RATES[mode]
    rate = float(value)
    if rate <= 0:
        raise ValueError("STRIPE_CONFIG['SYNC_RATE_LIMIT'] must be a positive number")
    return rate


class TokenBucket:
    """Lets through at most ``rate`` calls per second on average, ``burst`` at once.

    :meth:`acquire` blocks until the caller may send its request. After :meth:`throttled`
    (a 429) every caller waits out a pause and the rate is halved; each success then adds
    back 1% of the target rate.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.target = float(rate)
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else max(1.0, rate / 10.0)
        self.min_rate = min(self.target, 1.0)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._updated = clock()
        self._paused_until = 0.0
        self.waited = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def acquire(self) -> float:
        """Take one token, sleeping until it is due; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
            wait = max(wait, self._paused_until - now)
            self.waited += wait
        if wait > 0:
            self._sleep(wait)
        return wait

    def throttled(self, pause: float) -> None:
        """Stripe answered 429: halve the rate and hold every caller for ``pause`` seconds."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self.rate = max(self.min_rate, self.rate / 2.0)
            self._tokens = min(self._tokens, 0.0)
            self._paused_until = max(self._paused_until, now + pause)

    def succeeded(self) -> None:
        """A request went through: creep back towards the target rate."""
        if self.rate < self.target:
            with self._lock:
                self.rate = min(self.target, self.rate + self.target / 100.0)
