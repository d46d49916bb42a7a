"""The process's token bucket: requests per second to one Stripe account, in two classes.

Every request takes a token from the account's bucket (``rate`` per second, ``burst`` at
once). A *background* request (the backfill, webhook processing) also takes one from a
second bucket that refills at ``rate * (1 - reserved_share)``: background work never uses the
reserved share, so an interactive call finds a token even while the backfill runs flat out.

Nothing is reserved ahead: a caller that finds no token sleeps for the time until one is
due and asks again, so no caller queues behind work that has not been sent yet. A 429 from
Stripe (:meth:`TokenBucket.throttled`) halves the rate once per episode and holds every
caller for the pause Stripe asked for; each request let through afterwards adds back 1% of the
configured rate.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: Default requests per second for the whole process (or, with Redis, for every process):
#: below Stripe's per-account limits (live 100, test 25), leaving some room for whatever
#: else sends requests with the same account (the dashboard, other services).
DEFAULT_RATES = {"live": 90.0, "test": 22.0}

#: Default share of the rate that background work (backfill, webhook processing) leaves free
#: for interactive calls.
DEFAULT_RESERVED_SHARE = 0.2

#: The longest pause a 429 imposes, whatever ``Retry-After`` says.
MAX_PAUSE = 60.0

#: Waits shorter than this count as none (a float clock may never step over a smaller gap).
EPSILON = 1e-6


def default_burst(rate: float) -> float:
    """Tokens a bucket holds when full: a tenth of a second's worth, at least one."""
    return max(1.0, rate / 10.0)


def jittered_backoff(attempt: int, cap: float) -> float:
    """Seconds before retry number ``attempt`` (1, 2...): 0.5 s doubling to ``cap``, each
    between half and all of it at random (so waiting callers do not come back together)."""
    base: float = min(cap, 0.5 * 2.0 ** (attempt - 1))
    return base * (0.5 + random.random() / 2.0)


def throttle_backoff(attempt: int) -> float:
    """Seconds to pause after the ``attempt``-th 429 in a row when Stripe sent no
    ``Retry-After``: 0.5 s doubling to 10 s, jittered."""
    return jittered_backoff(attempt, 10.0)


@dataclass
class LimiterStats:
    """What a limiter let through (per process; read by tests and progress output)."""

    acquired: int = 0
    background: int = 0
    throttled: int = 0
    waited: float = 0.0


class Limiter:
    """What every limiter offers: :meth:`acquire` before each request, :meth:`throttled`
    after a 429, and the rate. Subclasses implement :meth:`try_acquire`, :meth:`throttled`
    and :meth:`set_rate`."""

    #: Whether the limiter is shared with other processes.
    distributed = False
    #: The configured requests per second, and the part of it background work may use.
    target: float
    background_rate: float
    stats: LimiterStats
    _sleep: Callable[[float], None]
    _rate_overrides: dict[object, float]
    _rate_base: float

    @property
    def rate(self) -> float:
        """The rate now: the configured one, lower for a while after a 429."""
        return self.target

    def try_acquire(self, background: bool = False) -> float:
        """Take a token if one is there and return 0, else take nothing and return the
        seconds until one is due."""
        raise NotImplementedError

    def throttled(self, pause: float) -> None:
        """Stripe answered 429: slow down and hold every caller for ``pause`` seconds."""
        raise NotImplementedError

    def set_rate(self, rate: float) -> None:
        """Change the configured rate (requests per second, positive)."""
        raise NotImplementedError

    def acquire(self, background: bool | None = None) -> float:
        """Block until a token is taken; returns the seconds waited. ``background`` defaults
        to whether the caller is inside :func:`stripe_integrations.ratelimit.background`."""
        background = _background_default(background)
        waited = 0.0
        while (wait := self.try_acquire(background)) > 0:
            self._sleep(wait)
            waited += wait
        self.stats.waited += waited
        return waited

    async def acquire_async(self, background: bool | None = None) -> float:
        """:meth:`acquire` for asyncio callers: waits with ``asyncio.sleep``."""
        background = _background_default(background)
        waited = 0.0
        while (wait := self.try_acquire(background)) > 0:
            await asyncio.sleep(wait)
            waited += wait
        self.stats.waited += waited
        return waited

    @contextmanager
    def rate_override(self, rate: float) -> Iterator[Limiter]:
        """Use ``rate`` while the block runs (overrides nest: the newest one open wins; the
        configured rate comes back when the last one ends)."""
        token = object()
        with _overrides_lock:
            overrides = self._rate_overrides = getattr(self, "_rate_overrides", {})
            if not overrides:
                self._rate_base = self.target
            overrides[token] = rate
        self.set_rate(rate)
        try:
            yield self
        finally:
            with _overrides_lock:
                del overrides[token]
                rate = next(reversed(overrides.values()), self._rate_base)
            self.set_rate(rate)


