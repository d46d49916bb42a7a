"""``manage.py stripe_sync [RESOURCE ...]``: mirror a whole Stripe account (backfill)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from stripe_integrations.backfill.engine import ResourceStats
from stripe_integrations.backfill.progress import ConsoleProgress, SilentProgress, describe
from stripe_integrations.backfill.registry import resource_names, select
from stripe_integrations.backfill.run import SyncSettings, run_sync
from stripe_integrations.exceptions import StripeIntegrationError
from stripe_integrations.management.commands.stripe_process_events import parse_since


class Command(BaseCommand):
    help = (
        "Mirror Stripe objects into the database: every resource (in dependency order) or "
        "the ones named. Pages of 100 are fetched concurrently within a rate limit and "
        "written in bulk with a checkpoint; --resume continues an interrupted run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "resources",
            nargs="*",
            metavar="RESOURCE",
            help=f"default: all ({', '.join(resource_names())})",
        )
        parser.add_argument("--since", help="created since: date, ISO time, or 30m/12h/7d")
        parser.add_argument(
            "--workers", type=int, help="concurrent page chains (default: from the rate)"
        )
        parser.add_argument(
            "--writers",
            type=int,
            help="database connections writing at once, on PostgreSQL (default: 2)",
        )
        parser.add_argument(
            "--rate", type=float, help="requests per second (default: SYNC_RATE_LIMIT)"
        )
        parser.add_argument(
            "--resume", action="store_true", help="continue the last run where it stopped"
        )
        parser.add_argument("--dry-run", action="store_true", help="fetch and count, write nothing")
        parser.add_argument(
            "--backend",
            choices=("threads", "celery"),
            default="threads",
            help="threads in this process (default), or one Celery task per slice",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress output")

    def _progress_stream(self) -> Any:
        """The command's stderr stream itself (progress redraws lines without a newline)."""
        return getattr(self.stderr, "_out", sys.stderr)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            resources = select(options["resources"])
        except KeyError as exc:
            raise CommandError(str(exc.args[0])) from exc
        names = [r.name for r in resources]
        since = int(parse_since(options["since"]).timestamp()) if options["since"] else None
        if options["workers"] is not None and options["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        if options["writers"] is not None and options["writers"] < 1:
            raise CommandError("--writers must be at least 1")
        if options["rate"] is not None and options["rate"] <= 0:
            raise CommandError("--rate must be positive")
        progress = (
            SilentProgress()
            if options["no_progress"] or options["verbosity"] < 1
            else ConsoleProgress(self._progress_stream())
        )
        settings = SyncSettings(
            since=since,
            workers=options["workers"],
            writers=options["writers"],
            rate=options["rate"],
            resume=options["resume"],
            dry_run=options["dry_run"],
            progress=progress,
        )
        try:
            if options["backend"] == "celery":
                if options["dry_run"]:
                    raise CommandError("--dry-run runs in this process: drop --backend celery")
                from stripe_integrations.backfill.celery_backend import run_with_celery

                results = run_with_celery(names, settings)
            else:
                results = run_sync(names, settings)
        except KeyboardInterrupt:
            self.stderr.write("interrupted: run again with --resume to continue")
            raise CommandError("interrupted", returncode=130) from None
        except StripeIntegrationError as exc:
            raise CommandError(f"{exc} (pages written so far are kept: --resume)") from exc
        self._summary(results, dry_run=options["dry_run"])

    def _summary(self, results: list[ResourceStats], *, dry_run: bool) -> None:
        verb = "would write" if dry_run else "synced"
        total = 0
        for stats in results:
            if stats.skipped:
                self.stdout.write(f"{stats.resource}: {stats.skipped}")
                continue
            total += stats.objects
            self.stdout.write(f"{describe(stats)}, {stats.seconds:.1f}s")
        self.stdout.write(f"{verb} {total:,} objects")
