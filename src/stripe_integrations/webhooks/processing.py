"""Storing events once and applying them with retries.

:func:`store_event` is what the webhook view (and ``stripe_process_events --pull``) call;
:func:`process_event` runs the handlers of one event and records the outcome. Backends
decide where and when ``process_event`` runs.
"""

from __future__ import annotations

import logging
import re
import traceback as tb
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from stripe_integrations import signals
from stripe_integrations.conf import get_config
from stripe_integrations.models import Event, EventStatus
from stripe_integrations.ratelimit import background
from stripe_integrations.sync import mapping
from stripe_integrations.webhooks import leases
from stripe_integrations.webhooks.registry import registry

log = logging.getLogger("stripe_integrations.webhooks")

CLAIMABLE = (EventStatus.PENDING, EventStatus.FAILED)


@dataclass(frozen=True)
class Outcome:
    """What one attempt did. ``retry_in`` is the delay before the next attempt, if any."""

    event_id: int
    status: str
    retry_in: float | None = None


#: Stripe's ids and event types: printable ASCII without spaces, at most 255 characters.
_TOKEN_RE = re.compile(r"[!-~]{1,255}")


def event_problem(data: Any) -> str | None:
    """Why ``data`` cannot be stored as an event (its id or type fits no column, it has no
    ``data.object``...), or None. The webhook view answers the reason with a 400."""
    if not isinstance(data, dict) or data.get("object") != "event":
        return "body is not a Stripe event"
    event_id = data.get("id")
    if not isinstance(event_id, str) or not event_id.startswith("evt_"):
        return "event id is missing or malformed"
    if not _TOKEN_RE.fullmatch(event_id):
        return "event id is missing or malformed"
    event_type = data.get("type")
    if not isinstance(event_type, str) or not event_type:
        return "event type is missing"
    if not _TOKEN_RE.fullmatch(event_type):
        return "event type is malformed"
    inner = data.get("data")
    if not isinstance(inner, dict) or not isinstance(inner.get("object"), dict):
        return "event has no data.object"
    if not isinstance(data.get("livemode"), bool):
        return "event livemode is missing"
    return None


def store_event(
    data: dict[str, Any], *, source: str = "webhook", enqueue: bool = True
) -> tuple[Event | None, bool]:
    """Store a verified event once. Returns ``(event, True)`` when new (with ``enqueue``,
    processing is handed to the backend after commit) and ``(None, False)`` for a duplicate,
    which changes nothing."""
    from stripe_integrations.webhooks.backends import get_backend

    fields = mapping.event_fields(data)
    try:
        with transaction.atomic():
            event = Event.objects.create(**fields, status=EventStatus.PENDING, source=source)
            if enqueue:
                backend = get_backend()
                transaction.on_commit(lambda: backend.enqueue(event.pk))
    except IntegrityError:
        if not Event.objects.filter(stripe_id=fields["stripe_id"]).exists():
            raise
        return None, False
    # A failing receiver must not turn a stored delivery into an error answer.
    for receiver, result in signals.event_received.send_robust(sender=Event, event=event):
        if isinstance(result, Exception):
            log.error("event_received receiver %r failed", receiver, exc_info=result)
    return event, True


def retry_delay(attempts: int) -> float:
    """Exponential backoff: ``EVENT_RETRY_DELAY * 2**(attempts-1)``, capped."""
    config = get_config()
    delay = config.event_retry_delay * (2 ** max(attempts - 1, 0))
    return float(min(delay, config.event_retry_max_delay))


def claim(event_id: int) -> int | None:
    """Take a pending or failed event (or one whose worker's lease expired) for processing.

    Returns the lease's token (the attempt number), or None if another worker holds it or it
    is done."""
    claimable = Q(status__in=CLAIMABLE) | leases.abandoned()
    taken = Event.objects.filter(claimable, pk=event_id).update(
        status=EventStatus.PROCESSING,
        attempts=F("attempts") + 1,
        locked_at=timezone.now(),
        next_attempt_at=None,
    )
    if not taken:
        return None
    return Event.objects.filter(pk=event_id).values_list("attempts", flat=True).first()


def _held(event_id: int, token: int) -> QuerySet[Event]:
    """The event, if the lease ``token`` still holds it."""
    return Event.objects.filter(pk=event_id, status=EventStatus.PROCESSING, attempts=token)


class LeaseLost(Exception):
    """Another worker took the event over after this worker's lease expired."""


