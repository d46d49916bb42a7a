"""Fan the slices out to Celery workers: one task per slice (``--backend celery``).

The command plans each resource, sends one task per unfinished slice and follows the
checkpoint rows until none is left. A task runs its slice's chain and writes each page with
its checkpoint; when the resource has fewer unfinished slices than ``workers``, it splits its
slice and sends the new slices as tasks once the split is committed. Tasks are ``acks_late``:
a task whose worker died is delivered again and continues from its checkpoint.

The tasks' requests go through each worker process's limiter
(:mod:`stripe_integrations.ratelimit`). With ``RATE_LIMIT_REDIS_URL`` every worker shares one
bucket at ``rate``; without it, a worker process running a slice limits itself to
``rate / workers`` requests per second while the slice runs, so ``workers`` should be the
number of tasks that run at once across the Celery workers.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.models import Max, Sum

from stripe_integrations.backfill import checkpoints
from stripe_integrations.backfill.engine import Engine, ResourceStats
from stripe_integrations.backfill.registry import get_resource, select
from stripe_integrations.backfill.run import SyncSettings, plan
from stripe_integrations.backfill.sinks import WriteSink
from stripe_integrations.backfill.slices import Slice
from stripe_integrations.conf import get_config
from stripe_integrations.models import SyncCheckpoint
from stripe_integrations.ratelimit import get_limiter

#: A run whose checkpoints have not moved for this long is reported as stalled.
STALL_SECONDS = 600.0


def process_rate(rate: float, workers: int) -> float:
    """The rate this process's limiter uses while it runs a slice: the whole ``rate`` when
    the limiter is shared through Redis, else ``rate / workers``."""
    return rate if get_limiter().distributed else rate / max(1, workers)


def send(slices: list[Slice], workers: int, rate: float) -> None:
    """Send one task per slice."""
    from stripe_integrations.backfill.tasks import sync_slice_task

    queue = get_config().celery_queue
    for slc in slices:
        sync_slice_task.apply_async(
            args=[slc.resource, slc.livemode, slc.lt, workers, rate],
            **({"queue": queue} if queue else {}),
        )


def run_slice(
    resource_name: str, livemode: bool, created_lt: int, workers: int, rate: float
) -> int:
    """Run one slice to its end (the body of the Celery task); returns the objects written."""
    resource = get_resource(resource_name)
    loaded = checkpoints.load(resource_name, livemode, created_lt)
    if loaded is None or loaded[0].done:
        return 0
    slc, run_started = loaded
    settings = SyncSettings(rate=rate)
    fetcher = settings.fetcher()

    def wanted() -> int:
        return workers - checkpoints.pending_count(resource_name, livemode)

    engine = Engine(
        resource,
        fetcher,
        WriteSink(run_started),
        workers=1,
        dispatch=lambda new: send(new, workers, rate),
        idle=wanted,
    )
    with get_limiter().rate_override(process_rate(rate, workers)):
        return engine.run([slc]).objects


def run_with_celery(names: list[str], settings: SyncSettings) -> list[ResourceStats]:
    """Plan each resource, send its slices to Celery and wait until they are all done."""
    rate = settings.effective_rate()
    workers = settings.effective_workers()
    livemode = settings.livemode
    results = []
    for resource in select(names):
        planned = plan(resource, settings)
        if planned.skipped is not None:
            results.append(ResourceStats(resource.name, skipped=planned.skipped))
            continue
        send(planned.slices, workers, rate)
        results.append(_follow(resource.name, livemode, settings))
    return results


def _follow(name: str, livemode: bool, settings: SyncSettings) -> ResourceStats:
    """Report the checkpoints of ``name`` until every slice is done."""
    rows = SyncCheckpoint.objects.filter(resource=name, livemode=livemode)
    started = time.monotonic()
    base = rows.aggregate(n=Sum("objects_synced"))["n"] or 0
    stats = ResourceStats(name)
    progress = settings.progress
    if progress:
        progress.start(name)
    last_change: Any = None
    last_seen = time.monotonic()
    while True:
        summary = rows.aggregate(n=Sum("objects_synced"), pages=Sum("pages"), at=Max("updated_at"))
        slices = {s.key: s for s in map(checkpoints.to_slice, rows.all())}
        stats.objects = (summary["n"] or 0) - base
        stats.pages = summary["pages"] or 0
        stats.slices = len(slices)
        stats.slices_done = sum(1 for s in slices.values() if s.done)
        stats.seconds = time.monotonic() - started
        if progress:
            progress.update(stats, slices)
        if stats.slices and stats.slices_done == stats.slices:
            break
        if summary["at"] != last_change:
            last_change, last_seen = summary["at"], time.monotonic()
        elif time.monotonic() - last_seen > STALL_SECONDS:
            stats.interrupted = True
            break
        if settings.stop.wait(1.0):
            stats.interrupted = True
            break
    if progress:
        progress.finish(stats)
    return stats
