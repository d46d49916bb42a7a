"""django-stripe-integrations' side of the webhook benchmark. Runs in the project's ``.venv``.

Started by ``bench/webhooks.py``; prints one line of JSON. With ``EVENT_BACKEND = "manual"``
the view verifies the signature, stores the event as pending and answers; processing is
deferred (``manage.py stripe_process_events``) and not measured here. The library's API base
points at the same local stand-in Stripe as dj-stripe's, which counts calls: there should
be none.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from importlib.metadata import version

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ours_site.settings")

from _common import (
    FakeStripe,
    api_calls,
    count_queries,
    deliver,
    drop_database,
    emit,
    load_bodies,
    measured_concurrency,
    prepare_database,
    summarize,
)

SECRET = "whsec_bench"
PATH = "/stripe/webhook/"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", required=True)
    parser.add_argument("--warmup", required=True)
    parser.add_argument("--probe-seen", required=True)
    parser.add_argument("--probe-new", required=True)
    parser.add_argument("--customers", required=True)
    args = parser.parse_args()

    prepare_database()  # our migrations change while the library is written: run them each time
    fake = FakeStripe(args.customers)
    os.environ["BENCH_API_BASE"] = fake.base  # read by ours_site.settings
    try:
        return run(args, fake)
    finally:
        fake.stop()
        drop_database()


def run(args: argparse.Namespace, fake: FakeStripe) -> int:
    import django

    django.setup()
    import stripe
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    stripe.api_base = fake.base  # belt and braces: the library sets its own client's base

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrate_s = time.perf_counter() - t0

    from stripe_integrations.conf import get_config
    from stripe_integrations.models import Event

    config = get_config()
    assert config.event_backend == "manual", config.event_backend
    app = get_wsgi_application()

    warm = load_bodies(args.warmup)
    _, warm_status, warm_fail = deliver(app, PATH, SECRET, warm)
    warm_stats = fake.stats()

    bodies = load_bodies(args.events)
    fake.reset()
    t0 = time.perf_counter()
    latencies, statuses, failures = deliver(
        app, PATH, SECRET, bodies, concurrency=measured_concurrency()
    )
    wall = time.perf_counter() - t0
    measured_api = fake.stats()
    result = summarize(latencies, wall, statuses)
    result["api_calls"] = api_calls(measured_api)
    result["api_calls_per_event"] = api_calls(measured_api) / len(bodies)
    result["api_calls_by_route"] = {**measured_api["counts"], **measured_api["unhandled"]}
    result["failures_sample"] = [(s, c.decode("utf-8", "replace")) for s, c in failures]

    # Off the clock: SQL statements and API calls per delivery, by case.
    probes = {}
    cases = [
        ("seen_customer", load_bodies(args.probe_seen)),
        ("new_customer", load_bodies(args.probe_new)),
        ("duplicate", bodies[:50]),
    ]
    for name, probe_bodies in cases:
        fake.reset()
        queries, (_, probe_status, _) = count_queries(
            lambda b=probe_bodies: deliver(app, PATH, SECRET, b)
        )
        stats = fake.stats()
        probes[name] = {
            "events": len(probe_bodies),
            "queries_per_event": queries / len(probe_bodies),
            "api_calls_per_event": api_calls(stats) / len(probe_bodies),
            "status_counts": {str(k): v for k, v in probe_status.items()},
        }
    result["probes"] = probes

    distinct = len(warm) + len(bodies) + probes["seen_customer"]["events"]
    distinct += probes["new_customer"]["events"]
    by_status = {}
    for status in Event.objects.values_list("status", flat=True).distinct():
        by_status[status] = Event.objects.filter(status=status).count()
    result["rows"] = {
        "deliveries": distinct + probes["duplicate"]["events"],
        "distinct_events": distinct,
        "events_stored": Event.objects.count(),
        "events_by_status": by_status,
    }
    result["warmup"] = {
        "events": len(warm),
        "status_counts": {str(k): v for k, v in warm_status.items()},
        "api_calls": api_calls(warm_stats),
        "failures_sample": [(s, c.decode("utf-8", "replace")) for s, c in warm_fail],
    }
    result["migrate_seconds"] = migrate_s
    result["versions"] = {
        "django-stripe-integrations": version("django-stripe-integrations"),
        "django": django.get_version(),
        "stripe": stripe.VERSION,
        "python": sys.version.split()[0],
    }
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
