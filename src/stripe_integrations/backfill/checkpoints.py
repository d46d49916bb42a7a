"""Reading and writing :class:`~stripe_integrations.models.SyncCheckpoint` rows."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connections, router, transaction
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
    """Insert or update the rows of ``slices`` in one statement; a row never goes back.

    A slice's ``pages`` only grows, so a state with fewer pages than its row is an older one
    and is not written. With several writers this matters: the batch that splits a slice
    off records the new slice at its start, while the new slice's own pages may go through
    another writer and be committed first. Rows are written in key order, one lock order
    for concurrent writers."""
    ordered = sorted(slices, key=lambda s: (s.resource, s.livemode, s.lt))
    if not ordered:
        return
    connection = connections[router.db_for_write(SyncCheckpoint)]
    quote = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    column = {f.name: quote(str(f.column)) for f in SyncCheckpoint._meta.concrete_fields}
    now = adapt(timezone.now())
    started = adapt(run_started)
    table = quote(SyncCheckpoint._meta.db_table)
    names = [column[c] for c in ("resource", "livemode", "created_gte", "created_lt")]
    names += [column[c] for c in _FIELDS[1:]]
    row = f"({', '.join(['%s'] * len(names))})"
    updates = ", ".join(f"{column[c]} = EXCLUDED.{column[c]}" for c in _FIELDS)
    pages = column["pages"]
    key = ", ".join(column[c] for c in ("resource", "livemode", "created_lt"))
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES {', '.join([row] * len(ordered))} "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates} WHERE {table}.{pages} <= EXCLUDED.{pages}"
    )
    params: list[Any] = []
    for s in ordered:
        params += [s.resource, s.livemode, s.gte, s.lt, s.cursor, s.position, s.done]
        params += [s.objects, s.pages, started, now]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def load(resource: str, livemode: bool, created_lt: int) -> tuple[Slice, datetime] | None:
    """One slice by its key, with its run's start (``None`` when unknown)."""
    row = SyncCheckpoint.objects.filter(
        resource=resource, livemode=livemode, created_lt=created_lt
    ).first()
    return (to_slice(row), row.run_started) if row else None


def pending_count(resource: str, livemode: bool) -> int:
    """How many slices of the resource are not done."""
    return SyncCheckpoint.objects.filter(resource=resource, livemode=livemode, done=False).count()
