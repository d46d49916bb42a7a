"""Celery tasks for ``EVENT_BACKEND = "celery"`` (found by ``app.autodiscover_tasks()``)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from stripe_integrations.conf import get_config
from stripe_integrations.models import EventStatus
from stripe_integrations.webhooks import leases
from stripe_integrations.webhooks.processing import drain, process_event

#: Batches one drain task processes before it hands the rest to a new task.
DRAIN_BATCHES = 10


@shared_task(
    bind=True,
    name="stripe_integrations.drain_events",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def drain_events_task(self: Any) -> int:
    """Process the due events in batches of ``EVENT_BATCH_SIZE``, coalesced by object (see
    :func:`~stripe_integrations.webhooks.processing.process_batch`); several workers drain
    disjoint batches at once. Returns how many events were processed.

    Then it schedules what comes next: another drain at once when it stopped with events
    left, one at the earliest retry of the events that failed, and, when it is the
    redelivery of a task whose worker was lost and found nothing to take (the dead worker's
    lease still runs), one after a lease."""
    outcomes = drain(max_batches=DRAIN_BATCHES)
    options = _options()
    if len(outcomes) >= DRAIN_BATCHES * max(1, get_config().event_batch_size):
        drain_events_task.apply_async(**options)
    retries = [o.retry_in for o in outcomes if o.retry_in is not None]
    if retries:
        drain_events_task.apply_async(countdown=min(retries), **options)
    redelivered = bool((getattr(self.request, "delivery_info", None) or {}).get("redelivered"))
    if redelivered and not outcomes:
        drain_events_task.apply_async(countdown=leases.lease_seconds(), **options)
    return len(outcomes)


def _options() -> dict[str, Any]:
    queue = get_config().celery_queue
    return {"queue": queue} if queue else {}


@shared_task(
    bind=True,
    name="stripe_integrations.process_event",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def process_event_task(self: Any, event_id: int) -> str:
    """Process one stored event (tasks queued by earlier releases; the backend now sends
    :func:`drain_events_task`). A failure is retried after the library's backoff delay until
    ``EVENT_MAX_ATTEMPTS`` is reached (the event then stays ``failed``).

    An event another worker holds (a redelivery after a worker was lost, whose lease has not
    expired yet) is looked at again once a lease has passed: by then it has succeeded, or its
    dead worker's lease has expired and this task takes it over."""
    outcome = process_event(event_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    if outcome.status == EventStatus.PROCESSING:
        raise self.retry(countdown=leases.lease_seconds())
    return outcome.status
