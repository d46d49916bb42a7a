"""Celery task for ``EVENT_BACKEND = "celery"`` (found by ``app.autodiscover_tasks()``)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from stripe_integrations.models import EventStatus
from stripe_integrations.webhooks import leases
from stripe_integrations.webhooks.processing import process_event


@shared_task(
    bind=True,
    name="stripe_integrations.process_event",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def process_event_task(self: Any, event_id: int) -> str:
    """Process one stored event; a failure is retried after the library's backoff delay
    until ``EVENT_MAX_ATTEMPTS`` is reached (the event then stays ``failed``).

    An event another worker holds (a redelivery after a worker was lost, whose lease has not
    expired yet) is looked at again once a lease has passed: by then it has succeeded, or its
    dead worker's lease has expired and this task takes it over."""
    outcome = process_event(event_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    if outcome.status == EventStatus.PROCESSING:
        raise self.retry(countdown=leases.lease_seconds())
    return outcome.status
