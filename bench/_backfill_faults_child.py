"""One ``manage.py stripe_sync`` run of ``bench/faults.py`` (the project's ``.venv``), against
the generated Stripe failing ``--failure-rate`` of its requests. Prints one line of JSON at
the end (when it is not killed first)."""

from __future__ import annotations

import argparse
import io
import json
import sys
import time

from _backfill_common import Dataset, GeneratedStripe, bench_http_client, setup_django


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--subscriptions", type=int, required=True)
    parser.add_argument("--start", type=int, required=True)
    parser.add_argument("--failure-rate", type=float, default=0.1)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--rate", type=float, default=90.0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--writers", type=int, default=2)
    args = parser.parse_args()

    setup_django(fresh=False)
    from django.core.management import call_command

    from stripe_integrations.client import override_http_client

    dataset = Dataset(
        {"customer": args.customers, "subscription": args.subscriptions},
        start=args.start,
        per_second=4,
    )
    server = GeneratedStripe(
        dataset, latency=args.latency, rate_limit=100.0, failure_rate=args.failure_rate
    )
    out = io.StringIO()
    command = ["stripe_sync", "customers", "subscriptions", "--rate", str(args.rate)]
    command.append(f"--writers={args.writers}")
    if args.resume:
        command.append("--resume")
    started = time.perf_counter()
    with override_http_client(bench_http_client(server)):
        call_command(*command, stdout=out, stderr=sys.stderr)
    result = {
        "seconds": time.perf_counter() - started,
        "summary": out.getvalue().strip().splitlines(),
        "server": dict(server.counts),
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
