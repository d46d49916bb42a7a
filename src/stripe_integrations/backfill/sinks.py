"""Where fetched pages go: the mirror and the checkpoints, or nowhere (dry run)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction

from stripe_integrations.backfill import checkpoints
from stripe_integrations.backfill.engine import PageResult
from stripe_integrations.backfill.registry import Resource
from stripe_integrations.backfill.slices import Slice


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
    model: Any = resource.model_class
    newer = dict(
        model._default_manager.filter(
            stripe_id__in=list(fetched), synced_at__gt=min(fetched.values())
        ).values_list("stripe_id", "synced_at")
    )
    if not newer:
        return objects
    return [o for o in objects if not (o["id"] in newer and newer[o["id"]] > fetched[o["id"]])]


class WriteSink:
    """Writes each batch of pages and its checkpoints in one transaction.

    Statements per batch, whatever its size: one ``SELECT`` (rows written since the fetch),
    the resource's sync function (one upsert per model), one checkpoint upsert.
    """

    def __init__(self, run_started: datetime) -> None:
        self.run_started = run_started

    def write(self, resource: Resource, results: list[PageResult]) -> None:
        """Mirror the objects and record where each slice stands."""
        with transaction.atomic():
            fresh = drop_overtaken(resource, results)
            if fresh:
                resource.write(fresh)
            checkpoints.save(latest_states(results), self.run_started)


class DryRunSink:
    """Counts what would be written; writes nothing."""

    def __init__(self) -> None:
        self.objects = 0

    def write(self, resource: Resource, results: list[PageResult]) -> None:
        """Count the objects."""
        self.objects += sum(len(r.page.objects) for r in results)
