"""Events at Stripe's pace: how long a billing-run burst keeps the mirror stale.

    .venv/bin/python bench/events.py [--customers 2500] [--mode test|live] \
        [--backend thread|command] [--latency 0.2] [--new-customers] [--json]

A stand-in Stripe on 127.0.0.1 (``bench/_events_stripe.py``) answers each retrieve after
``--latency`` seconds and enforces the account rate limit (25 requests/s in test mode, 100
live; ``429 rate_limit`` beyond). A monthly billing run sends, per customer, 8 events over 4
objects (invoice created/finalized/paid/payment_succeeded, payment_intent created/succeeded,
charge succeeded, subscription updated). The burst is delivered, signed, through the
library's webhook endpoint (the WSGI application called in-process), on PostgreSQL
(``BENCH_PG_NAME=bench_events`` on 127.0.0.1:5432, dropped and created), then drained:

- ``thread``: the default backend, processing while the burst is delivered;
- ``command``: the burst stored first (``manual``), then ``manage.py stripe_process_events``;
- ``celery``: ``EVENT_BACKEND = "celery"`` with one Celery worker of 4 processes (Redis on
  127.0.0.1:6379, database 14), draining while the burst is delivered.

It reports the drain time (first delivery to last event succeeded), events/s, Stripe requests
per event, 429 answers, failed events, peak memory, and the ratio of the drain time to the
bound: the distinct objects to fetch divided by Stripe's allowed requests per second. With
``--new-customers`` the customers are not mirrored beforehand (one more object each).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import urllib.request
from typing import Any

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ours_site.settings")
os.environ.setdefault("BENCH_DB", "postgres")
os.environ.setdefault("BENCH_PG_NAME", "bench_events")

from _common import drop_database, prepare_database, sign  # noqa: E402
from _events_stripe import build  # noqa: E402

SECRET = "whsec_bench"
PATH = "/stripe/webhook/"
RATES = {"test": 25.0, "live": 100.0}
SHAPE = [
    ("invoice.created", "invoices"),
    ("invoice.finalized", "invoices"),
    ("payment_intent.created", "payment_intents"),
    ("payment_intent.succeeded", "payment_intents"),
    ("charge.succeeded", "charges"),
    ("invoice.paid", "invoices"),
    ("invoice.payment_succeeded", "invoices"),
    ("customer.subscription.updated", "subscriptions"),
]


def start_stripe(rate: float, latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            os.path.join(BENCH_DIR, "_events_stripe.py"),
            "--rate",
            str(rate),
            "--latency",
            str(latency),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = proc.stdout.readline().strip()
    if not port.isdigit():
        proc.kill()
        raise SystemExit(f"the stand-in Stripe did not start ({port!r})")
    return proc, f"http://127.0.0.1:{port}"


def start_celery(config: dict[str, Any]) -> subprocess.Popen[bytes]:
    """One Celery worker of 4 processes on the bench site, sharing this run's settings."""
    import redis

    redis.Redis.from_url("redis://127.0.0.1:6379/14").flushdb()
    env = {**os.environ, "BENCH_STRIPE_CONFIG": json.dumps(config), "PYTHONPATH": BENCH_DIR}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "ours_site.celery_app",
            "worker",
            "--concurrency",
            "4",
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=BENCH_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    from ours_site.celery_app import app

    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if worker.poll() is not None or time.monotonic() > deadline:
            stop(worker)
            raise SystemExit("the Celery worker did not start")
    return worker


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(10)


def stripe_stats(base: str) -> dict[str, int]:
    with urllib.request.urlopen(base + "/__stats", timeout=10) as response:
        return dict(json.loads(response.read()))


def bodies(customers: int, livemode: bool) -> list[bytes]:
    """The burst: 8 events per customer, over its 4 objects, in Stripe's order."""
    out = []
    created = 1764547200
    for n in range(customers):
        for i, (event_type, kind) in enumerate(SHAPE):
            obj = {**build(kind, n), "livemode": livemode}
            created += 1
            event = {
                "id": f"evt_b{n}_{i}",
                "object": "event",
                "api_version": "2026-10-28.endive",
                "created": created,
                "data": {"object": obj},
                "livemode": livemode,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": event_type,
            }
            out.append(json.dumps(event).encode())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2500)
    parser.add_argument("--mode", choices=sorted(RATES), default="test")
    parser.add_argument("--backend", choices=["thread", "command", "celery"], default="thread")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--new-customers", action="store_true")
    parser.add_argument(
        "--limit-share",
        type=float,
        default=0.9,
        help="RATE_LIMIT as a share of Stripe's rate (default 0.9, as the library's 90/22)",
    )
    parser.add_argument(
        "--reserved", type=float, default=0.2, help="RATE_LIMIT_RESERVED_SHARE (default 0.2)"
    )
    parser.add_argument("--batch-size", type=int, default=100, help="EVENT_BATCH_SIZE")
    parser.add_argument("--workers", type=int, default=1, help="EVENT_WORKER_THREADS")
    parser.add_argument("--json", action="store_true", help="print one line of JSON")
    args = parser.parse_args()

    rate = RATES[args.mode]
    proc, base = start_stripe(rate, args.latency)
    os.environ["BENCH_API_BASE"] = base
    try:
        prepare_database()
        try:
            result = run(args, base, rate)
        finally:
            from django.db import connections

            connections.close_all()
            drop_database()
    finally:
        proc.terminate()
        proc.wait(10)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    return 0


