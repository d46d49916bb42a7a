"""Compare the mirror with Stripe: missing, stale and extra rows per resource.

The same slicing and fetching as the backfill. Every list page closes a window of
``created`` seconds the chain has seen completely (all seconds newer than the page's last
object; down to the slice's start at its end); the rows of that window are read in one query
and compared with the objects Stripe listed in it:

- *missing*: listed by Stripe, no row;
- *stale*: a row whose change markers (``Resource.markers``: status, amounts...) differ;
- *extra*: a row in the window Stripe did not list (rows already known deleted excepted).

Per-customer resources compare the rows of the customers a page covers. With ``fix``,
missing and stale objects are written through the resource's sync function, and each extra
row is fetched by id and mirrored (or marked deleted, or removed, when Stripe no longer has
it).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import models, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, Value
from django.utils import timezone

from stripe_integrations.backfill.engine import Engine, PageResult, Progress
from stripe_integrations.backfill.fetcher import Fetcher
from stripe_integrations.backfill.registry import Resource, select
from stripe_integrations.backfill.run import SyncSettings
from stripe_integrations.backfill.sinks import fetch_times, write_objects
from stripe_integrations.backfill.slices import Slice
from stripe_integrations.exceptions import StripeAPIError

#: How many ids of each kind a report keeps.
SAMPLE_SIZE = 20


@dataclass
class Drift:
    """What reconcile found for one resource."""

    resource: str
    listed: int = 0
    compared_rows: int = 0
    missing: int = 0
    stale: int = 0
    extra: int = 0
    fixed: int = 0
    samples: dict[str, list[str]] = field(
        default_factory=lambda: {"missing": [], "stale": [], "extra": []}
    )
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        """True when the mirror matches Stripe."""
        return not (self.missing or self.stale or self.extra)

    def note(self, kind: str, ids: Iterable[str]) -> None:
        """Count ``ids`` as ``kind`` and keep a few of them."""
        ids = list(ids)
        setattr(self, kind, getattr(self, kind) + len(ids))
        sample = self.samples[kind]
        sample.extend(ids[: max(0, SAMPLE_SIZE - len(sample))])

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary."""
        return {
            "resource": self.resource,
            "listed": self.listed,
            "compared_rows": self.compared_rows,
            "missing": self.missing,
            "stale": self.stale,
            "extra": self.extra,
            "fixed": self.fixed,
            "samples": self.samples,
            "seconds": round(self.seconds, 3),
        }


