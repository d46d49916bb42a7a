"""``manage.py stripe_reconcile [RESOURCE ...]``: find rows that drifted from Stripe."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from stripe_integrations.backfill.progress import ConsoleProgress, SilentProgress
from stripe_integrations.backfill.reconcile import Drift, reconcile
from stripe_integrations.backfill.registry import resource_names, select
from stripe_integrations.backfill.run import SyncSettings
from stripe_integrations.exceptions import StripeIntegrationError
from stripe_integrations.management.commands.stripe_process_events import parse_since


class Command(BaseCommand):
    help = (
        "Compare the mirror with Stripe (ids and change markers such as status) and report "
        "missing, stale and extra rows per resource; --fix repairs them through the sync path."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "resources",
            nargs="*",
            metavar="RESOURCE",
            help=f"default: all ({', '.join(resource_names())})",
        )
        parser.add_argument("--fix", action="store_true", help="repair what differs")
        parser.add_argument("--since", help="created since: date, ISO time, or 30m/12h/7d")
        parser.add_argument("--workers", type=int, help="concurrent page chains")
        parser.add_argument("--rate", type=float, help="requests per second")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument(
            "--check", action="store_true", help="exit with status 1 when drift is left"
        )

    def _progress_stream(self) -> Any:
        """The command's stderr stream itself (progress redraws lines without a newline)."""
        return getattr(self.stderr, "_out", sys.stderr)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            names = [r.name for r in select(options["resources"])]
        except KeyError as exc:
            raise CommandError(str(exc.args[0])) from exc
        since = int(parse_since(options["since"]).timestamp()) if options["since"] else None
        quiet = options["json"] or options["verbosity"] < 1
        settings = SyncSettings(
            since=since,
            workers=options["workers"],
            rate=options["rate"],
            progress=SilentProgress() if quiet else ConsoleProgress(self._progress_stream()),
        )
        try:
            report = reconcile(names, fix=options["fix"], settings=settings)
        except KeyboardInterrupt:
            raise CommandError("interrupted", returncode=130) from None
        except StripeIntegrationError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps([d.as_dict() for d in report], indent=2))
        else:
            for drift in report:
                self.stdout.write(self._line(drift, fixing=options["fix"]))
                if options["verbosity"] >= 2:
                    for kind, ids in drift.samples.items():
                        if ids:
                            self.stdout.write(f"  {kind}: {' '.join(ids)}")
        left = [d for d in report if not d.clean and not options["fix"]]
        if options["check"] and left:
            raise CommandError(f"drift in {', '.join(d.resource for d in left)}", returncode=1)

    def _line(self, drift: Drift, *, fixing: bool) -> str:
        text = (
            f"{drift.resource}: {drift.listed:,} in Stripe, {drift.missing:,} missing, "
            f"{drift.stale:,} stale, {drift.extra:,} extra"
        )
        if fixing:
            text += f", {drift.fixed:,} fixed"
        return text
