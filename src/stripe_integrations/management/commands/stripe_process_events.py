"""``manage.py stripe_process_events``: (re)process stored events, optionally pulling missed
ones from Stripe's Events API first."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from stripe_integrations.conf import get_config
from stripe_integrations.models import EventStatus
from stripe_integrations.webhooks.processing import process_batch
from stripe_integrations.webhooks.replay import (
    due_events,
    pull_events,
    release_stuck,
    reset_for_replay,
)

DURATION_RE = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str) -> datetime:
    """``2026-11-01``, an ISO datetime, or a duration back from now (``30m``, ``12h``, ``7d``)."""
    match = DURATION_RE.match(value)
    if match:
        return timezone.now() - timedelta(**{UNITS[match[2]]: int(match[1])})
    parsed = parse_datetime(value) or parse_datetime(f"{value}T00:00:00")
    if parsed is None:
        raise CommandError(f"--since: cannot read {value!r} (use 2026-11-01, an ISO time or 7d)")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = (
        "Process pending events, failed events whose retry is due, and events a dead worker "
        "left in processing (its lease, EVENT_LEASE_SECONDS, expired). --failed retries "
        "every failed event (also those out of attempts); --ids replays given events whatever "
        "their status; --pull first fetches events the mirror lacks from Stripe's Events API "
        "(30 days at most)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--failed", action="store_true", help="only failed events")
        parser.add_argument("--ids", nargs="+", default=[], metavar="EVT", help="Stripe ids")
        parser.add_argument("--type", dest="type_pattern", help="event type or glob")
        parser.add_argument("--since", help="created since: date, ISO time, or 30m/12h/7d")
        parser.add_argument(
            "--pull", action="store_true", help="fetch missed events from Stripe first"
        )
        parser.add_argument(
            "--now", action="store_true", help="failed events too, even if their retry is not due"
        )
        parser.add_argument("--dry-run", action="store_true", help="list, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        since = parse_since(options["since"]) if options["since"] else None
        if options["pull"]:
            seen, stored = pull_events(since, options["type_pattern"], store=not options["dry_run"])
            verb = "would store" if options["dry_run"] else "new"
            self.stdout.write(f"pulled {seen} events from Stripe, {stored} {verb}")
        if not options["dry_run"] and not options["ids"]:
            released = release_stuck()
            if released:
                self.stdout.write(f"{released} events abandoned in processing made pending")
        selected = due_events(
            failed_only=options["failed"],
            ids=options["ids"],
            type_pattern=options["type_pattern"],
            since=since,
            include_not_due=options["now"] or options["failed"],
        )
        if options["ids"]:
            found = set(selected.values_list("stripe_id", flat=True))
            missing = sorted(set(options["ids"]) - found)
            if missing:
                self.stderr.write(f"unknown event ids: {', '.join(missing)}")
        if options["dry_run"]:
            for event in selected:
                self.stdout.write(f"{event.stripe_id} {event.type} {event.status}")
            return
        event_ids = list(selected.values_list("pk", flat=True))
        if options["ids"]:
            reset_for_replay(selected)
        counts = {EventStatus.SUCCEEDED: 0, EventStatus.FAILED: 0, "skipped": 0}
        size = max(1, get_config().event_batch_size)
        for start in range(0, len(event_ids), size):
            chunk = event_ids[start : start + size]
            outcomes = {outcome.event_id: outcome for outcome in process_batch(chunk)}
            for pk in chunk:
                outcome = outcomes.get(pk)
                key = outcome.status if outcome and outcome.status in counts else "skipped"
                counts[key] += 1
        self.stdout.write(
            f"processed {len(event_ids)} events: {counts[EventStatus.SUCCEEDED]} succeeded, "
            f"{counts[EventStatus.FAILED]} failed, {counts['skipped']} skipped"
        )
        if counts[EventStatus.FAILED]:
            raise CommandError(f"{counts[EventStatus.FAILED]} events failed")
