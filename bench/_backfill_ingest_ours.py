"""Our side of ``bench/ingest.py`` (the project's ``.venv``): ``run_sync`` over a generated
account served from memory, into the benchmark database. Prints one line of JSON."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
import tracemalloc
from typing import Any

from _backfill_common import (
    GeneratedStripe,
    PeakRSS,
    StatementCounter,
    bench_client,
    dataset_for,
    setup_django,
)


def start_server_process(args: Any) -> tuple[subprocess.Popen[str], Any]:
    """``_backfill_server.py`` on a free port of 127.0.0.1, and a client configured as the
    library's factory builds it (stripe-python's requests client), pointed at it."""
    import stripe

    from stripe_integrations.conf import get_config

    command = [sys.executable, "_backfill_server.py", f"--scale={args.scale}"]
    command += [f"--start={args.start}"] + (["--invoices"] if args.invoices else [])
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    port = int(child.stdout.readline().split()[1])
    config = get_config()  # what build_client() uses, with the server's address
    return child, stripe.StripeClient(
        config.api_key or "sk_test_bench",
        stripe_version=config.api_version,
        base_addresses={"api": f"http://127.0.0.1:{port}"},
        max_network_retries=config.max_network_retries,
        http_client=stripe.RequestsClient(timeout=config.timeout),
    )


def stop_server_process(child: subprocess.Popen[str]) -> int:
    """Stop the server by its PID; the number of requests it answered."""
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=30)
    return int(out.split()[-1]) if out.strip() else -1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--writers", type=int, default=1)
    parser.add_argument("--invoices", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--start", type=int)
    parser.add_argument(
        "--server",
        choices=("process", "inprocess"),
        default="process",
        help="the generated Stripe in its own process over HTTP on 127.0.0.1 (as Stripe is), "
        "or called in this process without HTTP",
    )
    args = parser.parse_args()

    setup_django()
    from django.db import connection

    from stripe_integrations.backfill import SyncSettings, get_resource, run_sync
    from stripe_integrations.backfill.run import effective_writers
    from stripe_integrations.models import (
        Customer,
        Invoice,
        InvoiceLineItem,
        Price,
        Subscription,
        SubscriptionItem,
    )

    dataset = dataset_for(args.scale, invoices=args.invoices, start=args.start)
    resources = ["customers", "subscriptions"] + (["invoices"] if args.invoices else [])
    child = None
    if args.server == "process":
        child, client = start_server_process(args)
    else:
        server = GeneratedStripe(dataset)
        client = bench_client(server)
    settings = SyncSettings(client=client, rate=1e9, workers=args.workers, writers=args.writers)
    counter = StatementCounter()
    if args.tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    with PeakRSS() as rss, counter:
        stats = run_sync(resources, settings)
    wall = time.perf_counter() - started
    requests = stop_server_process(child) if child else server.counts["requests"]
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
    rows = {
        "customers": Customer.objects.count(),
        "subscriptions": Subscription.objects.count(),
        "subscription_items": SubscriptionItem.objects.count(),
        "prices": Price.objects.count(),
        "invoices": Invoice.objects.count(),
        "invoice_lines": InvoiceLineItem.objects.count(),
    }
    objects = sum(s.objects for s in stats)
    expected = sum(dataset.counts.get(k, 0) for k in ("customer", "subscription", "invoice"))
    if objects != expected:
        raise SystemExit(f"synced {objects} objects, expected {expected}")
    result: dict[str, Any] = {
        "side": "ours",
        "db": connection.vendor,
        "objects": objects,
        "seconds": wall,
        "objects_per_s": objects / wall,
        "statements": counter.count,
        "statements_per_1000": 1000 * counter.count / max(1, objects),
        "rss_growth_mb": rss.growth_mb,
        "tracemalloc_peak_mb": traced_peak,
        "requests": requests,
        "server": args.server,
        "writers": effective_writers(get_resource("customers"), args.writers),
        "rows": rows,
        "per_resource": [
            {
                "resource": s.resource,
                "objects": s.objects,
                "pages": s.pages,
                "slices": s.slices,
                "seconds": s.seconds,
                "objects_per_s": s.rate,
            }
            for s in stats
        ],
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
