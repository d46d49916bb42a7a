"""Rate-limited, retried GET requests to Stripe for the backfill.

Every attempt takes a token from the :class:`~.ratelimit.TokenBucket` first, retries
included, so the rate holds whatever fails. A 429 slows the whole process down; 5xx, 409
and connection errors are retried after an exponential back-off with jitter. List and
retrieve calls are GETs: a retry repeats the same request, with no side effect.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import stripe

from stripe_integrations.backfill.ratelimit import TokenBucket
from stripe_integrations.exceptions import StripeAPIError


def default_backoff(attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1, 2...): 0.5 s doubling to 30 s, jittered."""
    base: float = min(30.0, 0.5 * 2.0 ** (attempt - 1))
    return base * (0.5 + random.random() / 2.0)


@dataclass
class FetchStats:
    """What the fetcher did (read by progress and summaries)."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    errors: int = 0


class Fetcher:
    """GETs JSON from Stripe through a shared client, within the bucket's rate."""

    def __init__(
        self,
        client: stripe.StripeClient,
        bucket: TokenBucket,
        *,
        max_attempts: int = 10,
        backoff: Callable[[int], float] = default_backoff,
        sleep: Callable[[float], None] = time.sleep,
        probe_created: bool = False,
    ) -> None:
        self.client = client
        self.bucket = bucket
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

    def _observe(self, seconds: float) -> None:
        with self._lock:
            if self.latency is None:
                self.latency = seconds
            else:
                self.latency += (seconds - self.latency) * 0.1

    def concurrency_needed(self) -> int:
        """Requests in flight that keep the bucket's rate busy at the latency seen so far
        (0 before the first answer)."""
        if self.latency is None:
            return 0
        return math.ceil(self.bucket.rate * self.latency * 1.25)

    def _count(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self.stats, name, getattr(self.stats, name) + delta)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The decoded JSON body of ``GET path``; :class:`StripeAPIError` when Stripe refuses
        the request or it still fails after ``max_attempts`` attempts."""
        attempt = 0
        while True:
            self.bucket.acquire()
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
                delay = self.backoff(attempt)
                if kind == "rate_limited":
                    self._count(retries=1, throttled=1)
                    self.bucket.throttled(delay)
                else:
                    self._count(retries=1)
                    self.sleep(delay)
                continue
            self.bucket.succeeded()
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
        self.bucket.acquire()
        self._count(requests=1)
        try:
            self._request(path, params)
        except stripe.StripeError:
            return False
        return True

    def _request(self, path: str, params: dict[str, Any]) -> Any:
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
