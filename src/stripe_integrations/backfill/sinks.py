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


def drop_overtaken(resource: Resource, results: list[PageResult]) -> list[dict[str, Any]]:
    """The objects of ``results`` minus those whose row was written after the page was
    fetched (by a webhook or an action): that row is at least as new. One query."""
    fetched: dict[str, datetime] = {}
    objects: list[dict[str, Any]] = []
    for result in results:
        for obj in result.page.objects:
            fetched[obj["id"]] = result.page.fetched_at
            objects.append(obj)
    if not objects:
        return []
    newer = _written_since(resource.model_class, list(fetched), min(fetched.values()))
    if not newer:
        return objects
    return [o for o in objects if not (o["id"] in newer and newer[o["id"]] > fetched[o["id"]])]


def _relax_commit(resource: Resource) -> None:
    """On PostgreSQL, do not wait for this batch's commit to reach the disk
    (``synchronous_commit`` off for this transaction only). A crash can lose the last batches
    written, but their checkpoints go with them, in the same transaction: ``--resume`` fetches
    those pages again. The database itself stays consistent."""
    connection = connections[router.db_for_write(resource.model_class)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _written_since(model: Any, ids: list[str], since: datetime) -> dict[str, datetime]:
    """``{stripe_id: synced_at}`` of the rows of ``ids`` written after ``since``."""
    connection = connections[router.db_for_read(model)]
    if connection.vendor == "postgresql" and not any("," in i for i in ids):
        # One array parameter instead of a thousand: PostgreSQL plans it in no time.
        quote = connection.ops.quote_name
        sql = (
            f"SELECT {quote('stripe_id')}, {quote('synced_at')} FROM "
            f"{quote(model._meta.db_table)} WHERE {quote('stripe_id')} = "
            f"ANY(string_to_array(%s, ',')) AND {quote('synced_at')} > %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [",".join(ids), since])
            return dict(cursor.fetchall())
    return dict(
        model._default_manager.filter(stripe_id__in=ids, synced_at__gt=since).values_list(
            "stripe_id", "synced_at"
        )
    )


class WriteSink:
    """Writes each batch of pages and its checkpoints in one transaction.

    Statements per batch, whatever its size: one ``SELECT`` (rows written since the fetch),
    one write per model (the pages' plans merged, or the resource's sync function), one
    checkpoint upsert.
    """

    #: Pages come with their plans (mapped in the fetcher threads).
    wants_plans = True

    def __init__(self, run_started: datetime) -> None:
        self.run_started = run_started

    def write(self, resource: Resource, results: list[PageResult]) -> None:
        """Mirror the objects and record where each slice stands."""
        with transaction.atomic():
            _relax_commit(resource)
            fresh = drop_overtaken(resource, results)
            total = sum(len(r.page.objects) for r in results)
            plans = [r.plan for r in results if r.page.objects]
            if fresh and len(fresh) == total and all(p is not None for p in plans):
                merged = Plan()
                for plan in plans:
                    if plan is not None:
                        merged.merge(plan)
                merged.apply(returning=False)
            elif fresh:  # some rows are newer than their page: map what is left
                resource.write(fresh)
            checkpoints.save(latest_states(results), self.run_started)


class DryRunSink:
    """Counts what would be written; writes nothing."""

    def __init__(self) -> None:
        self.objects = 0

    def write(self, resource: Resource, results: list[PageResult]) -> None:
        """Count the objects."""
        self.objects += sum(len(r.page.objects) for r in results)
