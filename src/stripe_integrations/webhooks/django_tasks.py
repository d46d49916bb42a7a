"""Task for ``EVENT_BACKEND = "django_tasks"`` (Django 6.0's task framework)."""

from __future__ import annotations

from datetime import timedelta

from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
from django.utils import timezone

from stripe_integrations.conf import get_config
from stripe_integrations.webhooks.processing import drain

#: Batches one task processes before it hands the rest to a new task.
DRAIN_BATCHES = 10


@task()
def drain_events_task() -> int:
    """Process the due events in batches, coalesced by object; schedule the earliest retry
    when the task backend can defer. Returns how many events were processed."""
    outcomes = drain(max_batches=DRAIN_BATCHES)
    if len(outcomes) >= DRAIN_BATCHES * max(1, get_config().event_batch_size):
        enqueue()  # stopped with events left
    retries = [o.retry_in for o in outcomes if o.retry_in is not None]
    if retries:
        enqueue(min(retries))
    return len(outcomes)


def enqueue(delay: float = 0.0) -> None:
    """Enqueue a drain; a delayed one the backend cannot defer is left to
    ``manage.py stripe_process_events`` (the event stays ``failed`` with its due time)."""
    if not delay:
        drain_events_task.enqueue()
        return
    if drain_events_task.get_backend().supports_defer:
        run_after = timezone.now() + timedelta(seconds=delay)
        drain_events_task.using(run_after=run_after).enqueue()
