"""Re-fetching selected rows from Stripe through the sync path, and saying how it went."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import stripe
from django.contrib import messages
from django.contrib.admin.utils import model_ngettext
from django.db import models
from django.http import HttpRequest

from stripe_integrations.admin.display import redact
from stripe_integrations.exceptions import StripeAPIError, StripeIntegrationError

#: Errors after which the remaining rows are not tried: Stripe is unreachable, failing,
#: refusing the key, or rate limiting; every other row would fail the same way.
STOPPING_STATUSES = frozenset({401, 403, 429})
#: Ids named in one message at most.
SHOWN_IDS = 10


@dataclass
class Outcome:
    """What happened to each selected row."""

    refreshed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    not_attempted: int = 0


def stops_the_run(exc: Exception) -> bool:
    """Whether ``exc`` means the next rows would fail too."""
    if not isinstance(exc, StripeAPIError | stripe.StripeError):
        return False
    status = exc.http_status
    return status is None or status >= 500 or status in STOPPING_STATUSES


def refresh_rows(
    rows: Sequence[models.Model], fetch: Callable[[Any], models.Model | None]
) -> Outcome:
    """Call ``fetch`` on each row (it returns the refreshed row, or None when Stripe no
    longer has the object). Stripe errors are recorded, never raised."""
    outcome = Outcome()
    for index, row in enumerate(rows):
        stripe_id = str(getattr(row, "stripe_id", row.pk))
        try:
            refreshed = fetch(row)
        except (StripeIntegrationError, stripe.StripeError) as exc:
            outcome.failed.append((stripe_id, redact(str(exc))))
            if stops_the_run(exc):
                outcome.not_attempted = len(rows) - index - 1
                break
            continue
        (outcome.refreshed if refreshed is not None else outcome.missing).append(stripe_id)
    return outcome


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return shown + (f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")


def report(
    model_admin: Any, request: HttpRequest, outcome: Outcome, missing_note: str = ""
) -> None:
    """One message per kind of result, through ``message_user``."""
    opts = model_admin.model._meta

    def name(count: int) -> str:
        return f"{count} {model_ngettext(opts, count)}"

    if outcome.refreshed:
        model_admin.message_user(
            request, f"Synced {name(len(outcome.refreshed))} from Stripe.", messages.SUCCESS
        )
    if outcome.missing:
        model_admin.message_user(
            request,
            f"Stripe no longer has {name(len(outcome.missing))}{missing_note}: "
            f"{_ids(outcome.missing)}.",
            messages.WARNING,
        )
    if outcome.failed:
        details = "; ".join(f"{sid}: {error}" for sid, error in outcome.failed[:SHOWN_IDS])
        model_admin.message_user(
            request,
            f"Could not sync {name(len(outcome.failed))} from Stripe ({details}).",
            messages.ERROR,
        )
    if outcome.not_attempted:
        model_admin.message_user(
            request,
            f"Stopped after that error: {name(outcome.not_attempted)} not attempted.",
            messages.ERROR,
        )