def skip_reason(event: Event) -> str | None:
    """Why an event is stored but not applied, or None to apply it."""
    account = (event.raw or {}).get("account")
    if account:
        shown = account if isinstance(account, str) else repr(account)
        return (
            f"event of the connected account {shown[:255]}: connected accounts are not "
            "mirrored (connect to the event_skipped signal to handle it)"
        )
    return None


def run_handlers(event: Event) -> None:
    """Link the event to its customer, then run every handler registered for its type, all in
    one transaction: a failure leaves no partial write. Their Stripe requests are background
    work for the rate limiter (:func:`stripe_integrations.ratelimit.background`)."""
    from stripe_integrations.actions.customer import StripeCustomer

    with background(), transaction.atomic():
        # Link first, so handlers see ``event.customer_id``. When the object is the customer
        # itself, its built-in handler refreshes it: no separate fetch.
        is_customer = event.data_object.get("object") == "customer"
        StripeCustomer.link_customer(event, fetch_missing=not is_customer)
        for func in registry.handlers_for(event.type):
            func(event)


def process_event(event_id: int) -> Outcome:
    """Run the handlers of one event once and record the outcome on its row.

    The handlers' writes and the ``succeeded`` mark commit in one transaction, which also
    checks that this worker still holds the event's lease: a crash at any point leaves the
    event either applied and succeeded, or untouched and claimable again.
    """
    token = claim(event_id)
    if token is None:
        status = Event.objects.filter(pk=event_id).values_list("status", flat=True).first()
        return Outcome(event_id, str(status or "missing"))
    event = Event.objects.get(pk=event_id)
    reason = skip_reason(event)
    if reason is not None:
        return _record_skip(event, token, reason)
    try:
        with leases.hold(event_id, token), transaction.atomic():
            run_handlers(event)
            done = _held(event_id, token).update(
                status=EventStatus.SUCCEEDED,
                processed_at=timezone.now(),
                last_error="",
                traceback="",
                locked_at=None,
            )
            if not done:
                raise LeaseLost(f"event {event.stripe_id}: lease {token} expired")
    except LeaseLost:
        log.warning(
            "stripe event %s (%s): another worker took it over; this attempt's writes were "
            "rolled back",
            event.stripe_id,
            event.type,
        )
        return Outcome(event_id, EventStatus.PROCESSING)
    except Exception as exc:
        return _record_failure(event, token, exc)
    event.refresh_from_db()
    signals.event_processed.send(sender=Event, event=event)
    typed = signals.existing_for_type(event.type, "succeeded")
    if typed is not None:
        typed.send(sender=Event, event=event)
    return Outcome(event_id, EventStatus.SUCCEEDED)


def _record_skip(event: Event, token: int, reason: str) -> Outcome:
    log.info("stripe event %s (%s) skipped: %s", event.stripe_id, event.type, reason)
    _held(event.pk, token).update(
        status=EventStatus.SKIPPED,
        processed_at=timezone.now(),
        last_error=reason,
        traceback="",
        locked_at=None,
    )
    event.refresh_from_db()
    for receiver, result in signals.event_skipped.send_robust(
        sender=Event, event=event, reason=reason
    ):
        if isinstance(result, Exception):
            log.error("event_skipped receiver %r failed", receiver, exc_info=result)
    return Outcome(event.pk, EventStatus.SKIPPED)


def _record_failure(event: Event, token: int, exc: Exception) -> Outcome:
    config = get_config()
    will_retry = token < config.event_max_attempts
    delay = retry_delay(token) if will_retry else None
    log.warning(
        "stripe event %s (%s) failed on attempt %s%s",
        event.stripe_id,
        event.type,
        token,
        f", retrying in {delay:.0f}s" if will_retry else ", giving up",
        exc_info=True,
    )
    recorded = _held(event.pk, token).update(
        status=EventStatus.FAILED,
        last_error=f"{type(exc).__name__}: {exc}"[:2000],
        traceback=tb.format_exc()[-20000:],
        locked_at=None,
        next_attempt_at=(timezone.now() + timedelta(seconds=delay)) if delay is not None else None,
    )
    if not recorded:  # another worker has it now: its outcome is the one that counts
        return Outcome(event.pk, EventStatus.PROCESSING)
    event.refresh_from_db()
    signals.event_failed.send(sender=Event, event=event, exception=exc, will_retry=will_retry)
    typed = signals.existing_for_type(event.type, "failed")
    if typed is not None:
        typed.send(sender=Event, event=event, exception=exc, will_retry=will_retry)
    return Outcome(event.pk, EventStatus.FAILED, delay)
