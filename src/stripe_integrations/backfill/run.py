"""Backfill entry points: :func:`run_sync` (threads in this process) and the pieces the
command and the Celery backend share."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime

import stripe
from django.utils import timezone

from stripe_integrations.backfill import checkpoints
from stripe_integrations.backfill.engine import Engine, Progress, ResourceStats, Sink
from stripe_integrations.backfill.fetcher import Fetcher, default_backoff
from stripe_integrations.backfill.registry import Resource, select
from stripe_integrations.backfill.sinks import DryRunSink, WriteSink
from stripe_integrations.backfill.slices import Slice
from stripe_integrations.client import get_client
from stripe_integrations.conf import get_config
from stripe_integrations.ratelimit import configured_rate, get_limiter


def auto_workers(rate: float) -> int:
    """Concurrent chains that keep ``rate`` requests/s busy at about 250 ms a request."""
    return max(2, min(32, math.ceil(rate / 4)))


@dataclass
class SyncSettings:
    """How a backfill runs (the command's options, and a few knobs for tests and benches)."""

    since: int | None = None
    workers: int | None = None
    resume: bool = False
    dry_run: bool = False
    rate: float | None = None
    batch_size: int = 1000
    client: stripe.StripeClient | None = None
    backoff: Callable[[int], float] = default_backoff
    max_attempts: int = 10
    progress: Progress | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    gc_threshold: int | None = None
    writers: int | None = None

    @property
    def livemode(self) -> bool:
        """Whether the configured key is a live one."""
        return get_config().livemode

    def effective_rate(self) -> float:
        """``rate``, else ``STRIPE_CONFIG["RATE_LIMIT"]``, else the default: the account rate
        of the process's limiter during the run (the backfill uses it minus the reserved
        share)."""
        return self.rate if self.rate is not None else configured_rate(self.livemode)

    def effective_workers(self) -> int:
        """``workers``, else :func:`auto_workers` of the rate."""
        return self.workers or auto_workers(self.effective_rate())

    def paced(self) -> AbstractContextManager[object]:
        """While open, the process's limiter uses ``rate`` (when given)."""
        return get_limiter().rate_override(self.rate) if self.rate else nullcontext()

    def fetcher(self) -> Fetcher:
        """A fetcher on the shared client, within the account's rate limit."""
        return Fetcher(
            self.client or get_client(),
            backoff=self.backoff,
            max_attempts=self.max_attempts,
            probe_created=self.client is None and get_config().api_base is not None,
        )


AUTO_WRITERS = 2


def effective_writers(resource: Resource, writers: int | None = None) -> int:
    """How many writers a run of ``resource`` uses: ``writers`` (default
    :data:`AUTO_WRITERS`) on PostgreSQL; 1 on other databases (SQLite writes one transaction
    at a time: more writers would only wait for each other) and inside a transaction (other
    connections cannot see its rows, and would wait on its locks until it ends)."""
    from django.db import connections, router

    database = connections[router.db_for_write(resource.model_class)]
    in_transaction = database.in_atomic_block or not database.get_autocommit()
    if database.vendor != "postgresql" or in_transaction:
        return 1
    return AUTO_WRITERS if writers is None else max(1, writers)


@dataclass
class Plan:
    """What a resource's run starts from."""

    slices: list[Slice]
    run_started: datetime
    skipped: str | None = None


def plan(resource: Resource, settings: SyncSettings) -> Plan:
    """The slices to run for ``resource``: those left by the last run with ``resume``, else
    one new slice from ``since`` to now (recorded, unless dry run)."""
    livemode = settings.livemode
    now = timezone.now()
    if settings.resume:
        pending, started = checkpoints.unfinished(resource.name, livemode)
        if started is not None and not pending:
            return Plan([], started, skipped="nothing to resume: the last run finished")
        if pending and started is not None:
            return Plan(pending, started)
    if settings.dry_run:
        until = int(now.timestamp()) + 1
        return Plan([Slice(resource.name, livemode, max(0, settings.since or 0), until)], now)
    return Plan(checkpoints.start_run(resource.name, livemode, settings.since, now), now)


def run_sync(
    resources: Iterable[str] = (), settings: SyncSettings | None = None
) -> list[ResourceStats]:
    """Mirror ``resources`` (all when empty) in dependency order, in this process.

    Each resource's pages are written as they arrive, with their checkpoints; an
    interruption (exception, Ctrl-C, kill) loses nothing committed, and
    ``SyncSettings(resume=True)`` continues from there. With ``rate``, the process's limiter
    uses that rate while the run lasts.
    """
    settings = settings or SyncSettings()
    with settings.paced():
        return _run_sync(resources, settings)


def _run_sync(resources: Iterable[str], settings: SyncSettings) -> list[ResourceStats]:
    fetcher = settings.fetcher()
    results: list[ResourceStats] = []
    for resource in select(resources):
        planned = plan(resource, settings)
        if planned.skipped is not None:
            results.append(ResourceStats(resource.name, skipped=planned.skipped))
            continue
        sink: Sink = DryRunSink() if settings.dry_run else WriteSink(planned.run_started)
        engine = Engine(
            resource,
            fetcher,
            sink,
            workers=settings.effective_workers(),
            batch_size=settings.batch_size,
            progress=settings.progress,
            stop=settings.stop,
            gc_threshold=settings.gc_threshold,
            writers=effective_writers(resource, settings.writers),
        )
        try:
            results.append(engine.run(planned.slices))
        except BaseException:
            settings.stop.set()
            raise
        if settings.stop.is_set():
            break
    return results
