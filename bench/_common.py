"""What both sides of the webhook benchmark share, so that both are measured the same way.

Imported by ``_ours.py`` and ``_djstripe.py`` (each in its own virtualenv, both Python 3.11);
stdlib only. Nothing here knows about either library.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))

# What Stripe's webhook deliveries send besides the signature.
STRIPE_HEADERS = {
    "HTTP_USER_AGENT": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    "HTTP_ACCEPT": "*/*; q=0.5, application/xml",
    "HTTP_CACHE_CONTROL": "no-cache",
}


def load_bodies(path: str) -> list[bytes]:
    """The wire bodies: each JSONL event re-serialised as Stripe sends it (2-space indent).

    Deterministic, so both sides POST byte-identical bodies.
    """
    with open(path, encoding="utf-8") as fh:
        return [json.dumps(json.loads(line), indent=2).encode() for line in fh if line.strip()]


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """``Stripe-Signature`` for ``body``: ``t=<ts>,v1=<hex hmac-sha256 of "ts.body">``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def make_environ(path: str, body: bytes, signature: str) -> dict[str, Any]:
    """A WSGI environ for one webhook delivery, as a front server would hand it over."""
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_TYPE": "application/json; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_STRIPE_SIGNATURE": signature,
        **STRIPE_HEADERS,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def call_wsgi(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> tuple[int, bytes]:
    """Call the app like a WSGI server does: start_response, drain the body, close()."""
    status: list[str] = []

    def start_response(s: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
        status.append(s)
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()  # Django's request_finished: connection housekeeping, as in production
    return int(status[0][:3]), body


def measured_concurrency() -> int:
    """Concurrent deliveries for the measured run (``--concurrency``; 1 = one at a time)."""
    return max(1, int(os.environ.get("BENCH_CONCURRENCY", "1")))


def deliver(
    app: Callable[..., Iterable[bytes]],
    path: str,
    secret: str,
    bodies: list[bytes],
    before_each: Callable[[int], None] | None = None,
    concurrency: int = 1,
) -> tuple[list[float], Counter[int], list[tuple[int, bytes]]]:
    """POST every body once; time each WSGI call alone.

    Signing and building the environ (Stripe's side of the wire) are outside the timed
    region; the timed region is ``app(environ, start_response)`` through ``close()``.
    With ``concurrency`` > 1 the bodies are shared round-robin between that many threads
    (Stripe delivers in parallel); each thread has its own database connection.
    Returns the latencies in seconds, the status counts, and up to 5 non-2xx samples.
    """
    if concurrency > 1:
        import threading

        from django.db import connections

        shares = [bodies[i::concurrency] for i in range(concurrency)]
        results: list[tuple[list[float], Counter[int], list[tuple[int, bytes]]]] = []
        lock = threading.Lock()

        def work(share: list[bytes]) -> None:
            try:
                outcome = deliver(app, path, secret, share)
                with lock:
                    results.append(outcome)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=work, args=(share,)) for share in shares]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        merged: Counter[int] = Counter()
        all_latencies: list[float] = []
        all_failures: list[tuple[int, bytes]] = []
        for lat, st, fail in results:
            all_latencies += lat
            merged.update(st)
            all_failures += fail
        return all_latencies, merged, all_failures[:5]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    failures: list[tuple[int, bytes]] = []
    perf = time.perf_counter
    for i, body in enumerate(bodies):
        if before_each is not None:
            before_each(i)
        environ = make_environ(path, body, sign(secret, body, int(time.time())))
        t0 = perf()
        status, content = call_wsgi(app, environ)
        t1 = perf()
        latencies.append(t1 - t0)
        statuses[status] += 1
        if not 200 <= status < 300 and len(failures) < 5:
            failures.append((status, content[:300]))
    return latencies, statuses, failures


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100.0 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def summarize(latencies: list[float], wall: float, statuses: Counter[int]) -> dict[str, Any]:
    """Throughput and latency figures for one measured run (milliseconds for latencies)."""
    s = sorted(latencies)
    busy = sum(s)
    return {
        "count": len(s),
        "endpoint_seconds": busy,
        "wall_seconds": wall,
        # One worker, back to back: events/s the endpoint sustains = count / time inside it.
        # Several in flight: count / wall time (their latencies overlap).
        "events_per_s": (
            len(s) / wall
            if measured_concurrency() > 1 and wall
            else (len(s) / busy if busy else float("nan"))
        ),
        "concurrency": measured_concurrency(),
        "mean_ms": 1000 * busy / len(s) if s else float("nan"),
        "p50_ms": 1000 * percentile(s, 50),
        "p90_ms": 1000 * percentile(s, 90),
        "p99_ms": 1000 * percentile(s, 99),
        "max_ms": 1000 * s[-1] if s else float("nan"),
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
    }


