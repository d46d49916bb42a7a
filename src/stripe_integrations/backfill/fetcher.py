"""Rate-limited, retried GET requests to Stripe for the backfill.

Every attempt takes a token from the account's limiter (:mod:`stripe_integrations.ratelimit`)
first, retries included, so the rate holds whatever fails; requests are background work, so
they leave the reserved share to interactive calls. A 429 slows every user of the limiter
down (for ``Retry-After`` when Stripe sends it); 5xx, 409 and connection errors are retried
after an exponential back-off with jitter. List and retrieve calls are GETs: a retry repeats
the same request, with no side effect.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import stripe

from stripe_integrations.exceptions import StripeAPIError
from stripe_integrations.ratelimit import Limiter, background, get_limiter
from stripe_integrations.ratelimit.bucket import jittered_backoff
from stripe_integrations.ratelimit.context import caller_retries
from stripe_integrations.ratelimit.http import RateLimitedHTTPClient, pause_for


def default_backoff(attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1, 2...): 0.5 s doubling to 30 s, jittered."""
    return jittered_backoff(attempt, 30.0)


@dataclass
class FetchStats:
    """What the fetcher did (read by progress and summaries)."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    errors: int = 0


class Fetcher:
    """GETs JSON from Stripe through a shared client, within the account's rate limit."""

    def __init__(
        self,
        client: stripe.StripeClient,
        *,
        max_attempts: int = 10,
        backoff: Callable[[int], float] = default_backoff,
        sleep: Callable[[float], None] = time.sleep,
        probe_created: bool = False,
    ) -> None:
        self.client = client
        http_client = getattr(getattr(client, "_requestor", None), "_client", None)
        #: A client built by the library takes a token per request in its HTTP client;
        #: with any other client (a bench's, a test's) the fetcher takes it itself.
        self._limited_by_client = isinstance(http_client, RateLimitedHTTPClient)
        self._http_client = http_client if self._limited_by_client else None
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sleep = sleep
        self.stats = FetchStats()
        #: List paths whose server refused ``created`` filters (see ``pages``).
        self.unfiltered_paths: set[str] = set()
        #: Ask a Stripe-compatible server (``API_BASE``) once per path whether it takes them.
        self.probe_created = probe_created
        self._probed: set[str] = set()
        #: Moving average of the seconds Stripe takes to answer (None before an answer).
        self.latency: float | None = None
        self._lock = threading.Lock()

    @property
    def limiter(self) -> Limiter:
        """The limiter this fetcher's requests go through."""
        if isinstance(self._http_client, RateLimitedHTTPClient):
            return self._http_client.limiter
        return get_limiter()

    def _acquire(self) -> None:
        if not self._limited_by_client:
            self.limiter.acquire(background=True)

    def _observe(self, seconds: float) -> None:
        with self._lock:
            if self.latency is None:
                self.latency = seconds
            else:
                self.latency += (seconds - self.latency) * 0.1

    def concurrency_needed(self) -> int:
        """Requests in flight that keep the background rate busy at the latency seen so far
        (0 before the first answer)."""
        if self.latency is None:
            return 0
        limiter = self.limiter
        rate = limiter.background_rate * limiter.rate / limiter.target
        return math.ceil(rate * self.latency * 1.25)

    def _count(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self.stats, name, getattr(self.stats, name) + delta)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The decoded JSON body of ``GET path``; :class:`StripeAPIError` when Stripe refuses
        the request or it still fails after ``max_attempts`` attempts."""
        attempt = 0
        while True:
            self._acquire()
            self._count(requests=1)
            sent = time.monotonic()
            try:
                data = self._request(path, dict(params or {}))
            except stripe.StripeError as exc:
                kind = classify(exc)
                if kind is None:
                    self._count(errors=1)
                    raise StripeAPIError.from_stripe(exc) from exc
                attempt += 1
                if attempt >= self.max_attempts:
                    self._count(errors=1)
                    raise StripeAPIError.from_stripe(exc) from exc
                if kind == "rate_limited":
                    self._count(retries=1, throttled=1)
                    self.limiter.throttled(pause_for(exc.headers, attempt, self.backoff))
                else:
                    self._count(retries=1)
                    self.sleep(self.backoff(attempt))
                continue
            self._observe(time.monotonic() - sent)
            return data if isinstance(data, dict) else {}

    def lists_by_created(self, path: str) -> bool:
        """Whether the list at ``path`` takes ``created`` filters. Stripe does; a server
        such as localstripe may refuse them with a 400 (noticed on the way) or fail with a
        500, which is why, with ``probe_created``, one request with a filter is tried first
        (and, when it fails, one without: if only that one succeeds, the path is listed
        without filters)."""
        with self._lock:
            if path in self.unfiltered_paths:
                return False
            if not self.probe_created or path in self._probed:
                return True
            self._probed.add(path)
        if self._attempt(path, {"limit": 1, "created": {"gte": 0}}):
            return True
        if self._attempt(path, {"limit": 1}):
            with self._lock:
                self.unfiltered_paths.add(path)
            return False
        return True  # failing either way: the normal path reports the error

    def _attempt(self, path: str, params: dict[str, Any]) -> bool:
        self._acquire()
        self._count(requests=1)
        try:
            self._request(path, params)
        except stripe.StripeError:
            return False
        return True

    def _request(self, path: str, params: dict[str, Any]) -> Any:
        """One attempt, as background work whose 429s the fetcher retries itself."""
        with background(), caller_retries():
            return self._send(path, params)

    def _send(self, path: str, params: dict[str, Any]) -> Any:
        """One attempt: the decoded body, or the ``StripeError`` stripe-python raises.

        ``StripeClient.raw_request`` decodes bodies with ``object_pairs_hook=OrderedDict``,
        which takes twice as long as plain dicts and makes every object an ``OrderedDict``;
        a backfill decodes gigabytes. So the body is fetched through the client's requestor
        (the same request, headers, telemetry and error handling) and decoded by orjson. Should
        stripe-python's internals change, ``raw_request`` is used instead.
        """
        requestor = getattr(self.client, "_requestor", None)
        request_raw = getattr(requestor, "request_raw", None)
        interpret = getattr(requestor, "_interpret_response", None)
        if request_raw is None or interpret is None:
            return self.client.raw_request("get", path, **params, max_network_retries=0).data
        body, status, headers = request_raw(
            "get",
            path,
            params=params,
            options={"max_network_retries": 0},
            base_address="api",
            api_mode="V1",
            usage=["raw_request"],
        )
        if 200 <= status < 300:
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                pass  # stripe-python raises its own error for a body that is not JSON
        return interpret(body, status, headers, "V1").data


def classify(exc: stripe.StripeError) -> str | None:
    """``"rate_limited"`` (429), ``"transient"`` (5xx, 409, lock timeouts, network) or None
    for an error a retry cannot fix."""
    if isinstance(exc, stripe.APIConnectionError):
        return "transient"
    status = exc.http_status or 0
    code = exc.code or getattr(exc.error, "code", None)
    if status == 429 and code != "lock_timeout":
        return "rate_limited"
    if status >= 500 or status in (409, 429):
        return "transient"
    return None
