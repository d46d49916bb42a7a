"""dj-stripe 2.11's side of ``bench/ingest.py``. Runs inside ``bench/.venv-djstripe``.

dj-stripe has no bulk backfill of its own: its ``djstripe_sync_models`` command lists each
model and calls ``sync_from_stripe_data`` once per object. This side does the same on the
same generated objects (served by the same in-memory Stripe for the objects it fetches by
id), minus the list requests. Prints one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peers.djstripe_site.settings")

from _backfill_data import ConnectionReset, Dataset, GeneratedStripe
from _common import prepare_database, save_template
from _djstripe import template_name


class PeakRSS:
    """Peak resident set size growth, sampled in a thread."""

    def __init__(self) -> None:
        self.start = self.peak = self.current()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def current() -> int:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.current())

    def __enter__(self) -> PeakRSS:
        self.start = self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--subscriptions", type=int, required=True)
    parser.add_argument("--invoices", type=int, default=0)
    parser.add_argument("--start", type=int, required=True)
    args = parser.parse_args()

    needs_migrate = prepare_database(template_name())
    import django

    django.setup()
    import stripe
    from django.conf import settings as django_settings
    from django.core.management import call_command
    from django.db import connection

    if needs_migrate:
        call_command("migrate", verbosity=0, interactive=False)
        save_template(template_name())

    from djstripe.models import Customer, Invoice, Price, Product, Subscription

    counts = {
        "customer": args.customers,
        "subscription": args.subscriptions,
        "invoice": args.invoices,
    }
    dataset = Dataset(counts, start=args.start, per_second=4)
    server = GeneratedStripe(dataset)

    class Client(stripe.HTTPClient):
        name = "bench_generated_stripe"

        def request(self, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
            try:
                return server.serve(method, url)
            except ConnectionReset as exc:
                raise stripe.APIConnectionError(str(exc), should_retry=True) from exc

        def close(self) -> None:
            pass

    stripe.default_http_client = Client()
    stripe.max_network_retries = 0
    stripe.api_key = django_settings.STRIPE_TEST_SECRET_KEY

    def as_stripe(obj: dict[str, Any]) -> Any:
        """What dj-stripe's sync receives from stripe-python: a StripeObject tree."""
        return stripe.StripeObject.construct_from(obj, stripe.api_key)

    statements = [0]

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements[0] += 1
        return execute(sql, params, many, context)

    plan = [
        ("product", Product, 5),
        ("price", Price, 10),
        ("customer", Customer, args.customers),
        ("subscription", Subscription, args.subscriptions),
        ("invoice", Invoice, args.invoices),
    ]
    per_kind: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    started = time.perf_counter()
    with PeakRSS() as rss, connection.execute_wrapper(count):
        for kind, model, n in plan:
            t0 = time.perf_counter()
            done = 0
            for i in range(n):
                try:
                    model.sync_from_stripe_data(as_stripe(dataset.build(kind, i)))
                    done += 1
                except Exception as exc:  # dj-stripe may not read this API version's shape
                    errors.setdefault(kind, f"{type(exc).__name__}: {exc}"[:300])
                    break
            seconds = time.perf_counter() - t0
            per_kind.append({"kind": kind, "objects": done, "seconds": seconds})
    wall = time.perf_counter() - started
    objects = sum(p["objects"] for p in per_kind if p["kind"] in counts)
    seconds = sum(p["seconds"] for p in per_kind if p["kind"] in counts)
    result = {
        "side": "dj-stripe",
        "db": connection.vendor,
        "objects": objects,
        "seconds": seconds,
        "wall_seconds": wall,
        "objects_per_s": objects / seconds if seconds else 0.0,
        "statements": statements[0],
        "statements_per_1000": 1000 * statements[0] / max(1, objects),
        "rss_growth_mb": (rss.peak - rss.start) / 2**20,
        "api_requests": server.counts["requests"],
        "per_kind": per_kind,
        "errors": errors,
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
