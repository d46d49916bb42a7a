"""Backfill wall time against a slow, rate-limited Stripe.

    .venv/bin/python bench/latency.py [--customers N | --full] [--mode test|live|both]
                                      [--latency 0.2] [--db none|sqlite|postgres] [--json]

A simulated Stripe (in memory, this process) answers each request after ``--latency``
seconds (200 ms) and refuses more than Stripe's per-account limit with 429 (25 requests/s in
test mode, 100 live). ``stripe_sync customers`` lists ``--customers`` customers (20,000 by
default; 50,000 with ``--full``) within the library's default rate (22/s test, 90/s live).

Reported per mode:

- the bound: pages / allowed requests per second (our rate; Stripe's limit beside it);
- the sliced run (workers from the rate) as a multiple of the bound (target <= 1.25);
- a single cursor chain (one worker) on the same data, and the speed-up over it.

``--db none`` (default) runs ``--dry-run`` (fetch only); ``sqlite``/``postgres`` also write
every page (``bench_latency`` database on 127.0.0.1:5432, role postgres), which adds the
writer's time when it is slower than the rate limit.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from typing import Any

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
sys.path.insert(0, os.path.join(os.path.dirname(BENCH_DIR), "src"))

STRIPE_LIMITS = {"test": 25.0, "live": 100.0}


def run_once(
    mode: str, customers: int, latency: float, workers: int | None, dry_run: bool, start: int
) -> dict[str, Any]:
    from _backfill_common import Dataset, GeneratedStripe, bench_client

    from stripe_integrations.backfill import SyncSettings, run_sync
    from stripe_integrations.ratelimit import DEFAULT_RATES, DEFAULT_RESERVED_SHARE

    server = GeneratedStripe(
        Dataset({"customer": customers}, start=start, per_second=4),
        latency=latency,
        rate_limit=STRIPE_LIMITS[mode],
    )
    rate = DEFAULT_RATES[mode]
    settings = SyncSettings(
        client=bench_client(server), rate=rate, workers=workers, dry_run=dry_run
    )
    t0 = time.perf_counter()
    [stats] = run_sync(["customers"], settings)
    wall = time.perf_counter() - t0
    assert stats.objects == customers, (stats.objects, customers)
    pages = math.ceil(customers / 100)
    return {
        "mode": mode,
        "workers": settings.effective_workers(),
        "wall_s": wall,
        "pages_needed": pages,
        "requests": server.counts["requests"],
        "answered_429": server.counts["429_rate_limit"],
        "slices": stats.slices,
        # The backfill is background work: it leaves the reserved share to interactive calls.
        "rate": rate * (1 - DEFAULT_RESERVED_SHARE),
        "bound_s": pages / (rate * (1 - DEFAULT_RESERVED_SHARE)),
        "stripe_bound_s": pages / STRIPE_LIMITS[mode],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--full", action="store_true", help="50,000 customers")
    parser.add_argument("--mode", choices=("test", "live", "both"), default="both")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--db", choices=("none", "sqlite", "postgres"), default="none")
    parser.add_argument("--skip-single", action="store_true", help="no single-chain run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    customers = 50_000 if args.full else args.customers

    os.environ["BENCH_DB"] = "postgres" if args.db == "postgres" else "sqlite"
    os.environ.setdefault("BENCH_PG_NAME", "bench_latency")
    tmp = tempfile.mkdtemp(prefix="bench-latency-")
    os.environ.setdefault("BENCH_SQLITE_PATH", os.path.join(tmp, "latency.sqlite3"))
    from _backfill_common import setup_django

    setup_django(fresh=args.db != "none")
    start = int(time.time()) - customers // 4 - 3600

    modes = ["test", "live"] if args.mode == "both" else [args.mode]
    results = []
    for mode in modes:
        sliced = run_once(mode, customers, args.latency, None, args.db == "none", start)
        single = None
        if not args.skip_single:
            single = run_once(mode, customers, args.latency, 1, args.db == "none", start)
        results.append({"sliced": sliced, "single_chain": single})

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    what = "fetch only (--dry-run)" if args.db == "none" else f"fetch and write ({args.db})"
    print(
        f"{customers:,} customers, {args.latency * 1000:.0f} ms a page, {what}; "
        f"Stripe's limit: 25 req/s test, 100 live"
    )
    for entry in results:
        s, one = entry["sliced"], entry["single_chain"]
        print(
            f"\n[{s['mode']} mode] our rate {s['rate']:.0f} req/s, {s['workers']} workers, "
            f"{s['pages_needed']} pages"
        )
        print(
            f"  bound (pages / our rate):       {s['bound_s']:7.1f} s   "
            f"(pages / Stripe's limit: {s['stripe_bound_s']:.1f} s)"
        )
        print(
            f"  sliced run:                     {s['wall_s']:7.1f} s   = "
            f"{s['wall_s'] / s['bound_s']:.2f} x bound (target <= 1.25); "
            f"{s['requests']} requests, {s['slices']} slices, {s['answered_429']} answered 429"
        )
        if one:
            print(
                f"  single cursor chain:            {one['wall_s']:7.1f} s   "
                f"-> sliced is {one['wall_s'] / s['wall_s']:.1f} x faster"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
