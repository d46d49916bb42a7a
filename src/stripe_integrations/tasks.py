"""Celery task for ``EVENT_BACKEND = "celery"`` (found by ``app.autodiscover_tasks()``)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

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
    until ``EVENT_MAX_ATTEMPTS`` is reached (the event then stays ``failed``)."""
    outcome = process_event(event_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status
