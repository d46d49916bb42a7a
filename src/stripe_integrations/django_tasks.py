"""Task for ``EVENT_BACKEND = "django_tasks"`` (Django 6.0's task framework)."""

from __future__ import annotations

from datetime import timedelta

from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
from django.utils import timezone

from stripe_integrations.webhooks.processing import process_event


@task()
def process_event_task(event_id: int) -> str:
    """Process one stored event, scheduling the retry when the task backend can defer."""
    outcome = process_event(event_id)
    if outcome.retry_in is not None:
        enqueue(event_id, outcome.retry_in)
    return str(outcome.status)


def enqueue(event_id: int, delay: float = 0.0) -> None:
    """Enqueue processing; a delayed retry the backend cannot defer is left to
    ``manage.py stripe_process_events`` (the event stays ``failed`` with its due time)."""
    if not delay:
        process_event_task.enqueue(event_id)
        return
    if process_event_task.get_backend().supports_defer:
        run_after = timezone.now() + timedelta(seconds=delay)
        process_event_task.using(run_after=run_after).enqueue(event_id)
