"""The account's rate limiter: one bucket for app calls, webhook processing and the backfill,
429s retried after ``Retry-After``, a share reserved for interactive calls, and a bucket
shared by several processes through Redis."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import stripe

from stripe_integrations.actions import StripeCustomer
from stripe_integrations.backfill.run import SyncSettings, run_sync
from stripe_integrations.client import get_client
from stripe_integrations.exceptions import StripeAPIError
from stripe_integrations.models import Customer, EventStatus
from stripe_integrations.ratelimit import (
    DEFAULT_RATES,
    RedisTokenBucket,
    TokenBucket,
    background,
    build_limiter,
    configured_rate,
    get_limiter,
    in_background,
    override_limiter,
)
from stripe_integrations.ratelimit.http import INTERACTIVE_RETRIES
from stripe_integrations.testing import FakeStripe
from stripe_integrations.testing.webhooks import build_event
from stripe_integrations.webhooks.processing import process_batch, process_event, store_event

REDIS_URL = os.environ.get("SI_RATELIMIT_REDIS_URL", "redis://127.0.0.1:6379/13")


class Clock:
    """A monotonic clock that only moves when someone sleeps (or the test moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def bucket(clock: Clock, rate: float = 20.0, **kwargs: Any) -> TokenBucket:
    return TokenBucket(rate, clock=clock, sleep=clock.sleep, **kwargs)


def no_wait(attempt: int) -> float:
    return 0.0


# -- 429s ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_event_outlasts_429s_and_each_retry_waits_retry_after(fake_stripe: FakeStripe) -> None:
    customer = fake_stripe.add("customer", email="jenny@example.com")
    event, _ = store_event(build_event("customer.updated", customer))
    assert event is not None
    fake_stripe.fail_next(429, count=3, path="/v1/customers/*", retry_after=2)
    clock = Clock()
    with override_limiter(bucket(clock)) as limiter:
        outcome = process_event(event.pk)
    assert outcome.status == EventStatus.SUCCEEDED
    event.refresh_from_db()
    assert event.attempts == 1 and event.last_error == ""
    assert Customer.objects.get(stripe_id=customer["id"]).email == "jenny@example.com"
    statuses = [r.status for r in fake_stripe.requests_to("GET", f"/v1/customers/{customer['id']}")]
    assert statuses == [429, 429, 429, 200]
    # Each retry waited the 2 s Stripe asked for before it was sent.
    assert [s for s in clock.slept if s >= 2.0 - 1e-9] == pytest.approx([2.0, 2.0, 2.0])
    assert limiter.stats.throttled == 3
    assert limiter.rate < limiter.target  # slowed down; each request let through adds back 1%
    assert limiter.stats.acquired == limiter.stats.background == fake_stripe.request_count


@pytest.mark.django_db
def test_an_interactive_call_retries_a_few_429s_then_raises_with_the_code(
    fake_stripe: FakeStripe, user: Any
) -> None:
    fake_stripe.fail_next(429, count=INTERACTIVE_RETRIES + 1)
    clock = Clock()
    with override_limiter(bucket(clock)) as limiter, pytest.raises(StripeAPIError) as info:
        StripeCustomer.create(user, "jenny@example.com")
    assert info.value.http_status == 429 and info.value.code == "rate_limit"
    assert fake_stripe.request_count == INTERACTIVE_RETRIES + 1  # stripe-python adds none
    assert limiter.stats.throttled == INTERACTIVE_RETRIES + 1
    assert limiter.stats.background == 0
    assert Customer.objects.count() == 0


def test_stripe_should_retry_false_is_honoured(fake_stripe: FakeStripe) -> None:
    fake_stripe.fail_next(429, should_retry=False, retry_after=1)
    clock = Clock()
    with override_limiter(bucket(clock)) as limiter:
        with pytest.raises(stripe.RateLimitError):
            get_client().v1.customers.list()
        assert fake_stripe.request_count == 1
        assert limiter.stats.throttled == 1
        get_client().v1.customers.list()  # the next request waits out the pause first
    assert clock.slept == pytest.approx([1.0])


def test_a_lock_timeout_429_is_not_a_rate_limit(fake_stripe: FakeStripe) -> None:
    fake_stripe.fail_next(429, code="lock_timeout", should_retry=True)
    clock = Clock()
    with override_limiter(bucket(clock)) as limiter:
        get_client().v1.customers.list()
    assert fake_stripe.request_count == 2  # retried by stripe-python, as a 409 would be
    assert limiter.stats.throttled == 0 and limiter.stats.acquired == 2


def test_async_requests_take_tokens_too(fake_stripe: FakeStripe) -> None:
    fake_stripe.fail_next(429, count=1, retry_after=0.01)
    limiter = TokenBucket(1e6)
    with override_limiter(limiter):
        asyncio.run(get_client().v1.customers.list_async())
    assert limiter.stats.acquired == fake_stripe.request_count == 2
    assert limiter.stats.throttled == 1


# -- one bucket ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_app_calls_events_and_the_backfill_draw_from_one_bucket(
    fake_stripe: FakeStripe, user: Any
) -> None:
    for i in range(30):
        fake_stripe.add("customer", email=f"c{i}@example.com", created=1_700_000_000 + i)
    limiter = TokenBucket(1e6)
    with override_limiter(limiter):
        StripeCustomer.create(user, "jenny@example.com")  # application code: interactive
        app_requests = fake_stripe.request_count
        assert limiter.stats.acquired == app_requests and limiter.stats.background == 0

        target = fake_stripe.objects("customer")[0]
        event, _ = store_event(build_event("customer.updated", target))
        assert event is not None
        assert process_event(event.pk).status == EventStatus.SUCCEEDED
        event_requests = fake_stripe.request_count - app_requests
        assert event_requests >= 1

        [stats] = run_sync(["customers"], SyncSettings(backoff=no_wait, workers=2))
        backfill_requests = fake_stripe.request_count - app_requests - event_requests
        assert stats.objects == 31 and backfill_requests == stats.requests >= 1
    assert limiter.stats.acquired == fake_stripe.request_count
    assert limiter.stats.background == event_requests + backfill_requests


