"""The Django task framework backend (Django 6.0+)."""

from __future__ import annotations

from typing import Any

import django
import pytest
from django.test import Client

from stripe_integrations.models import Customer, Event, EventStatus
from stripe_integrations.testing import FakeStripe
from stripe_integrations.testing.webhooks import build_event, post_event

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(django.VERSION < (6, 0), reason="django.tasks needs Django 6.0+"),
]


def test_django_tasks_backend_processes_after_commit(
    fake_stripe: FakeStripe, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    settings.STRIPE_CONFIG = {**settings.STRIPE_CONFIG, "EVENT_BACKEND": "django_tasks"}
    customer = fake_stripe.add("customer", email="tasks@example.com")
    event = build_event("customer.updated", customer)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(Client(), event).status_code == 200
    stored = Event.objects.get(stripe_id=event["id"])
    assert stored.status == EventStatus.SUCCEEDED
    assert Customer.objects.get(stripe_id=customer["id"]).email == "tasks@example.com"


def test_django_tasks_retry_that_cannot_be_deferred_waits_for_the_command(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from stripe_integrations.webhooks import registry

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    settings.STRIPE_CONFIG = {
        **settings.STRIPE_CONFIG,
        "EVENT_BACKEND": "django_tasks",
        "EVENT_RETRY_DELAY": 30,
    }

    def broken(event: Event) -> None:
        raise RuntimeError("once")

    registry.register("test.tasks", broken)
    try:
        event = build_event("test.tasks", {"id": "o", "object": "thing"})
        with django_capture_on_commit_callbacks(execute=True):
            post_event(Client(), event)
    finally:
        registry.unregister(broken)
    stored = Event.objects.get(stripe_id=event["id"])
    assert stored.status == EventStatus.FAILED and stored.attempts == 1
    assert stored.next_attempt_at is not None
