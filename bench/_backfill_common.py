"""What the backfill benchmarks share on our side (the project's ``.venv``): Django set-up on
a benchmark database, the generated Stripe plugged into stripe-python, memory and SQL
counters."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
if BENCH_DIR not in sys.path:
    sys.path.insert(0, BENCH_DIR)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "_backfill_settings")

from _backfill_data import ConnectionReset, Dataset, GeneratedStripe  # noqa: E402
from _common import prepare_database  # noqa: E402


def setup_django(*, fresh: bool = True) -> None:
    """``django.setup()`` on the benchmark database (dropped, created and migrated when
    ``fresh``)."""
    if fresh:
        prepare_database()
    import django

    django.setup()
    if fresh:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def bench_http_client(server: GeneratedStripe) -> Any:
    """A stripe-python HTTP client whose requests ``server`` answers (a dropped connection
    becomes stripe-python's retryable connection error)."""
    import stripe

    class BenchHTTPClient(stripe.HTTPClient):
        name = "bench_generated_stripe"

        def request(
            self,
            method: str,
            url: str,
            headers: Any,
            post_data: Any = None,
            *,
            _usage: Any = None,
        ) -> tuple[str, int, dict[str, str]]:
            try:
                return server.serve(method, url)
            except ConnectionReset as exc:
                raise stripe.APIConnectionError(str(exc), should_retry=True) from exc

        def request_stream(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

        def close(self) -> None:
            pass

    return BenchHTTPClient()


def bench_client(server: GeneratedStripe) -> Any:
    """A StripeClient from the library's factory whose requests ``server`` answers."""
    from stripe_integrations.client import build_client

    return build_client(http_client=bench_http_client(server))


class PeakRSS:
    """Samples the resident set size in a thread; ``growth`` is the peak minus the start."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.start = self.peak = self.current()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def current() -> int:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.current())

    def __enter__(self) -> PeakRSS:
        self.start = self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


class StatementCounter:
    """Counts SQL statements on every connection of the process: the calling thread's, and
    those opened meanwhile (the writer threads' with ``--writers``)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        with self._lock:
            self.count += 1
        return execute(sql, params, many, context)

    def _on_connect(self, sender: Any, connection: Any, **kwargs: Any) -> None:
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)

    def __enter__(self) -> StatementCounter:
        from django.db import connection
        from django.db.backends.signals import connection_created

        connection.execute_wrappers.append(self)
        connection_created.connect(self._on_connect, dispatch_uid=id(self))
        return self

    def __exit__(self, *exc: Any) -> None:
        from django.db import connection
        from django.db.backends.signals import connection_created

        connection_created.disconnect(dispatch_uid=id(self))
        connection.execute_wrappers.remove(self)


def dataset_for(scale: float, *, invoices: bool, start: int | None = None) -> Dataset:
    """100,000 customers, 100,000 subscriptions (1-2 items each) and, with ``invoices``,
    200,000 invoices (1-2 lines each), times ``scale``; 4 objects a second."""
    counts = {"customer": int(100_000 * scale), "subscription": int(100_000 * scale)}
    if invoices:
        counts["invoice"] = int(200_000 * scale)
    newest = max(counts.values())
    start = start if start is not None else int(time.time()) - newest // 4 - 3600
    return Dataset(counts, start=start, per_second=4)