@pytest.mark.django_db
def test_a_batch_fetching_in_threads_is_background_work(fake_stripe: FakeStripe) -> None:
    customers = [fake_stripe.add("customer", email=f"c{i}@example.com") for i in range(4)]
    stored = [store_event(build_event("customer.updated", c))[0] for c in customers]
    limiter = TokenBucket(1e6)
    with override_limiter(limiter):
        outcomes = process_batch([e.pk for e in stored if e is not None])
    assert [o.status for o in outcomes] == [EventStatus.SUCCEEDED] * 4
    assert fake_stripe.request_count >= 4
    assert limiter.stats.acquired == limiter.stats.background == fake_stripe.request_count


@pytest.mark.django_db
def test_the_backfill_rate_option_sets_the_shared_limiter_for_the_run(
    fake_stripe: FakeStripe,
) -> None:
    fake_stripe.add("customer", email="one@example.com")
    limiter = TokenBucket(50.0)
    seen: list[float] = []
    original = limiter.try_acquire

    def spy(background: bool = False) -> float:
        seen.append(limiter.target)
        return original(background)

    limiter.try_acquire = spy  # type: ignore[method-assign]
    with override_limiter(limiter):
        run_sync(["customers"], SyncSettings(rate=5000.0, backoff=no_wait, workers=1))
    assert seen and set(seen) == {5000.0}
    assert limiter.target == 50.0  # the configured rate is back after the run


# -- the reserved share --------------------------------------------------------------------------


def saturate(
    limiter: TokenBucket, clock: Clock, seconds: float, every: float = 0.5
) -> tuple[int, list[float]]:
    """Background callers take every token they may, every 10 ms; an interactive call comes
    every ``every`` seconds, after them. Returns the background requests let through and
    what each interactive call would have waited."""
    taken, waits = 0, []
    steps_between = round(every / 0.01)
    for step in range(1, round(seconds / 0.01) + 1):
        clock.now += 0.01
        while limiter.try_acquire(background=True) == 0:
            taken += 1
        if step % steps_between == 0:
            wait = limiter.try_acquire(background=False)
            waits.append(wait)
            if wait == 0:
                continue
            clock.now += wait  # the call waited; background callers wait meanwhile
            assert limiter.try_acquire(background=False) == 0
    return taken, waits


