"""Products and prices."""

from __future__ import annotations

from django.contrib import admin

from stripe_integrations.admin.base import MirroredAdmin, amount, related
from stripe_integrations.models import Price, Product


@admin.register(Product)
class ProductAdmin(MirroredAdmin):
    list_display = (
        "stripe_id",
        "name",
        "active",
        "type",
        "default_price",
        "is_deleted",
        "livemode",
        "created",
        "dashboard_link",
    )
    list_filter = ("active", "livemode", "is_deleted", "type")
    search_fields = ("stripe_id", "name", "description", "default_price", "unit_label")


@admin.register(Price)
class PriceAdmin(MirroredAdmin):
    list_display = (
        "stripe_id",
        "product_display",
        "nickname",
        "lookup_key",
        "unit_amount_display",
        "recurring",
        "active",
        "is_deleted",
        "livemode",
        "dashboard_link",
    )
    list_filter = ("active", "livemode", "currency", "type", "recurring_interval", "is_deleted")
    search_fields = (
        "stripe_id",
        "nickname",
        "lookup_key",
        "product__stripe_id",
        "product__name",
    )
    list_select_related = ("product",)

    product_display = related("product")
    unit_amount_display = amount("unit_amount", "unit amount")

    @admin.display(description="recurring", ordering="recurring_interval")
    def recurring(self, obj: Price) -> str | None:
        if not obj.recurring_interval:
            return None
        count = obj.recurring_interval_count or 1
        unit = obj.recurring_interval if count == 1 else f"{count} {obj.recurring_interval}s"
        return f"every {unit}"
