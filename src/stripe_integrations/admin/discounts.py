"""Coupons, promotion codes and applied discounts."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from stripe_integrations.admin.base import MirroredAdmin, related
from stripe_integrations.admin.display import money
from stripe_integrations.models import Coupon, Discount, PromotionCode


@admin.register(Coupon)
class CouponAdmin(MirroredAdmin):
    list_display = (
        "stripe_id",
        "name",
        "off",
        "duration",
        "times_redeemed",
        "max_redemptions",
        "redeem_by",
        "valid",
        "is_deleted",
        "livemode",
        "dashboard_link",
    )
    list_filter = ("valid", "duration", "currency", "livemode", "is_deleted")
    search_fields = ("stripe_id", "name")

    @admin.display(description="off")
    def off(self, obj: Coupon) -> str | None:
        if obj.percent_off is not None:
            return f"{obj.percent_off.normalize():f}%"
        return money(obj.amount_off, obj.currency)


@admin.register(PromotionCode)
class PromotionCodeAdmin(MirroredAdmin):
    list_display = (
        "stripe_id",
        "code",
        "coupon_display",
        "customer_display",
        "active",
        "times_redeemed",
        "max_redemptions",
        "expires_at",
        "livemode",
        "dashboard_link",
    )
    list_filter = ("active", "livemode")
    search_fields = (
        "stripe_id",
        "code",
        "coupon__stripe_id",
        "coupon__name",
        "customer__stripe_id",
        "customer__email",
    )
    list_select_related = ("coupon", "customer")

    coupon_display = related("coupon")
    customer_display = related("customer")


@admin.register(Discount)
class DiscountAdmin(MirroredAdmin):
    """Stripe has no endpoint that returns one discount: rows are refreshed with their
    customer, subscription or invoice (and by webhooks), so there is no sync action here."""

    list_display = (
        "stripe_id",
        "coupon_display",
        "promotion_code_display",
        "customer_display",
        "subscription_display",
        "invoice",
        "start",
        "end",
        "is_deleted",
        "livemode",
        "dashboard_link",
    )
    list_filter = ("is_deleted", "livemode")
    search_fields = (
        "stripe_id",
        "coupon__stripe_id",
        "coupon__name",
        "promotion_code__code",
        "customer__stripe_id",
        "customer__email",
        "subscription__stripe_id",
        "invoice",
    )
    list_select_related = ("coupon", "promotion_code", "customer", "subscription")

    coupon_display = related("coupon")
    promotion_code_display = related("promotion_code", "promotion code")
    customer_display = related("customer")
    subscription_display = related("subscription")

    def dashboard_url(self, obj: Any) -> str | None:
        """Discounts have no dashboard page: link to their coupon's."""
        if not obj.coupon_id:
            return None
        return Coupon(stripe_id=obj.coupon_id, livemode=obj.livemode).dashboard_url