def test_an_interactive_call_does_not_wait_behind_saturating_background_work() -> None:
    clock = Clock()
    limiter = bucket(clock, rate=20.0, reserved_share=0.2)
    taken, waits = saturate(limiter, clock, seconds=10.0)
    assert len(waits) == 20 and set(waits) == {0.0}  # never waited
    assert 16 * 10 - 1 <= taken <= 16 * 10 + limiter.background_burst  # 80% of 20/s

    # Without a reserved share the same background work keeps interactive calls waiting.
    clock = Clock()
    greedy = bucket(clock, rate=20.0, reserved_share=0.0)
    _, waits = saturate(greedy, clock, seconds=10.0)
    assert len(waits) == 20 and min(waits) > 0.0


def test_interactive_calls_may_use_the_whole_rate() -> None:
    clock = Clock()
    limiter = bucket(clock, rate=20.0, burst=1)
    for _ in range(41):
        limiter.acquire(background=False)
    assert clock.now - 1000.0 == pytest.approx(2.0)  # 20/s, not 16/s


def test_background_marks_the_context_and_reaches_threads_only_when_propagated() -> None:
    seen: dict[str, bool] = {}
    assert not in_background()
    with background():
        assert in_background()
        plain = threading.Thread(target=lambda: seen.setdefault("plain", in_background()))
        plain.start()
        plain.join()
        context = contextvars.copy_context()
        copied = threading.Thread(
            target=lambda: context.run(lambda: seen.setdefault("copied", in_background()))
        )
        copied.start()
        copied.join()
    assert not in_background()
    assert seen == {"plain": False, "copied": True}


# -- settings ------------------------------------------------------------------------------------


def test_rates_per_mode_with_the_old_name_as_an_alias(settings: Any) -> None:
    settings.STRIPE_CONFIG = {"API_KEY": "sk_test_x"}
    assert configured_rate(livemode=False) == DEFAULT_RATES["test"] < 25
    assert configured_rate(livemode=True) == DEFAULT_RATES["live"] < 100
    settings.STRIPE_CONFIG = {"API_KEY": "sk_test_x", "SYNC_RATE_LIMIT": {"test": 5}}
    assert configured_rate(livemode=False) == 5.0
    assert configured_rate(livemode=True) == DEFAULT_RATES["live"]
    settings.STRIPE_CONFIG = {"API_KEY": "sk_test_x", "RATE_LIMIT": 12, "SYNC_RATE_LIMIT": 5}
    assert configured_rate(livemode=False) == 12.0
    settings.STRIPE_CONFIG = {"API_KEY": "sk_test_x", "RATE_LIMIT": {"test": 0}}
    with pytest.raises(ValueError, match="RATE_LIMIT"):
        configured_rate(livemode=False)


def test_the_process_limiter_follows_the_settings(settings: Any) -> None:
    settings.STRIPE_CONFIG = {
        "API_KEY": "sk_live_x",
        "RATE_LIMIT": {"live": 40},
        "RATE_LIMIT_RESERVED_SHARE": 0.25,
    }
    limiter = get_limiter()
    assert isinstance(limiter, TokenBucket) and limiter is get_limiter()
    assert (limiter.target, limiter.background_rate) == (40.0, 30.0)
    settings.STRIPE_CONFIG = {"API_KEY": "sk_test_x", "RATE_LIMIT_REDIS_URL": REDIS_URL}
    shared = get_limiter()
    assert isinstance(shared, RedisTokenBucket) and shared.target == DEFAULT_RATES["test"]
    assert "sk_test_x" not in shared.key and shared.key.startswith("stripe_integrations:")
    assert "REDIS" not in repr(build_limiter())


