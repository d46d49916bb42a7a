"""Backfill ingest benchmark: ``stripe_sync`` against dj-stripe 2.11, side by side.

    .venv/bin/python bench/ingest.py [--scale 1.0] [--peer-scale 0.01] [--no-invoices]
                                     [--db postgres,sqlite] [--workers 2] [--writers 2]
                                     [--server process|inprocess] [--json]

A generated account served from memory with no latency (``bench/_backfill_data.py``):
100,000 customers, 100,000 subscriptions with 1-2 items each (prices embedded), 200,000
invoices with 1-2 lines each, times ``--scale``. Nothing leaves the machine. By default
(``--server process``) it is served by ``bench/_backfill_server.py`` in its own process over
HTTP/1.1 on 127.0.0.1, as Stripe is another machine: the syncing process pays for the
requests and the decoding, not for producing the JSON. ``--server inprocess`` calls it in
the syncing process instead (no HTTP; the generation then competes for the same GIL).

- Ours (``.venv``): ``run_sync(["customers", "subscriptions", "invoices"])``: the real
  command path (slicing, rate limiter at an unreachable rate, fetch through stripe-python,
  bulk upserts, checkpoints) into PostgreSQL (127.0.0.1:5432, role postgres, database
  ``bench_ingest``, dropped and created) and SQLite (a temporary file).
- dj-stripe 2.11 (``bench/.venv-djstripe``, created on first use): ``sync_from_stripe_data``
  once per object, as its ``djstripe_sync_models`` does, on the same generated objects
  (``--peer-scale`` of them: it is slow), into PostgreSQL ``bench_ingest_djstripe``. Its
  list requests are not made (in its favour).

Printed: objects/s, SQL statements per 1,000 objects (top-level objects: items and lines are
written too but not counted), peak RSS growth, and the ratio ours / dj-stripe in objects/s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
OURS_PYTHON = os.path.join(REPO_DIR, ".venv", "bin", "python")
PEER_PYTHON = os.path.join(BENCH_DIR, ".venv-djstripe", "bin", "python")
TIMEOUT_S = 4 * 3600


def run_side(python: str, script: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(
        [python, os.path.join(BENCH_DIR, script), *args],
        cwd=BENCH_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{script} failed ({proc.returncode})")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--peer-scale", type=float, default=0.01)
    parser.add_argument("--no-invoices", action="store_true")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--db", default="postgres,sqlite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--writers",
        type=int,
        default=2,
        help="our writers on PostgreSQL (stripe_sync --writers; SQLite always gets 1)",
    )
    parser.add_argument("--server", choices=("process", "inprocess"), default="process")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    invoices = not args.no_invoices
    # Every generated object must be older than the run (4 a second, invoices the most).
    newest = int((200_000 if invoices else 100_000) * max(args.scale, args.peer_scale))
    start = int(time.time()) - newest // 4 - 3600
    tmp = tempfile.mkdtemp(prefix="bench-ingest-")
    results: dict[str, Any] = {"ours": {}, "peer": None}
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        env = {
            "BENCH_DB": db,
            "BENCH_PG_NAME": "bench_ingest",
            "BENCH_SQLITE_PATH": os.path.join(tmp, "ours.sqlite3"),
            "PYTHONPATH": os.pathsep.join([BENCH_DIR, os.path.join(REPO_DIR, "src")]),
        }
        ours_args = [f"--scale={args.scale}", f"--workers={args.workers}", f"--start={start}"]
        ours_args.append(f"--writers={args.writers}")
        ours_args.append(f"--server={args.server}")
        if invoices:
            ours_args.append("--invoices")
        print(f"ours on {db} ...", file=sys.stderr)
        results["ours"][db] = run_side(OURS_PYTHON, "_backfill_ingest_ours.py", ours_args, env)
    if not args.no_peer:
        if not os.path.exists(PEER_PYTHON):
            from webhooks import ensure_peer_venv

            ensure_peer_venv()
        peer_args = [
            f"--customers={int(100_000 * args.peer_scale)}",
            f"--subscriptions={int(100_000 * args.peer_scale)}",
            f"--invoices={int(200_000 * args.peer_scale) if invoices else 0}",
            f"--start={start}",
        ]
        env = {"BENCH_DB": "postgres", "BENCH_PG_NAME": "bench_ingest_djstripe"}
        print("dj-stripe 2.11 on postgres ...", file=sys.stderr)
        results["peer"] = run_side(PEER_PYTHON, "_backfill_ingest_djstripe.py", peer_args, env)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_end": os.getloadavg(),
    }

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"\nbackfill ingest, generated account x {args.scale} "
        f"(dj-stripe x {args.peer_scale}), {os.cpu_count()} CPUs, "
        f"load average at the end {os.getloadavg()[0]:.1f}"
    )

    def label(db: str, r: dict[str, Any]) -> str:
        writers = r.get("writers", 1)
        return f"ours {db}, {writers} writer{'s' if writers > 1 else ''}"

    rows = [(label(db, r), r) for db, r in results["ours"].items()]
    name_width = max(24, *(len(n) + 2 for n, _ in rows))
    header = f"{'side':<{name_width}}{'objects':>10}{'seconds':>10}{'objects/s':>11}"
    header += f"{'stmts/1000':>12}{'peak RSS +MB':>14}"
    print(header)
    if results["peer"]:
        rows.append(("dj-stripe 2.11 postgres", results["peer"]))
    for name, r in rows:
        print(
            f"{name:<{name_width}}{r['objects']:>10,}{r['seconds']:>10.1f}{r['objects_per_s']:>11,.0f}"
            f"{r['statements_per_1000']:>12,.1f}{r['rss_growth_mb']:>14.1f}"
        )
    for db, r in results["ours"].items():
        expected = int(100_000 * args.scale) * 2 + (int(200_000 * args.scale) if invoices else 0)
        if r["objects"] != expected:
            print(f"  ours {db}: {r['objects']:,} objects synced, {expected:,} expected!")
        rates = ", ".join(f"{p['resource']} {p['objects_per_s']:,.0f}/s" for p in r["per_resource"])
        print(f"  ours {db}: {rates}")
    peer = results["peer"]
    if peer:
        rates = ", ".join(
            f"{p['kind']} {p['objects'] / p['seconds']:,.0f}/s"
            for p in peer["per_kind"]
            if p["objects"] and p["kind"] in ("customer", "subscription", "invoice")
        )
        print(f"  dj-stripe: {rates}")
        if peer.get("errors"):
            print(f"  dj-stripe errors: {peer['errors']}")
        ours_pg = results["ours"].get("postgres")
        if ours_pg:
            ratio = ours_pg["objects_per_s"] / peer["objects_per_s"]
            print(f"ours / dj-stripe on PostgreSQL, objects/s: {ratio:.1f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
