"""Backfill under faults: 10% of requests fail, the process is killed with -9 halfway, and
``--resume`` finishes the job. Every object must end up present exactly once.

    .venv/bin/python bench/faults.py [--customers N] [--subscriptions N] [--db sqlite|postgres]
                                     [--failure-rate 0.1] [--latency 0.02] [--writers 2] [--json]

The generated Stripe (in each child process, identical data) answers after ``--latency``
seconds, refuses more than 100 requests/s with 429, and fails ``--failure-rate`` of the
requests at random: a third 429, a third 500, a third a dropped connection. The first
``manage.py stripe_sync customers subscriptions`` child is killed with SIGKILL once half the
objects are written; a second child runs ``stripe_sync ... --resume``. Then every row is
checked against the generated account: all ids present, none twice, no other row, every
checkpoint done.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
PYTHON = os.path.join(REPO_DIR, ".venv", "bin", "python")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--failure-rate", type=float, default=0.1)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--rate", type=float, default=90.0)
    parser.add_argument("--writers", type=int, default=2, help="stripe_sync --writers")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="bench-faults-")
    env = {
        **os.environ,
        "BENCH_DB": args.db,
        "BENCH_PG_NAME": os.environ.get("BENCH_PG_NAME", "bench_faults"),
        "BENCH_SQLITE_PATH": os.path.join(tmp, "faults.sqlite3"),
        "PYTHONPATH": os.pathsep.join([BENCH_DIR, os.path.join(REPO_DIR, "src")]),
    }
    os.environ.update({k: env[k] for k in ("BENCH_DB", "BENCH_PG_NAME", "BENCH_SQLITE_PATH")})
    sys.path.insert(0, BENCH_DIR)
    from _backfill_common import Dataset, setup_django

    setup_django(fresh=True)  # the children share this database
    from django.db import connection
    from django.db.models import Sum

    from stripe_integrations.models import Customer, Subscription, SubscriptionItem, SyncCheckpoint

    total = args.customers + args.subscriptions
    start = int(time.time()) - max(args.customers, args.subscriptions) // 4 - 3600
    child = [
        PYTHON,
        os.path.join(BENCH_DIR, "_backfill_faults_child.py"),
        f"--customers={args.customers}",
        f"--subscriptions={args.subscriptions}",
        f"--start={start}",
        f"--failure-rate={args.failure_rate}",
        f"--latency={args.latency}",
        f"--rate={args.rate}",
        f"--writers={args.writers}",
    ]
    log = open(os.path.join(tmp, "children.log"), "w+", encoding="utf-8")

    def written() -> int:
        customers = Customer.objects.count()
        subscriptions = Subscription.objects.count()
        connection.close()
        return customers + subscriptions

    # 1. Run, and kill -9 halfway.
    t0 = time.perf_counter()
    first = subprocess.Popen(child, cwd=BENCH_DIR, env=env, stdout=subprocess.PIPE, stderr=log)
    killed_at = None
    while first.poll() is None:
        done = written()
        if done >= total // 2:
            os.kill(first.pid, signal.SIGKILL)
            killed_at = done
            break
        time.sleep(0.05)
    first.wait()
    first_s = time.perf_counter() - t0
    if killed_at is None:
        print("the first run ended before it could be killed: use more objects", file=sys.stderr)
        return 1
    after_kill = written()
    committed = SyncCheckpoint.objects.aggregate(n=Sum("objects_synced"))["n"] or 0
    pending = SyncCheckpoint.objects.filter(done=False).count()

    # 2. Resume.
    t1 = time.perf_counter()
    second = subprocess.run(
        [*child, "--resume"], cwd=BENCH_DIR, env=env, capture_output=True, text=True, check=False
    )
    resume_s = time.perf_counter() - t1
    log.write(second.stderr)
    if second.returncode != 0:
        log.seek(0)
        print(log.read()[-4000:], file=sys.stderr)
        return second.returncode
    resumed = json.loads(second.stdout.strip().splitlines()[-1])

    # 3. Check every row against the generated account.
    dataset = Dataset({"customer": args.customers, "subscription": args.subscriptions}, start=start)
    checks: dict[str, Any] = {}
    for kind, model, count in (
        ("customer", Customer, args.customers),
        ("subscription", Subscription, args.subscriptions),
    ):
        expected = {dataset.object_id(kind, i) for i in range(count)}
        ids = list(model.objects.values_list("stripe_id", flat=True))
        checks[kind] = {
            "expected": count,
            "rows": len(ids),
            "distinct": len(set(ids)),
            "missing": len(expected - set(ids)),
            "unexpected": len(set(ids) - expected),
        }
    items_expected = sum(1 + i % 2 for i in range(args.subscriptions))
    checks["subscription_item"] = {
        "expected": items_expected,
        "rows": SubscriptionItem.objects.count(),
    }
    all_done = not SyncCheckpoint.objects.filter(done=False).exists()
    exactly_once = all_done and all(
        c["rows"] == c["expected"]
        and c.get("distinct", c["rows"]) == c["rows"]
        and not c.get("missing")
        and not c.get("unexpected")
        for c in checks.values()
    )
    report = {
        "db": args.db,
        "objects": total,
        "failure_rate": args.failure_rate,
        "killed_with_sigkill_at_rows": killed_at,
        "rows_after_kill": after_kill,
        "rows_recorded_by_checkpoints_after_kill": committed,
        "slices_unfinished_after_kill": pending,
        "first_run_s": first_s,
        "resume_run_s": resume_s,
        "resume_server_counts": resumed["server"],
        "resume_summary": resumed["summary"],
        "checks": checks,
        "all_checkpoints_done": all_done,
        "every_object_exactly_once": exactly_once,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{total:,} objects ({args.customers:,} customers, {args.subscriptions:,} "
            f"subscriptions), {args.failure_rate:.0%} of requests failing, {args.db}"
        )
        print(
            f"run 1: killed with SIGKILL after {first_s:.1f}s at {killed_at:,} rows "
            f"({committed:,} recorded by checkpoints, {pending} slices unfinished)"
        )
        counts = resumed["server"]
        print(
            f"run 2 (--resume): {resume_s:.1f}s, {counts.get('requests', 0):,} requests, "
            f"injected {counts.get('injected_429', 0)} x 429, {counts.get('injected_500', 0)} "
            f"x 500, {counts.get('injected_reset', 0)} resets"
        )
        for line in resumed["summary"]:
            print(f"  {line}")
        for kind, check in checks.items():
            print(f"  {kind}: {json.dumps(check)}")
        print(f"every object present exactly once: {'YES' if exactly_once else 'NO'}")
    return 0 if exactly_once else 1


if __name__ == "__main__":
    sys.exit(main())
