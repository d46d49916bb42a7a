"""Where fetched pages go: the mirror and the checkpoints, or nowhere (dry run)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connections, router, transaction

from stripe_integrations.backfill import checkpoints
from stripe_integrations.backfill.engine import PageResult
from stripe_integrations.backfill.registry import Resource
from stripe_integrations.backfill.slices import Slice
from stripe_integrations.sync.upsert import Plan


def latest_states(results: Iterable[PageResult]) -> list[Slice]:
    """The last state of every slice the results mention (new slices included)."""
    states: dict[Any, Slice] = {}
    for result in results:
        for new in result.new_slices:
            states[new.key] = new
        states[result.slice.key] = result.slice
    return list(states.values())


def write_objects(
    resource: Resource, objects: list[dict[str, Any]], fetched: dict[str, datetime]
) -> None:
    """Mirror ``objects`` through the resource's sync function, each with its fetch time
    (``fetched``: id -> when its page was fetched; one call per distinct time)."""
    groups: dict[datetime | None, list[dict[str, Any]]] = {}
    for obj in objects:
        groups.setdefault(fetched.get(obj["id"]), []).append(obj)
    for fetched_at, group in groups.items():
        resource.write(group, fetched_at=fetched_at)


def fetch_times(results: Iterable[PageResult]) -> dict[str, datetime]:
    """id -> when the page that holds it was fetched."""
    return {o["id"]: r.page.fetched_at for r in results for o in r.page.objects}


def _relax_commit(resource: Resource) -> None:
    """On PostgreSQL, do not wait for this batch's commit to reach the disk
    (``synchronous_commit`` off for this transaction only). A crash can lose the last batches
    written, but their checkpoints go with them, in the same transaction: ``--resume`` fetches
    those pages again. The database itself stays consistent."""
    connection = connections[router.db_for_write(resource.model_class)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


class WriteSink:
    """Writes each batch of pages and its checkpoints in one transaction.

    Statements per batch, whatever its size: one write per model (the pages' plans merged,
    or the resource's sync function), one checkpoint upsert. Each row carries its page's
    fetch time, and the write path's freshness rule keeps a row a webhook or an action
    wrote from a later fetch: no query of its own is needed.
    """

    #: Pages come with their plans (mapped in the fetcher threads).
    wants_plans = True

    def __init__(self, run_started: datetime) -> None:
        self.run_started = run_started

    def write(self, resource: Resource, results: list[PageResult]) -> None:
        """Mirror the objects and record where each slice stands."""
        with transaction.atomic():
            _relax_commit(resource)
            pages = [r for r in results if r.page.objects]
            if pages and all(r.plan is not None for r in pages):
                merged = Plan()
                for result in pages:
                    if result.plan is not None:
                        merged.merge(result.plan)
                merged.apply(returning=False)
            elif pages:  # a sync function of its own: map here
                objects = [o for r in pages for o in r.page.objects]
                write_objects(resource, objects, fetch_times(pages))
            checkpoints.save(latest_states(results), self.run_started)


class DryRunSink:
    """Counts what would be written; writes nothing."""

    def __init__(self) -> None:
        self.objects = 0

    def write(self, resource: Resource, results: list[PageResult]) -> None:
        """Count the objects."""
        self.objects += sum(len(r.page.objects) for r in results)
