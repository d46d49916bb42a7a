"""dj-stripe 2.11's side of the webhook benchmark. Runs inside ``bench/.venv-djstripe``.

Started by ``bench/webhooks.py``; prints one line of JSON. dj-stripe processes each event
inside the request (``WebhookEventTrigger.from_request``: store the trigger, verify the
signature, create the ``Event``, run its ``customer.updated`` handler, which re-fetches the
customer from Stripe and syncs it). Stripe's API is a local stand-in (``_fake_stripe.py``,
127.0.0.1, in a child process) that counts the calls.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peers.djstripe_site.settings")

from importlib.metadata import version

from _common import (
    BENCH_DIR,
    FakeStripe,
    api_calls,
    count_queries,
    deliver,
    drop_database,
    emit,
    load_bodies,
    measured_concurrency,
    prepare_database,
    save_template,
    summarize,
)

SECRET = "whsec_djstripe_bench"
API_VERSION = "2026-10-28.endive"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", required=True)
    parser.add_argument("--warmup", required=True)
    parser.add_argument("--probe-seen", required=True)
    parser.add_argument("--probe-new", required=True)
    parser.add_argument("--customers", required=True)
    args = parser.parse_args()

    needs_migrate = prepare_database(template_name())
    fake = FakeStripe(args.customers)
    try:
        return run(args, fake, needs_migrate)
    finally:
        fake.stop()
        drop_database()


def template_name() -> str:
    """Where the migrated empty database is cached: dj-stripe's ~50 s of migrations run once."""
    tag = f"djstripe_{version('dj-stripe')}_django_{version('django')}".replace(".", "_")
    if os.environ.get("BENCH_DB", "sqlite") == "postgres":
        return f"bench_tpl_{tag}"
    return os.path.join(BENCH_DIR, ".venv-djstripe", f"bench-template-{tag}.sqlite3")


def run(args: argparse.Namespace, fake: FakeStripe, needs_migrate: bool) -> int:
    import django

    django.setup()
    import stripe
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    stripe.api_base = fake.base  # never the internet
    stripe.max_network_retries = 0

    t0 = time.perf_counter()
    if needs_migrate:
        call_command("migrate", verbosity=0, interactive=False)
        save_template(template_name())
    migrate_s = time.perf_counter() - t0

    from djstripe.apps import __version__ as djstripe_version
    from djstripe.models import Customer, Event, WebhookEndpoint, WebhookEventTrigger

    # What `WebhookEndpoint` would hold after being created through Stripe's API (or synced):
    # made directly, so no API call. 2.11 routes by this row's djstripe_uuid and checks
    # the signature against its `secret`.
    endpoint = WebhookEndpoint.objects.create(
        id="we_1BenchDjstripe0000",
        livemode=False,
        api_version=API_VERSION,
        enabled_events=["*"],
        secret=SECRET,
        status="enabled",
        url="http://127.0.0.1:8000/stripe/webhook/",
        djstripe_validation_method="verify_signature",
    )
    path = f"/stripe/webhook/{endpoint.djstripe_uuid}/"
    app = get_wsgi_application()

    warm = load_bodies(args.warmup)
    _, warm_status, warm_fail = deliver(app, path, SECRET, warm)
    warm_stats = fake.stats()

    bodies = load_bodies(args.events)
    fake.reset()
    t0 = time.perf_counter()
    latencies, statuses, failures = deliver(
        app, path, SECRET, bodies, concurrency=measured_concurrency()
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
            lambda b=probe_bodies: deliver(app, path, SECRET, b)
        )
        stats = fake.stats()
        probes[name] = {
            "events": len(probe_bodies),
            "queries_per_event": queries / len(probe_bodies),
            "api_calls_per_event": api_calls(stats) / len(probe_bodies),
            "status_counts": {str(k): v for k, v in probe_status.items()},
        }
    result["probes"] = probes

    delivered = len(warm) + len(bodies) + sum(p["events"] for p in probes.values())
    triggers = WebhookEventTrigger.objects
    result["rows"] = {
        "deliveries": delivered,
        "webhook_event_triggers": triggers.count(),
        "triggers_valid_processed_no_exception": triggers.filter(
            valid=True, processed=True, exception=""
        ).count(),
        "triggers_with_exception": triggers.exclude(exception="").count(),
        "events": Event.objects.count(),
        "customers": Customer.objects.count(),
    }
    sample_exc = list(triggers.exclude(exception="").values_list("exception", flat=True)[:3])
    result["exceptions_sample"] = sample_exc
    result["warmup"] = {
        "events": len(warm),
        "status_counts": {str(k): v for k, v in warm_status.items()},
        "api_calls": api_calls(warm_stats),
        "failures_sample": [(s, c.decode("utf-8", "replace")) for s, c in warm_fail],
    }
    result["migrate_seconds"] = migrate_s
    result["migrated_from_scratch"] = needs_migrate
    result["versions"] = {
        "dj-stripe": djstripe_version,
        "django": django.get_version(),
        "stripe": stripe.VERSION,
        "python": sys.version.split()[0],
    }
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
