"""Webhook endpoint benchmark: django-stripe-integrations against dj-stripe 2.11, side by side.

    .venv/bin/python bench/webhooks.py [--events N] [--db sqlite|postgres] [--json]

What it does:

1. generates N signed-to-be ``customer.updated`` events (API version 2026-10-28.endive, a
   full customer object each) over ``--customers`` distinct customers, plus warm-up and
   probe events, into a temporary directory (JSONL);
2. runs our side (``bench/_ours.py``, this project's ``.venv``) and then dj-stripe's side
   (``bench/_djstripe.py``, ``bench/.venv-djstripe``, created on first use from PyPI);
   each side signs every body with its own secret, POSTs it through its Django WSGI
   application called in-process (no HTTP server), and times each call alone;
3. prints both sides' events/s and p50/p99 latencies and the ratio ours/dj-stripe.

Same bodies, same count, same Django, same middleware and database kind for both, one
after the other in the same run. Ours stores the event as pending and defers processing
(``EVENT_BACKEND = "manual"``); dj-stripe processes it in the request and calls Stripe's
API, which here is a local stand-in on 127.0.0.1 (``bench/_fake_stripe.py``) that answers
instantly and counts the calls. Nothing leaves the machine.

``--db postgres`` uses 127.0.0.1:5432 as role ``postgres`` (``PGHOST``/``PGPORT``/``PGUSER``
override), dropping and creating the databases ``bench_ours`` and ``bench_djstripe``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import string
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from typing import Any

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
OURS_PYTHON = os.path.join(REPO_DIR, ".venv", "bin", "python")
PEER_VENV = os.path.join(BENCH_DIR, ".venv-djstripe")
PEER_PYTHON = os.path.join(PEER_VENV, "bin", "python")
PEER_STAMP = os.path.join(PEER_VENV, ".bench-requirements")

API_VERSION = "2026-10-28.endive"
SIDE_TIMEOUT_S = 3600  # a side that takes longer is killed (by PID, via subprocess.run)


# -- the dj-stripe virtualenv ----------------------------------------------------------------


def peer_requirements() -> list[str]:
    """dj-stripe 2.11 on the same Django as ours (dj-stripe pins stripe>=15.0.1,<16 itself)."""
    return [
        "dj-stripe==2.11.*",
        f"Django=={metadata.version('django')}",
        "psycopg[binary]>=3.3.4,<4",
    ]


def ensure_peer_venv() -> None:
    wanted = "\n".join(peer_requirements())
    if os.path.exists(PEER_STAMP):
        with open(PEER_STAMP, encoding="utf-8") as fh:
            if fh.read() == wanted:
                return
    python311 = os.environ.get("PYTHON311") or shutil.which("python3.11")
    if python311 is None:
        sys.exit("python3.11 is needed to create bench/.venv-djstripe (set PYTHON311)")
    print(f"creating {os.path.relpath(PEER_VENV, REPO_DIR)} ...", file=sys.stderr)
    if not os.path.exists(PEER_PYTHON):
        subprocess.run([python311, "-m", "venv", PEER_VENV], check=True)
    pip = [PEER_PYTHON, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *peer_requirements()], check=True)
    with open(PEER_STAMP, "w", encoding="utf-8") as fh:
        fh.write(wanted)


# -- the data --------------------------------------------------------------------------------

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]
CITIES = [("Paris", "FR", "75011"), ("Berlin", "DE", "10115"), ("Austin", "US", "73301")]


def _id(rng: random.Random, prefix: str, n: int) -> str:
    return prefix + "".join(rng.choices(string.ascii_letters + string.digits, k=n))


def new_customer(rng: random.Random, created: int) -> dict[str, Any]:
    """A customer as Stripe renders it in 2026-10-28.endive (no expansions)."""
    cid = _id(rng, "cus_", 14)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    city, country, postal = rng.choice(CITIES)
    address = {
        "city": city,
        "country": country,
        "line1": f"{rng.randint(1, 200)} Bench Street",
        "line2": None,
        "postal_code": postal,
        "state": None,
    }
    return {
        "id": cid,
        "object": "customer",
        "address": address,
        "balance": 0,
        "business_name": None,
        "created": created,
        "currency": "usd",
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": f"Bench customer {first} {last}",
        "discount": None,
        "email": f"{first}.{last}.{cid[4:10]}@example.com".lower(),
        "individual_name": None,
        "invoice_prefix": "".join(rng.choices("0123456789ABCDEF", k=8)),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {"account_ref": str(rng.randint(10_000, 99_999)), "plan": "team"},
        "name": f"{first} {last}",
        "next_invoice_sequence": 1,
        "phone": f"+3361{rng.randint(1_000_000, 9_999_999)}",
        "preferred_locales": ["en"],
        "shipping": {"address": dict(address), "name": f"{first} {last}", "phone": None},
        "tax_exempt": "none",
        "test_clock": None,
    }


def updated_event(rng: random.Random, customer: dict[str, Any], created: int) -> dict[str, Any]:
    """Rename ``customer`` (in place) and return the ``customer.updated`` event for it."""
    old_name = customer["name"]
    customer["name"] = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    customer["shipping"]["name"] = customer["name"]
    return {
        "id": _id(rng, "evt_", 24),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "livemode": False,
        "type": "customer.updated",
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {
            "object": json.loads(json.dumps(customer)),
            "previous_attributes": {"name": old_name},
        },
    }


def generate(tmp: str, n: int, n_customers: int, n_warmup: int, seed: int) -> dict[str, str]:
    """Write the event files and the customers' latest states; return their paths."""
    rng = random.Random(seed)
    clock = 1_790_000_000

    def tick() -> int:
        nonlocal clock
        clock += 1
        return clock

    def customers(k: int) -> list[dict[str, Any]]:
        return [new_customer(rng, tick()) for _ in range(k)]

    def events_for(pool: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
        # Every customer gets its share, in shuffled order (deliveries interleave).
        order = [pool[i % len(pool)] for i in range(count)]
        rng.shuffle(order)
        return [updated_event(rng, c, tick()) for c in order]

    warm_pool = customers(max(1, min(50, n_warmup)))  # customers only warm-up touches
    measured_pool = customers(n_customers)
    new_pool = customers(50)  # first seen by the "new customer" probe
    files = {
        "warmup": events_for(warm_pool, n_warmup),
        "events": events_for(measured_pool, n),
        "probe_seen": events_for(measured_pool, 50),
        "probe_new": events_for(new_pool, 50),
    }
    paths = {}
    for name, evts in files.items():
        paths[name] = os.path.join(tmp, f"{name}.jsonl")
        with open(paths[name], "w", encoding="utf-8") as fh:
            for evt in evts:
                fh.write(json.dumps(evt, separators=(",", ":")) + "\n")
    # What "GET /v1/customers/<id>" answers: each customer as it is now (after all events).
    paths["customers"] = os.path.join(tmp, "customers.json")
    with open(paths["customers"], "w", encoding="utf-8") as fh:
        json.dump({c["id"]: c for c in warm_pool + measured_pool + new_pool}, fh)
    return paths


# -- running the sides -----------------------------------------------------------------------


def run_side(
    name: str, python: str, script: str, env: dict[str, str], paths: dict[str, str]
) -> dict:
    cmd = [
        python,
        os.path.join(BENCH_DIR, script),
        "--events", paths["events"],
        "--warmup", paths["warmup"],
        "--probe-seen", paths["probe_seen"],
        "--probe-new", paths["probe_new"],
        "--customers", paths["customers"],
    ]  # fmt: skip
    print(f"running {name} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            env={**os.environ, **env},
            cwd=BENCH_DIR,
            capture_output=True,
            text=True,
            timeout=SIDE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        sys.exit(f"{name}: no result after {SIDE_TIMEOUT_S}s (killed)")
    if proc.returncode != 0 or not proc.stdout.strip():
        sys.stderr.write(proc.stderr[-5000:])
        sys.exit(f"{name}: exited {proc.returncode}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["side_seconds"] = time.perf_counter() - t0
    return result


def check(name: str, result: dict, n: int) -> list[str]:
    """What makes a side's figures meaningless: non-2xx answers, missing or failed rows."""
    problems = []
    statuses = result["status_counts"]
    ok = sum(v for k, v in statuses.items() if k.startswith("2"))
    if ok != n or result["count"] != n:
        problems.append(f"{name}: {n - ok} of {n} deliveries not answered 2xx: {statuses}")
    for probe, p in result.get("probes", {}).items():
        if set(p["status_counts"]) - {"200", "201", "202", "204"}:
            problems.append(f"{name}: probe {probe} answered {p['status_counts']}")
    rows = result["rows"]
    if name == "dj-stripe":
        if rows["triggers_valid_processed_no_exception"] != rows["deliveries"]:
            problems.append(f"{name}: not every delivery processed cleanly: {rows}")
    elif rows["events_by_status"] != {"pending": rows["distinct_events"]}:
        problems.append(
            f"{name}: expected {rows['distinct_events']} pending events stored, "
            f"found {rows['events_by_status']}"
        )
    return problems


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def report(args: argparse.Namespace, ours: dict, peer: dict) -> dict:
    def r(key: str) -> float:
        return ratio(ours[key], peer[key])

    return {
        "benchmark": "customer.updated webhook endpoint, in-process WSGI",
        "concurrency": args.concurrency,
        "sqlite_wal": args.sqlite_wal,
        "events": args.events,
        "customers": args.customers,
        "warmup_events": args.warmup,
        "db": args.db,
        "seed": args.seed,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "ours": ours,
        "dj-stripe": peer,
        "ratio_ours_over_djstripe": {
            "events_per_s": r("events_per_s"),
            "p50_ms": r("p50_ms"),
            "p99_ms": r("p99_ms"),
            "mean_ms": r("mean_ms"),
        },
    }


def print_table(res: dict) -> None:
    ours, peer, rat = res["ours"], res["dj-stripe"], res["ratio_ours_over_djstripe"]
    db = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[res["db"]]
    print(
        f"\ncustomer.updated webhooks: {res['events']} events over {res['customers']} customers, "
        f"{db}{' (WAL, synchronous=NORMAL)' if res['sqlite_wal'] else ''}, "
        f"{res['concurrency']} in flight, in-process WSGI "
        f"({res['warmup_events']} warm-up events not timed)\n"
    )
    rows = [
        ("events/s (endpoint)", "events_per_s", "{:,.0f}", rat["events_per_s"]),
        ("p50 latency (ms)", "p50_ms", "{:.3f}", rat["p50_ms"]),
        ("p99 latency (ms)", "p99_ms", "{:.3f}", rat["p99_ms"]),
        ("mean latency (ms)", "mean_ms", "{:.3f}", rat["mean_ms"]),
        ("max latency (ms)", "max_ms", "{:.3f}", None),
        ("Stripe API calls/event", "api_calls_per_event", "{:.2f}", None),
    ]
    w = 31
    print(f"{'':{w}}{'ours':>14}{'dj-stripe':>14}{'ours/dj-stripe':>17}")
    for label, key, fmt, rt in rows:
        rs = f"{rt:.3f}" if rt is not None else ""
        print(f"{label:{w}}{fmt.format(ours[key]):>14}{fmt.format(peer[key]):>14}{rs:>17}")
    for probe in ("seen_customer", "new_customer", "duplicate"):
        po, pp = ours["probes"][probe], peer["probes"][probe]
        print(
            f"{'SQL queries/event (' + probe.replace('_customer', '') + ')':{w}}"
            f"{po['queries_per_event']:>14.1f}{pp['queries_per_event']:>14.1f}"
        )
    print(f"{'status codes':{w}}{json.dumps(ours['status_counts']):>14}"
          f"{json.dumps(peer['status_counts']):>14}")  # fmt: skip
    print(
        f"\nratio ours/dj-stripe: events/s {rat['events_per_s']:.2f}x, "
        f"p50 {rat['p50_ms']:.3f}, p99 {rat['p99_ms']:.3f} (latency below 1 = ours faster)"
    )
    print(f"ours rows: {json.dumps(ours['rows'])}")
    print(f"dj-stripe rows: {json.dumps(peer['rows'])}")
    print(f"dj-stripe API calls by route (measured run): {json.dumps(peer['api_calls_by_route'])}")
    print(
        f"versions: ours {json.dumps(ours['versions'])}; dj-stripe {json.dumps(peer['versions'])}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5000, help="measured events (default 5000)")
    parser.add_argument(
        "--customers", type=int, default=500, help="distinct customers (default 500)"
    )
    parser.add_argument(
        "--warmup", type=int, default=200, help="untimed warm-up events (default 200)"
    )
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="deliveries in flight at once, both sides (default 1)",
    )
    parser.add_argument(
        "--sqlite-wal",
        action="store_true",
        help="SQLite in WAL mode with synchronous=NORMAL, both sides",
    )
    parser.add_argument("--seed", type=int, default=20261028)
    parser.add_argument("--json", action="store_true", help="print the results as JSON only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.events < 50 or args.customers < 1 or args.warmup < 1:
        parser.error("--events must be >= 50, --customers and --warmup >= 1")

    ensure_peer_venv()
    tmp = tempfile.mkdtemp(prefix="bench-webhooks-")
    try:
        paths = generate(tmp, args.events, args.customers, args.warmup, args.seed)
        common = {
            "BENCH_DB": args.db,
            "PYTHONDONTWRITEBYTECODE": "1",
            "BENCH_CONCURRENCY": str(args.concurrency),
        }
        if args.sqlite_wal:
            common["BENCH_SQLITE_WAL"] = "1"
        ours = run_side(
            "ours",
            OURS_PYTHON,
            "_ours.py",
            {
                **common,
                "BENCH_SQLITE_PATH": os.path.join(tmp, "ours.sqlite3"),
                "BENCH_PG_NAME": "bench_ours",
            },
            paths,
        )
        peer = run_side(
            "dj-stripe",
            PEER_PYTHON,
            "_djstripe.py",
            {
                **common,
                "BENCH_SQLITE_PATH": os.path.join(tmp, "djstripe.sqlite3"),
                "BENCH_PG_NAME": "bench_djstripe",
            },
            paths,
        )
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    res = report(args, ours, peer)
    problems = check("ours", ours, args.events) + check("dj-stripe", peer, args.events)
    res["problems"] = problems
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print_table(res)
        for p in problems:
            print(f"PROBLEM: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
