"""Stripe events, as received by webhook or read from the Events API."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from stripe_integrations.models.base import StripeModel, stripe_fk


class EventStatus(models.TextChoices):
    """Where an event is in its processing."""

    PENDING = "pending", "pending"
    PROCESSING = "processing", "processing"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"
    #: Stored but deliberately not applied (an event of a Connect account); the reason is in
    #: ``last_error``.
    SKIPPED = "skipped", "skipped"


class AbstractEvent(StripeModel):
    """A Stripe event. ``raw`` is the whole event; ``customer`` is set by ``link_customer``.

    Processing state is local: ``status``, ``attempts``, the last error and its traceback,
    when it was processed and when the next attempt is due.
    """

    STRIPE_OBJECT = "event"
    DASHBOARD_PATH = "events"

    type = models.CharField(max_length=255, db_index=True)
    api_version = models.CharField(max_length=64, null=True, blank=True)
    object_id = models.CharField(
        max_length=255, null=True, blank=True, help_text="Id of data.object."
    )
    request_id = models.CharField(max_length=255, null=True, blank=True)
    account = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        help_text="The connected account of an event sent by a Connect endpoint.",
    )
    customer = stripe_fk("stripe_integrations.Customer", "events")

    status = models.CharField(
        max_length=16, choices=EventStatus.choices, default=EventStatus.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    received_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(
        null=True, blank=True, help_text="When the current attempt started."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(
        max_length=16, default="webhook", help_text="webhook, api (pulled) or manual."
    )

    class Meta(StripeModel.Meta):
        abstract = True
        ordering = ("-created", "-id")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="si_event_due")]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"

    @property
    def data_object(self) -> dict:
        """``data.object`` of the event."""
        data = (self.raw or {}).get("data") or {}
        obj = data.get("object") if isinstance(data, dict) else None
        return obj if isinstance(obj, dict) else {}


class Event(AbstractEvent):
    """The concrete event model."""

    class Meta(AbstractEvent.Meta):
        verbose_name = "event"