def _dt(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class ReconcileSink:
    """Compares each page with the rows of the window it closes (and fixes, if asked)."""

    def __init__(self, drift: Drift, fetcher: Fetcher, *, livemode: bool, fix: bool) -> None:
        self.drift = drift
        self.fetcher = fetcher
        self.livemode = livemode
        self.fix = fix
        self._carry: dict[Any, list[dict[str, Any]]] = {}
        self._upper: dict[Any, int] = {}

    def write(self, resource: Resource, results: list[PageResult]) -> None:
        """Compare the windows these pages close."""
        listed: dict[str, dict[str, Any]] = {}
        scope = Q(pk__in=[])
        for result in results:
            self.drift.listed += len(result.page.objects)
            objects, window = self._window(resource, result)
            for obj in objects:
                listed[obj["id"]] = obj
            scope |= window
        self._compare(resource, listed, scope, results)

    def _window(self, resource: Resource, result: PageResult) -> tuple[list[dict[str, Any]], Q]:
        page, slc = result.page, result.slice
        if resource.per_customer:
            return page.objects, Q(customer_id__in=page.parents or [])
        key = slc.key
        upper = self._upper.get(key, slc.lt)
        pending = {o["id"]: o for o in [*self._carry.pop(key, []), *page.objects]}
        lower = slc.gte if slc.done or page.last_created is None else page.last_created + 1
        complete = [o for o in pending.values() if int(o.get("created") or 0) >= lower]
        if not slc.done:
            self._carry[key] = [o for o in pending.values() if int(o.get("created") or 0) < lower]
            self._upper[key] = lower
        if lower >= upper:
            return complete, Q(pk__in=[])
        return complete, Q(created__gte=_dt(lower), created__lt=_dt(upper))

    def _compare(
        self,
        resource: Resource,
        listed: dict[str, dict[str, Any]],
        scope: Q,
        results: list[PageResult],
    ) -> None:
        model: Any = resource.model_class
        markers = resource.marker_columns
        gone: Any = (
            ExpressionWrapper(resource.gone, output_field=BooleanField())
            if resource.gone is not None
            else Value(False)
        )
        rows = {
            row["stripe_id"]: row
            for row in model._default_manager.filter(scope, livemode=self.livemode)
            .annotate(_gone=gone)
            .values("stripe_id", "_gone", *markers)
        }
        missing_ids = listed.keys() - rows.keys()
        if missing_ids:
            # A row may exist outside the windows (a wrong ``created``): stale, not missing.
            elsewhere = set(
                model._default_manager.filter(
                    stripe_id__in=list(missing_ids), livemode=self.livemode
                ).values_list("stripe_id", flat=True)
            )
            missing_ids -= elsewhere
        else:
            elsewhere = set()
        self.drift.compared_rows += len(rows)
        stale_ids = set(elsewhere)
        for stripe_id, row in rows.items():
            obj = listed.get(stripe_id)
            if obj is None or row["_gone"] or not markers:
                continue
            fields = resource.fields(obj)
            if any(fields.get(m) != row[m] for m in markers):
                stale_ids.add(stripe_id)
        extra_ids = {i for i, row in rows.items() if i not in listed and not row["_gone"]}
        self.drift.note("missing", sorted(missing_ids))
        self.drift.note("stale", sorted(stale_ids))
        self.drift.note("extra", sorted(extra_ids))
        if self.fix and (missing_ids or stale_ids or extra_ids):
            self._repair(resource, listed, missing_ids | stale_ids, extra_ids, results)

    def _repair(
        self,
        resource: Resource,
        listed: dict[str, dict[str, Any]],
        to_write: set[str],
        extra_ids: set[str],
        results: list[PageResult],
    ) -> None:
        fetched = fetch_times(results)
        objects = [listed[i] for i in sorted(to_write)]
        gone_ids: list[str] = []
        for stripe_id in sorted(extra_ids):
            fetched_at = timezone.now()
            try:
                objects.append(self.fetcher.get(resource.retrieve_path.format(id=stripe_id)))
            except StripeAPIError as exc:
                if exc.code != "resource_missing" and exc.http_status != 404:
                    raise
                gone_ids.append(stripe_id)
            else:
                fetched[stripe_id] = fetched_at
        with transaction.atomic():
            if objects:
                write_objects(resource, objects, fetched)
            if gone_ids:
                _forget(resource, gone_ids)
        self.drift.fixed += len(objects) + len(gone_ids)


def _forget(resource: Resource, ids: list[str]) -> None:
    """Record that Stripe no longer has ``ids``: marked deleted through the sync function
    when the model keeps deleted rows, removed otherwise."""
    if resource.gone is not None:
        resource.write([{"id": i, "object": resource.object, "deleted": True} for i in ids])
        return
    model: type[models.Model] = resource.model_class
    model._default_manager.filter(stripe_id__in=ids).delete()


def reconcile(
    resources: Iterable[str] = (),
    *,
    fix: bool = False,
    since: int | None = None,
    workers: int | None = None,
    rate: float | None = None,
    progress: Progress | None = None,
    settings: SyncSettings | None = None,
) -> list[Drift]:
    """Compare ``resources`` (all when empty) with Stripe; repair them with ``fix``. With
    ``rate``, the process's limiter uses that rate while it runs."""
    settings = settings or SyncSettings(since=since, workers=workers, rate=rate)
    if progress is not None:
        settings.progress = progress
    with settings.paced():
        return _reconcile(resources, settings, fix=fix)


def _reconcile(resources: Iterable[str], settings: SyncSettings, *, fix: bool) -> list[Drift]:
    fetcher = settings.fetcher()
    livemode = settings.livemode
    until = int(time.time()) + 1
    report = []
    for resource in select(resources):
        drift = Drift(resource.name)
        started = time.monotonic()
        sink = ReconcileSink(drift, fetcher, livemode=livemode, fix=fix)
        engine = Engine(
            resource,
            fetcher,
            sink,
            workers=settings.effective_workers(),
            batch_size=settings.batch_size,
            progress=settings.progress,
            stop=settings.stop,
        )
        first = Slice(resource.name, livemode, max(0, settings.since or 0), until)
        engine.run([first])
        drift.seconds = time.monotonic() - started
        report.append(drift)
    return report
