"""Subscriptions, with their items inline."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from stripe_integrations.admin.base import MirroredAdmin, ReadOnlyInline, related
from stripe_integrations.models import Subscription, SubscriptionItem
from stripe_integrations.sync.fetch import refresh_subscription


class SubscriptionItemInline(ReadOnlyInline):
    """Items are written with their subscription and only make sense inside it."""

    model = SubscriptionItem
    fk_name = "subscription"
    fields = (
        "stripe_id",
        "price_stripe_id",
        "product_stripe_id",
        "quantity",
        "current_period_start",
        "current_period_end",
    )


@admin.register(Subscription)
class SubscriptionAdmin(MirroredAdmin):
    list_display = (
        "stripe_id",
        "customer_display",
        "status",
        "current_period_end",
        "cancel_at_period_end",
        "collection_method",
        "livemode",
        "created",
        "dashboard_link",
    )
    list_filter = (
        "status",
        "livemode",
        "cancel_at_period_end",
        "collection_method",
        "currency",
    )
    search_fields = (
        "stripe_id",
        "customer__stripe_id",
        "customer__email",
        "customer__name",
        "description",
        "latest_invoice",
    )
    list_select_related = ("customer",)
    date_hierarchy = "created"
    inlines = (SubscriptionItemInline,)

    customer_display = related("customer")

    def fetch(self, obj: Any) -> Subscription | None:
        return refresh_subscription(obj.stripe_id)

    def can_fetch(self) -> bool:
        return True
