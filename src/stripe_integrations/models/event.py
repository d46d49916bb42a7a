"""Stripe events, as received by webhook or read from the Events API."""

from __future__ import annotations

from django.db import models

from stripe_integrations.models.base import StripeModel, stripe_fk


class AbstractEvent(StripeModel):
    """A Stripe event. ``raw`` is the whole event; ``customer`` is set by ``link_customer``."""

    STRIPE_OBJECT = "event"
    DASHBOARD_PATH = "events"

    type = models.CharField(max_length=255, db_index=True)
    api_version = models.CharField(max_length=64, null=True, blank=True)
    object_id = models.CharField(
        max_length=255, null=True, blank=True, help_text="Id of data.object."
    )
    request_id = models.CharField(max_length=255, null=True, blank=True)
    customer = stripe_fk("stripe_integrations.Customer", "events")

    class Meta(StripeModel.Meta):
        abstract = True
        ordering = ("-created", "-id")

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