def run(args: argparse.Namespace, base: str, rate: float) -> dict[str, Any]:
    import django

    django.setup()
    from _common import call_wsgi, make_environ
    from django.core.management import CommandError, call_command
    from django.core.wsgi import get_wsgi_application
    from django.db.models import Q
    from django.test import override_settings

    call_command("migrate", verbosity=0, interactive=False)
    from stripe_integrations.models import Event, EventStatus
    from stripe_integrations.sync import sync_customers
    from stripe_integrations.webhooks.backends import thread_backend

    if not args.new_customers:
        sync_customers([build("customers", n) for n in range(args.customers)], returning=False)
    burst = bodies(args.customers, livemode=args.mode == "live")
    config: dict[str, Any] = {
        "API_KEY": "sk_test_benchOnlyNotARealKey000000000",
        "WEBHOOK_SECRETS": [SECRET],
        "API_BASE": base,
        "EVENT_BACKEND": {"thread": "thread", "command": "manual", "celery": "celery"}[
            args.backend
        ],
        "RATE_LIMIT": {args.mode: rate * args.limit_share},
        "RATE_LIMIT_RESERVED_SHARE": args.reserved,
        "EVENT_BATCH_SIZE": args.batch_size,
        "EVENT_WORKER_THREADS": args.workers,
    }
    if args.mode == "live":
        config["API_KEY"] = "sk_live_benchOnlyNotARealKey000000000"
    if args.backend == "celery":
        config["RATE_LIMIT_REDIS_URL"] = "redis://127.0.0.1:6379/14"
    worker = start_celery(config) if args.backend == "celery" else None
    app = get_wsgi_application()
    try:
        with override_settings(STRIPE_CONFIG=config):
            start = time.perf_counter()
            statuses = []
            for body in burst:
                signature = sign(SECRET, body, int(time.time()))
                statuses.append(
                    call_wsgi(app, make_environ("/stripe/webhook/", body, signature))[0]
                )
            delivered = time.perf_counter() - start
            if args.backend == "command":
                start = time.perf_counter()  # the drain starts once the burst is stored
                try:
                    call_command("stripe_process_events", verbosity=0, stdout=open(os.devnull, "w"))
                except CommandError:  # some events failed: counted below
                    pass
            elif args.backend == "thread":
                thread_backend().join(timeout=24 * 3600)
            else:
                # Until every event succeeded or failed for good (no retry scheduled).
                waiting = Q(status__in=[EventStatus.PENDING, EventStatus.PROCESSING]) | Q(
                    status=EventStatus.FAILED, next_attempt_at__isnull=False
                )
                while Event.objects.filter(waiting).exists():
                    time.sleep(0.2)
            drain = time.perf_counter() - start
    finally:
        if worker is not None:
            stop(worker)
    counts = dict(Event.objects.values_list("status").annotate(n=django.db.models.Count("pk")))
    stats = stripe_stats(base)
    objects = 4 * args.customers + (args.customers if args.new_customers else 0)
    bound = objects / rate
    events = len(burst)
    succeeded = counts.get(EventStatus.SUCCEEDED, 0)
    failed = counts.get(EventStatus.FAILED, 0)
    return {
        "backend": args.backend,
        "mode": f"{args.mode} ({rate:.0f} requests/s, {args.latency * 1000:.0f} ms a retrieve)",
        "settings": f"RATE_LIMIT {rate * args.limit_share:g}, reserved {args.reserved:g}, "
        f"batch {args.batch_size}, worker threads {args.workers}",
        "events": events,
        "distinct_objects": objects,
        "delivery_seconds": round(delivered, 1),
        "delivery_non_2xx": sum(1 for s in statuses if s >= 300),
        "drain_seconds": round(drain, 1),
        "events_per_second": round(events / drain, 1),
        "bound_seconds": round(bound, 1),
        "drain_over_bound": round(drain / bound, 2),
        "stripe_requests_per_event": round(stats.get("ok", 0) / events, 3),
        "answers_429": stats.get("429", 0),
        "events_succeeded": succeeded,
        "events_failed": failed,
        "events_other": events - succeeded - failed,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


if __name__ == "__main__":
    sys.exit(main())