_overrides_lock = threading.Lock()


def _background_default(background: bool | None) -> bool:
    if background is not None:
        return background
    from stripe_integrations.ratelimit.context import in_background

    return in_background()


class TokenBucket(Limiter):
    """A thread-safe limiter for the requests of this process.

    ``clock`` and ``sleep`` are injectable (tests drive them by hand).
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        reserved_share: float = DEFAULT_RESERVED_SHARE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if not 0 <= reserved_share < 1:
            raise ValueError("reserved_share must be at least 0 and below 1")
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self.reserved_share = float(reserved_share)
        self._burst_given = burst
        self.stats = LimiterStats()
        self._configure(float(rate))
        self._tokens = self.burst
        self._background_tokens = self.background_burst
        self._updated = clock()
        self._factor = 1.0
        self._paused_until = 0.0

    def _configure(self, rate: float) -> None:
        self.target = rate
        self.burst = float(self._burst_given) if self._burst_given else default_burst(rate)
        self.background_rate = rate * (1.0 - self.reserved_share)
        self.background_burst = min(self.burst, default_burst(self.background_rate))
        self.min_factor = min(1.0, 1.0 / rate)

    @property
    def rate(self) -> float:
        """The rate now: the configured one, lower for a while after a 429."""
        return self.target * self._factor

    # -- the algorithm ---------------------------------------------------------------------

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.burst, self._tokens + elapsed * self.target * self._factor)
        self._background_tokens = min(
            self.background_burst,
            self._background_tokens + elapsed * self.background_rate * self._factor,
        )
        self._updated = now

    def try_acquire(self, background: bool = False) -> float:
        """Take a token if one is there and return 0, else take nothing and return the
        seconds until one is due."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            if self._paused_until - now > EPSILON:
                return self._paused_until - now
            wait = 0.0
            if self._tokens < 1.0:
                wait = (1.0 - self._tokens) / (self.target * self._factor)
            if background and self._background_tokens < 1.0:
                rate = self.background_rate * self._factor
                wait = max(wait, (1.0 - self._background_tokens) / rate)
            if wait > EPSILON:
                return wait
            self._tokens -= 1.0
            if background:
                self._background_tokens -= 1.0
            self._factor = min(1.0, self._factor + 0.01)
            self.stats.acquired += 1
            self.stats.background += background
            return 0.0

    def throttled(self, pause: float) -> None:
        """Stripe answered 429: halve the rate (once per pause) and hold every caller for
        ``pause`` seconds (at most :data:`MAX_PAUSE`)."""
        pause = min(max(0.0, pause), MAX_PAUSE)
        with self._lock:
            now = self._clock()
            self._refill(now)
            if self._paused_until <= now:
                self._factor = max(self.min_factor, self._factor / 2.0)
            self._tokens = min(self._tokens, 0.0)
            self._background_tokens = min(self._background_tokens, 0.0)
            self._paused_until = max(self._paused_until, now + pause)
            self.stats.throttled += 1

    # -- configuration ---------------------------------------------------------------------

    def set_rate(self, rate: float) -> None:
        """Change the configured rate (requests per second, positive)."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        with self._lock:
            self._refill(self._clock())
            self._configure(float(rate))
            self._tokens = min(self._tokens, self.burst)
            self._background_tokens = min(self._background_tokens, self.background_burst)
