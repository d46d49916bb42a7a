"""Selecting events to (re)process, and pulling missed ones from Stripe's Events API."""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from django.db.models import Q, QuerySet
from django.utils import timezone

from stripe_integrations.client import get_client
from stripe_integrations.exceptions import stripe_errors
from stripe_integrations.models import Event, EventStatus
from stripe_integrations.sync import mapping
from stripe_integrations.webhooks import leases
from stripe_integrations.webhooks.processing import event_problem, store_event

log = logging.getLogger("stripe_integrations.webhooks")

#: How long the Events API keeps events.
EVENTS_API_RETENTION = timedelta(days=30)


def due_events(
    *,
    failed_only: bool = False,
    ids: Iterable[str] = (),
    type_pattern: str | None = None,
    since: datetime | None = None,
    include_not_due: bool = False,
) -> QuerySet[Event]:
    """Events to process: pending ones, failed ones whose retry is due (or all failed ones
    with ``include_not_due``), and ones stuck in ``processing``. ``ids`` selects events by
    Stripe id whatever their status (a replay)."""
    ids = list(ids)
    queryset = Event.objects.all()
    if ids:
        queryset = queryset.filter(stripe_id__in=ids)
    else:
        now = timezone.now()
        failed = Q(status=EventStatus.FAILED)
        if not include_not_due:
            # Due retries only: an event that used up its attempts has no next attempt and
            # waits for an explicit --failed (or --ids) run.
            failed &= Q(next_attempt_at__lte=now)
        stuck = leases.abandoned()
        wanted = failed if failed_only else (Q(status=EventStatus.PENDING) | failed | stuck)
        queryset = queryset.filter(wanted)
    if since is not None:
        queryset = queryset.filter(created__gte=since)
    if type_pattern:
        if any(c in type_pattern for c in "*?["):
            prefix = type_pattern.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]
            matching = [
                t
                for t in queryset.filter(type__startswith=prefix)
                .values_list("type", flat=True)
                .distinct()
                if fnmatch.fnmatchcase(t, type_pattern)
            ]
            queryset = queryset.filter(type__in=matching)
        else:
            queryset = queryset.filter(type=type_pattern)
    return queryset.order_by("created", "id")


def release_stuck() -> int:
    """Make events abandoned in ``processing`` by a dead worker (lease expired) pending."""
    return Event.objects.filter(leases.abandoned()).update(
        status=EventStatus.PENDING, locked_at=None
    )


def reset_for_replay(queryset: QuerySet[Event]) -> int:
    """Make the selected events processable again (status ``pending``)."""
    return queryset.exclude(status=EventStatus.PROCESSING).update(
        status=EventStatus.PENDING, next_attempt_at=None
    ) + queryset.filter(leases.abandoned()).update(status=EventStatus.PENDING, next_attempt_at=None)


def pull_events(
    since: datetime | None = None, type_pattern: str | None = None, *, store: bool = True
) -> tuple[int, int]:
    """Store events from Stripe's Events API (at most 30 days back) that the mirror lacks.

    Returns ``(seen, new)``; with ``store=False`` nothing is written (a dry run). Stored
    events are then processed like webhook deliveries.
    """
    oldest = timezone.now() - EVENTS_API_RETENTION
    start = max(since, oldest) if since else oldest
    params: dict[str, Any] = {"created": {"gte": int(start.timestamp())}, "limit": 100}
    if type_pattern:
        params["type"] = type_pattern
    seen = stored = 0
    with stripe_errors():
        page = get_client().v1.events.list(params=cast(Any, params))
        while True:
            batch = [mapping.as_dict(e) for e in page.data]
            known = set(
                Event.objects.filter(stripe_id__in=[e["id"] for e in batch]).values_list(
                    "stripe_id", flat=True
                )
            )
            for data in batch:
                seen += 1
                if data["id"] in known:
                    continue
                problem = event_problem(data)
                if problem is not None:
                    log.warning("event %r from the Events API not stored: %s", data["id"], problem)
                    continue
                if not store or store_event(data, source="api")[1]:
                    stored += 1
            if not page.has_more or not batch:
                break
            page = page.next_page()
    return seen, stored
