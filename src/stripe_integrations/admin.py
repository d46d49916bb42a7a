"""Admin: mirrored rows are read-only; events can be retried."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from stripe_integrations.models import (
    Customer,
    Event,
    EventStatus,
    PaymentMethod,
    Subscription,
    SubscriptionItem,
)


class MirroredAdmin(admin.ModelAdmin):
    """Every mirrored column is read-only: Stripe is the source of truth."""

    list_per_page = 50
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.concrete_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Stripe")
    def dashboard(self, obj: Any) -> str:
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">open</a>', obj.dashboard_url
        )


@admin.register(Customer)
class CustomerAdmin(MirroredAdmin):
    list_display = (
        "stripe_id",
        "email",
        "name",
        "subscriber",
        "is_active",
        "livemode",
        "dashboard",
    )
    list_filter = ("is_active", "livemode", "delinquent")
    search_fields = ("stripe_id", "email", "name", "description")
    list_select_related = ("subscriber",)


@admin.register(PaymentMethod)
class PaymentMethodAdmin(MirroredAdmin):
    list_display = ("stripe_id", "customer_id", "type", "card_brand", "card_last4", "livemode")
    list_filter = ("type", "object_type", "card_brand", "livemode")
    search_fields = ("stripe_id", "customer__stripe_id", "card_last4")


class SubscriptionItemInline(admin.TabularInline):
    model = SubscriptionItem
    fk_name = "subscription"
    extra = 0
    can_delete = False
    fields = ("stripe_id", "price_stripe_id", "quantity", "current_period_end")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Subscription)
class SubscriptionAdmin(MirroredAdmin):
    list_display = ("stripe_id", "customer_id", "status", "current_period_end", "livemode")
    list_filter = ("status", "livemode", "cancel_at_period_end")
    search_fields = ("stripe_id", "customer__stripe_id", "customer__email")
    inlines = (SubscriptionItemInline,)


@admin.register(Event)
class EventAdmin(MirroredAdmin):
    list_display = (
        "stripe_id",
        "type",
        "status",
        "attempts",
        "customer_id",
        "created",
        "received_at",
        "last_error_short",
    )
    list_filter = ("status", "source", "livemode")
    search_fields = ("stripe_id", "type", "object_id", "customer__stripe_id", "last_error")
    date_hierarchy = "received_at"
    actions = ("retry_events",)

    @admin.display(description="last error")
    def last_error_short(self, obj: Event) -> str:
        return obj.last_error[:80]

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