class QueryCounter:
    """``connection.execute_wrapper`` callback counting SQL statements (used off the clock)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def count_queries(run: Callable[[], Any]) -> tuple[int, Any]:
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        result = run()
    return counter.count, result


# -- the stand-in Stripe API --------------------------------------------------------------


class FakeStripe:
    """``_fake_stripe.py`` in a child process on 127.0.0.1; stopped by its PID."""

    def __init__(self, customers_path: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                os.path.join(BENCH_DIR, "_fake_stripe.py"),
                "--customers",
                customers_path,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.isdigit():
            self.stop()
            raise RuntimeError(f"fake Stripe did not start (said {line!r})")
        self.port = int(line)
        self.base = f"http://127.0.0.1:{self.port}"

    def _req(self, method: str, path: str) -> dict:
        req = urllib.request.Request(
            self.base + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict:
        return self._req("GET", "/__stats")

    def reset(self) -> None:
        self._req("POST", "/__reset")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, 9)
                self.proc.wait()


def api_calls(stats: dict) -> int:
    return sum(stats["counts"].values()) + sum(stats["unhandled"].values())


# -- databases -------------------------------------------------------------------------------


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=int(os.environ.get("PGPORT", "5432")),
        user=os.environ.get("PGUSER", "postgres"),
        dbname="postgres",
        autocommit=True,
    )


def _sqlite_remove(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def prepare_database(template: str | None = None) -> bool:
    """A fresh database for this side; True when it still needs ``migrate``.

    BENCH_DB=postgres: DROP and CREATE ``BENCH_PG_NAME`` on 127.0.0.1:5432 as role postgres.
    Otherwise: a new SQLite file at ``BENCH_SQLITE_PATH``. With ``template`` (a cache key:
    a SQLite file path, or a PostgreSQL database name) an already migrated copy is cloned
    instead, if one was saved by :func:`save_template` earlier.
    """
    if os.environ.get("BENCH_DB", "sqlite") == "postgres":
        name = os.environ["BENCH_PG_NAME"]
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if template:
                found = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (template,)
                ).fetchone()
                if found:
                    conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                    return False
            conn.execute(f'CREATE DATABASE "{name}"')
        return True
    path = os.environ["BENCH_SQLITE_PATH"]
    _sqlite_remove(path)
    if template and os.path.exists(template):
        shutil.copyfile(template, path)
        return False
    return True


def drop_database() -> None:
    """Drop this side's PostgreSQL database once done (SQLite files go with the temp dir)."""
    if os.environ.get("BENCH_DB", "sqlite") != "postgres":
        return
    from django.db import connections

    connections.close_all()
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{os.environ["BENCH_PG_NAME"]}" WITH (FORCE)')


def save_template(template: str) -> None:
    """Keep the freshly migrated database as ``template`` (call right after ``migrate``)."""
    from django.db import connections

    connections.close_all()
    if os.environ.get("BENCH_DB", "sqlite") == "postgres":
        name = os.environ["BENCH_PG_NAME"]
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{template}" TEMPLATE "{name}"')
    else:
        tmp = template + ".part"
        shutil.copyfile(os.environ["BENCH_SQLITE_PATH"], tmp)
        os.replace(tmp, template)


def database_settings() -> dict[str, Any]:
    """``DATABASES["default"]``, identical for both sides (persistent connections)."""
    if os.environ.get("BENCH_DB", "sqlite") == "postgres":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("BENCH_PG_NAME", "bench"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "CONN_MAX_AGE": 600,
        }
    sqlite: dict[str, Any] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_SQLITE_PATH", os.path.join(BENCH_DIR, "bench.sqlite3")),
        "CONN_MAX_AGE": 600,
    }
    if os.environ.get("BENCH_SQLITE_WAL"):
        # --sqlite-wal: the write-ahead log with synchronous=NORMAL (durable across a crash of
        # the process, not of the machine), the usual production setting. Same on both sides.
        sqlite["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    return sqlite


# Shared Django settings: same middleware, logging and flags on both sides.
COMMON_SETTINGS: dict[str, Any] = {
    "DEBUG": False,
    "ALLOWED_HOSTS": ["127.0.0.1", "localhost"],
    "USE_TZ": True,
    "TIME_ZONE": "UTC",
    "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
    "MIDDLEWARE": [
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ],
    "LOGGING": {
        "version": 1,
        "disable_existing_loggers": True,
        "handlers": {"null": {"class": "logging.NullHandler"}},
        "root": {"handlers": ["null"], "level": "CRITICAL"},
        "loggers": {
            "django": {"handlers": ["null"], "level": "CRITICAL", "propagate": False},
            "py.warnings": {"handlers": ["null"], "level": "CRITICAL", "propagate": False},
        },
    },
}


def emit(result: dict[str, Any]) -> None:
    """The side's one line of JSON on stdout (the driver reads the last line)."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
