"""Reading and writing :class:`~stripe_integrations.models.SyncCheckpoint` rows."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from stripe_integrations.backfill.slices import Slice
from stripe_integrations.models import SyncCheckpoint

_FIELDS = [
    "created_gte",
    "cursor",
    "position",
    "done",
    "objects_synced",
    "pages",
    "run_started",
    "updated_at",
]


def now_epoch() -> int:
    """The current Unix time in whole seconds."""
    return int(time.time())


def start_run(
    resource: str, livemode: bool, since: int | None, run_started: datetime | None = None
) -> list[Slice]:
    """Forget the resource's previous checkpoints and plan one slice from ``since`` (or the
    beginning) to now; returns it (saved)."""
    run_started = run_started or timezone.now()
    until = int(run_started.timestamp()) + 1
    first = Slice(resource, livemode, gte=max(0, since or 0), lt=until)
    with transaction.atomic():
        SyncCheckpoint.objects.filter(resource=resource, livemode=livemode).delete()
        save([first], run_started)
    return [first]


def unfinished(resource: str, livemode: bool) -> tuple[list[Slice], datetime | None]:
    """The slices of the resource's last run that are not done, and when that run began
    (``None`` when there never was one)."""
    rows = list(
        SyncCheckpoint.objects.filter(resource=resource, livemode=livemode).order_by("-created_lt")
    )
    if not rows:
        return [], None
    pending = [to_slice(row) for row in rows if not row.done]
    return pending, rows[0].run_started


def to_slice(row: SyncCheckpoint) -> Slice:
    """The slice a checkpoint row records."""
    return Slice(
        resource=row.resource,
        livemode=row.livemode,
        gte=row.created_gte,
        lt=row.created_lt,
        cursor=row.cursor,
        position=row.position,
        done=row.done,
        objects=row.objects_synced,
        pages=row.pages,
    )


def save(slices: Iterable[Slice], run_started: datetime) -> None:
    """Insert or update the rows of ``slices`` in one statement."""
    now = timezone.now()
    rows = [
        SyncCheckpoint(
            resource=s.resource,
            livemode=s.livemode,
            created_gte=s.gte,
            created_lt=s.lt,
            cursor=s.cursor,
            position=s.position,
            done=s.done,
            objects_synced=s.objects,
            pages=s.pages,
            run_started=run_started,
            updated_at=now,
        )
        for s in slices
    ]
    if rows:
        SyncCheckpoint.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["resource", "livemode", "created_lt"],
            update_fields=_FIELDS,
        )


def load(resource: str, livemode: bool, created_lt: int) -> tuple[Slice, datetime] | None:
    """One slice by its key, with its run's start (``None`` when unknown)."""
    row = SyncCheckpoint.objects.filter(
        resource=resource, livemode=livemode, created_lt=created_lt
    ).first()
    return (to_slice(row), row.run_started) if row else None


def pending_count(resource: str, livemode: bool) -> int:
    """How many slices of the resource are not done."""
    return SyncCheckpoint.objects.filter(resource=resource, livemode=livemode, done=False).count()
