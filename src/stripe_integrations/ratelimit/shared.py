"""A token bucket shared by every process through Redis (``RATE_LIMIT_REDIS_URL``).

The same algorithm as :class:`~.bucket.TokenBucket`, run atomically by one Lua script on the
Redis server with the server's clock, so processes on several machines agree on time. When
Redis cannot be reached, requests go through a process-local bucket at the same rate (with a
warning, at most once a minute) and Redis is tried again a few seconds later: an outage never
stops requests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from stripe_integrations.ratelimit.bucket import (
    DEFAULT_RESERVED_SHARE,
    MAX_PAUSE,
    Limiter,
    LimiterStats,
    TokenBucket,
    default_burst,
)

log = logging.getLogger("stripe_integrations.ratelimit")

#: Seconds between attempts to reach Redis again after a failure.
RETRY_REDIS_AFTER = 5.0

#: KEYS[1]: the bucket's hash. ARGV: rate, burst, background rate, background burst,
#: "1" for a background request, the action ("acquire" or "throttle"), the pause (seconds).
#: Returns the seconds to wait as a string (0: the token is taken).
SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local brate = tonumber(ARGV[3])
local bburst = tonumber(ARGV[4])
local background = ARGV[5] == '1'
local action = ARGV[6]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local s = redis.call('HMGET', KEYS[1], 'tokens', 'btokens', 'ts', 'factor', 'paused')
local tokens = tonumber(s[1]) or burst
local btokens = tonumber(s[2]) or bburst
local ts = tonumber(s[3]) or now
local factor = tonumber(s[4]) or 1
local paused = tonumber(s[5]) or 0
local minf = math.min(1, 1 / rate)
local elapsed = math.max(0, now - ts)
tokens = math.min(burst, tokens + elapsed * rate * factor)
btokens = math.min(bburst, btokens + elapsed * brate * factor)
local wait = 0
if action == 'throttle' then
  if paused <= now then factor = math.max(minf, factor / 2) end
  tokens = math.min(tokens, 0)
  btokens = math.min(btokens, 0)
  paused = math.max(paused, now + tonumber(ARGV[7]))
elseif paused - now > 0.000001 then
  wait = paused - now
else
  if tokens < 1 then wait = (1 - tokens) / (rate * factor) end
  if background and btokens < 1 then
    wait = math.max(wait, (1 - btokens) / (brate * factor))
  end
  if wait <= 0.000001 then
    wait = 0
    tokens = tokens - 1
    if background then btokens = btokens - 1 end
    factor = math.min(1, factor + 0.01)
  end
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
  'btokens', string.format('%.6f', btokens), 'ts', string.format('%.6f', now),
  'factor', string.format('%.6f', factor), 'paused', string.format('%.6f', paused))
redis.call('EXPIRE', KEYS[1], 120)
return string.format('%.6f', wait)
"""


class RedisTokenBucket(Limiter):
    """A limiter shared through the Redis at ``url`` under ``key``."""

    distributed = True

    def __init__(
        self,
        url: str,
        rate: float,
        burst: float | None = None,
        *,
        key: str = "stripe_integrations:ratelimit",
        reserved_share: float = DEFAULT_RESERVED_SHARE,
        sleep: Callable[[float], None] = time.sleep,
        redis_client: Any = None,
    ) -> None:
        self.url = url
        self.key = key
        self._sleep = sleep
        self.stats = LimiterStats()
        self._burst_given = burst
        #: Serves requests while Redis cannot be reached.
        self.fallback = TokenBucket(rate, burst, reserved_share=reserved_share, sleep=sleep)
        self.reserved_share = self.fallback.reserved_share
        self._redis = redis_client
        self._script: Any = None
        self._down_until = 0.0
        self._warned_at = -MAX_PAUSE
        self._lock = threading.Lock()
        self.set_rate(rate)

    def set_rate(self, rate: float) -> None:
        """Change the configured rate (requests per second, positive)."""
        self.fallback.set_rate(rate)
        self.target = self.fallback.target
        self.background_rate = self.fallback.background_rate
        self.burst = float(self._burst_given) if self._burst_given else default_burst(rate)
        self.background_burst = min(self.burst, default_burst(self.background_rate))

    def _client(self) -> Any:
        if self._script is None:
            import redis

            client = self._redis or redis.Redis.from_url(
                self.url, socket_timeout=0.5, socket_connect_timeout=0.5
            )
            self._script = client.register_script(SCRIPT)
        return self._script

    def _run(self, background: bool, action: str, pause: float = 0.0) -> float | None:
        """The script's answer, or None when Redis cannot be reached."""
        now = time.monotonic()
        if now < self._down_until:
            return None
        try:
            script = self._client()
            answer = script(
                keys=[self.key],
                args=[
                    repr(self.target),
                    repr(self.burst),
                    repr(self.background_rate),
                    repr(self.background_burst),
                    "1" if background else "0",
                    action,
                    repr(pause),
                ],
            )
        except Exception as exc:  # any Redis failure: fall back, never stop requests
            with self._lock:
                self._down_until = now + RETRY_REDIS_AFTER
                warn = now - self._warned_at >= 60.0
                if warn:
                    self._warned_at = now
            if warn:
                log.warning(
                    "Stripe rate limiter: Redis at %s failed (%s: %s); limiting this process "
                    "alone until it answers again",
                    self.url.rsplit("@", 1)[-1],
                    type(exc).__name__,
                    exc,
                )
            return None
        return float(answer.decode() if isinstance(answer, bytes) else answer)

    def try_acquire(self, background: bool = False) -> float:
        """Take a token from Redis (or from the fallback) if one is there and return 0,
        else return the seconds until one is due."""
        wait = self._run(background, "acquire")
        if wait is None:
            wait = self.fallback.try_acquire(background)
        if wait <= 0:
            with self._lock:
                self.stats.acquired += 1
                self.stats.background += background
        return wait

    def throttled(self, pause: float) -> None:
        """Stripe answered 429: every process sharing the bucket slows down and waits
        ``pause`` seconds (at most :data:`~.bucket.MAX_PAUSE`)."""
        pause = min(max(0.0, pause), MAX_PAUSE)
        with self._lock:
            self.stats.throttled += 1
        if self._run(False, "throttle", pause) is None:
            self.fallback.throttled(pause)
