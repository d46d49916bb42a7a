"""Storing events once and applying them with retries.

:func:`store_event` is what the webhook view (and ``stripe_process_events --pull``) call;
:func:`process_event` runs the handlers of one event and records the outcome. Backends
decide where and when ``process_event`` runs.
"""

from __future__ import annotations

import logging
import traceback as tb
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from stripe_integrations import signals
from stripe_integrations.conf import get_config
from stripe_integrations.models import Event, EventStatus
from stripe_integrations.sync import mapping
from stripe_integrations.webhooks.registry import registry

log = logging.getLogger("stripe_integrations.webhooks")

CLAIMABLE = (EventStatus.PENDING, EventStatus.FAILED)


@dataclass(frozen=True)
class Outcome:
    """What one attempt did. ``retry_in`` is the delay before the next attempt, if any."""

    event_id: int
    status: str
    retry_in: float | None = None


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


def claim(event_id: int) -> bool:
    """Mark a pending or failed event as processing; False if another worker has it or it
    already succeeded."""
    return bool(
        Event.objects.filter(pk=event_id, status__in=CLAIMABLE).update(
            status=EventStatus.PROCESSING,
            attempts=F("attempts") + 1,
            locked_at=timezone.now(),
            next_attempt_at=None,
        )
    )


def run_handlers(event: Event) -> None:
    """Link the event to its customer, then run every handler registered for its type, all in
    one transaction: a failure leaves no partial write."""
    from stripe_integrations.actions.customer import StripeCustomer

    with transaction.atomic():
        # Link first, so handlers see ``event.customer_id``. When the object is the customer
        # itself, its built-in handler refreshes it: no separate fetch.
        is_customer = event.data_object.get("object") == "customer"
        StripeCustomer.link_customer(event, fetch_missing=not is_customer)
        for func in registry.handlers_for(event.type):
            func(event)


def process_event(event_id: int) -> Outcome:
    """Run the handlers of one event once and record the outcome on its row."""
    if not claim(event_id):
        status = Event.objects.filter(pk=event_id).values_list("status", flat=True).first()
        return Outcome(event_id, str(status or "missing"))
    event = Event.objects.get(pk=event_id)
    try:
        run_handlers(event)
    except Exception as exc:
        return _record_failure(event, exc)
    Event.objects.filter(pk=event_id).update(
        status=EventStatus.SUCCEEDED,
        processed_at=timezone.now(),
        last_error="",
        traceback="",
        locked_at=None,
    )
    event.refresh_from_db()
    signals.event_processed.send(sender=Event, event=event)
    typed = signals.existing_for_type(event.type, "succeeded")
    if typed is not None:
        typed.send(sender=Event, event=event)
    return Outcome(event_id, EventStatus.SUCCEEDED)


def _record_failure(event: Event, exc: Exception) -> Outcome:
    config = get_config()
    will_retry = event.attempts < config.event_max_attempts
    delay = retry_delay(event.attempts) if will_retry else None
    log.warning(
        "stripe event %s (%s) failed on attempt %s%s",
        event.stripe_id,
        event.type,
        event.attempts,
        f", retrying in {delay:.0f}s" if will_retry else ", giving up",
        exc_info=True,
    )
    Event.objects.filter(pk=event.pk).update(
        status=EventStatus.FAILED,
        last_error=f"{type(exc).__name__}: {exc}"[:2000],
        traceback=tb.format_exc()[-20000:],
        locked_at=None,
        next_attempt_at=(timezone.now() + timedelta(seconds=delay)) if delay is not None else None,
    )
    event.refresh_from_db()
    signals.event_failed.send(sender=Event, event=event, exception=exc, will_retry=will_retry)
    typed = signals.existing_for_type(event.type, "failed")
    if typed is not None:
        typed.send(sender=Event, event=event, exception=exc, will_retry=will_retry)
    return Outcome(event.pk, EventStatus.FAILED, delay)
