"""Stripe events (processing state, retry) and backfill checkpoints."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from stripe_integrations.admin.base import MirroredAdmin, related
from stripe_integrations.admin.display import preformatted, redact
from stripe_integrations.models import Event, EventStatus, SyncCheckpoint


@admin.register(Event)
class EventAdmin(MirroredAdmin):
    """Events are immutable in Stripe, so there is nothing to re-fetch: the action is
    "Retry", which processes them again (handlers fetch the current objects)."""

    list_display = (
        "stripe_id",
        "type",
        "status",
        "attempts",
        "customer_display",
        "created",
        "received_at",
        "last_error_short",
        "dashboard_link",
    )
    list_filter = ("status", "source", "livemode")
    search_fields = (
        "stripe_id",
        "type",
        "object_id",
        "request_id",
        "customer__stripe_id",
        "customer__email",
        "last_error",
    )
    list_select_related = ("customer",)
    date_hierarchy = "received_at"
    actions = ("retry_events",)

    customer_display = related("customer")

    def can_fetch(self) -> bool:
        return False

    @admin.display(description="last error")
    def last_error_short(self, obj: Event) -> str:
        return redact(obj.last_error)[:80]  # redacted first: a cut secret would leak its head

    @admin.display(description="last error")
    def last_error_display(self, obj: Event) -> SafeString | str:
        return self.or_empty(preformatted(obj.last_error))

    @admin.display(description="traceback")
    def traceback_display(self, obj: Event) -> SafeString | str:
        return self.or_empty(preformatted(obj.traceback))

    @admin.action(description="Retry selected events", permissions=["change"])
    def retry_events(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        from stripe_integrations.webhooks.backends import get_backend
        from stripe_integrations.webhooks.replay import reset_for_replay

        selected = list(
            queryset.exclude(status=EventStatus.PROCESSING).values_list("pk", flat=True)
        )
        reset_for_replay(queryset.filter(pk__in=selected))
        backend = get_backend()
        for pk in selected:
            backend.enqueue(pk)
        self.message_user(
            request, f"{len(selected)} event(s) queued for processing.", messages.SUCCESS
        )


@admin.register(SyncCheckpoint)
class SyncCheckpointAdmin(admin.ModelAdmin):
    """Progress of ``stripe_sync``, written only by it: shown, never edited here."""

    list_display = (
        "resource",
        "livemode",
        "created_gte",
        "created_lt",
        "done",
        "objects_synced",
        "pages",
        "cursor",
        "run_started",
        "updated_at",
    )
    list_filter = ("resource", "livemode", "done")
    search_fields = ("resource", "cursor")
    date_hierarchy = "run_started"
    list_per_page = 50
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