def test_system_checks_report_a_bad_rate_or_share(settings: Any) -> None:
    from stripe_integrations.checks import check_stripe_config

    def ids(**config: Any) -> list[str]:
        settings.STRIPE_CONFIG = {"API_KEY": "sk_test_x", "WEBHOOK_SECRETS": ["whsec_x"], **config}
        return [e.id for e in check_stripe_config()]

    assert ids(RATE_LIMIT={"test": -1}) == ["stripe_integrations.E013"]
    assert ids(RATE_LIMIT_RESERVED_SHARE=1) == ["stripe_integrations.E014"]
    assert ids(RATE_LIMIT=20, RATE_LIMIT_RESERVED_SHARE=0) == []


# -- Redis ---------------------------------------------------------------------------------------


def redis_or_skip() -> Any:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    return client


def test_a_redis_outage_falls_back_to_the_process_bucket(caplog: Any) -> None:
    clock = Clock()
    limiter = RedisTokenBucket("redis://127.0.0.1:1/0", 20.0, sleep=clock.sleep)
    with caplog.at_level(logging.WARNING, logger="stripe_integrations.ratelimit"):
        for _ in range(5):
            limiter.acquire(background=False)
        limiter.throttled(0.5)
    assert limiter.stats.acquired == 5
    assert limiter.fallback.stats.acquired == 5 and limiter.fallback.stats.throttled == 1
    warnings = [r for r in caplog.records if "Redis" in r.getMessage()]
    assert len(warnings) == 1  # once, not per request


def test_a_redis_bucket_paces_and_pauses_for_every_process() -> None:
    client = redis_or_skip()
    key = f"stripe_integrations:test:{uuid.uuid4().hex}"
    try:
        first = RedisTokenBucket(REDIS_URL, 10.0, burst=2, key=key)
        second = RedisTokenBucket(REDIS_URL, 10.0, burst=2, key=key)
        assert first.try_acquire() == 0 and second.try_acquire() == 0
        assert first.try_acquire() > 0  # the burst of 2 is spent by both together
        second.throttled(0.3)
        assert first.try_acquire() == pytest.approx(0.3, abs=0.05)
        assert first.fallback.stats.acquired == 0
    finally:
        client.delete(key)


CHILD = """
import json, sys, time
from stripe_integrations.ratelimit import RedisTokenBucket
url, key, rate, start, seconds, mode, out = sys.argv[1:8]
limiter = RedisTokenBucket(url, float(rate), key=key)
stamps = []
time.sleep(max(0.0, float(start) - time.time()))
end = float(start) + float(seconds)
while time.time() < end:
    limiter.acquire(background=(mode == "background"))
    stamps.append(time.time())
json.dump({"stamps": stamps, "fallback": limiter.fallback.stats.acquired}, open(out, "w"))
"""


def test_two_processes_sharing_redis_stay_under_the_rate(tmp_path: Path) -> None:
    client = redis_or_skip()
    key = f"stripe_integrations:test:{uuid.uuid4().hex}"
    rate, seconds = 20.0, 3.0
    burst = max(1.0, rate / 10)
    start = time.time() + 3.0  # both children are up before it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    outs = {mode: tmp_path / f"{mode}.json" for mode in ("interactive", "background")}
    args = [REDIS_URL, key, str(rate), str(start), str(seconds)]
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, *args, mode, str(out)], env=env)
        for mode, out in outs.items()
    ]
    try:
        for child in children:
            assert child.wait(timeout=60) == 0
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        client.delete(key)
    results = {mode: json.loads(out.read_text()) for mode, out in outs.items()}
    assert all(r["fallback"] == 0 for r in results.values())  # Redis answered every time
    stamps = sorted(s for r in results.values() for s in r["stamps"])
    background_stamps = results["background"]["stamps"]
    # Whole run: at most rate * duration + burst (+1 for the client-side timestamps).
    assert len(stamps) <= rate * seconds + burst + 1
    assert len(stamps) >= rate * seconds * 0.7  # both really tried
    # Any one-second window: at most rate + burst (+1).
    worst = max(sum(1 for s in stamps if t <= s < t + 1.0) for t in stamps)
    assert worst <= rate + burst + 1
    # Background work kept to its share (80%), the interactive process got the rest.
    assert len(background_stamps) <= rate * 0.8 * seconds + burst + 1
    assert results["interactive"]["stamps"]
