"""PaymentIntents, charges, refunds and SetupIntents."""

from __future__ import annotations

from django.contrib import admin

from stripe_integrations.admin.base import MirroredAdmin, amount, related
from stripe_integrations.models import Charge, PaymentIntent, Refund, SetupIntent


@admin.register(PaymentIntent)
class PaymentIntentAdmin(MirroredAdmin):
    list_display = (
        "stripe_id",
        "customer_display",
        "amount_display",
        "amount_received_display",
        "status",
        "description",
        "livemode",
        "created",
        "dashboard_link",
    )
    list_filter = ("status", "livemode", "currency", "capture_method")
    search_fields = (
        "stripe_id",
        "description",
        "customer__stripe_id",
        "customer__email",
        "latest_charge",
        "payment_method",
    )
    list_select_related = ("customer",)
    date_hierarchy = "created"

    customer_display = related("customer")
    amount_display = amount("amount")
    amount_received_display = amount("amount_received", "amount received")


@admin.register(Charge)
class ChargeAdmin(MirroredAdmin):
    list_display = (
        "stripe_id",
        "customer_display",
        "amount_display",
        "amount_refunded_display",
        "status",
        "paid",
        "refunded",
        "card",
        "failure_code",
        "livemode",
        "created",
        "dashboard_link",
    )
    list_filter = ("status", "paid", "refunded", "disputed", "livemode", "currency", "card_brand")
    search_fields = (
        "stripe_id",
        "description",
        "customer__stripe_id",
        "customer__email",
        "payment_intent__stripe_id",
        "card_last4",
        "failure_code",
    )
    list_select_related = ("customer",)
    date_hierarchy = "created"

    customer_display = related("customer")
    payment_intent_display = related("payment_intent", "payment intent")
    amount_display = amount("amount")
    amount_captured_display = amount("amount_captured", "amount captured")
    amount_refunded_display = amount("amount_refunded", "amount refunded")

    @admin.display(description="card", ordering="card_last4")
    def card(self, obj: Charge) -> str | None:
        return f"{obj.card_brand or 'card'} ····{obj.card_last4}" if obj.card_last4 else None


@admin.register(Refund)
class RefundAdmin(MirroredAdmin):
    list_display = (
        "stripe_id",
        "charge_display",
        "customer",
        "amount_display",
        "status",
        "reason",
        "livemode",
        "created",
        "dashboard_link",
    )
    list_filter = ("status", "reason", "livemode", "currency")
    search_fields = (
        "stripe_id",
        "charge__stripe_id",
        "charge__customer__email",
        "payment_intent",
        "failure_reason",
    )
    list_select_related = ("charge__customer",)
    date_hierarchy = "created"

    charge_display = related("charge")
    amount_display = amount("amount")

    @admin.display(description="customer", ordering="charge__customer_id")
    def customer(self, obj: Refund) -> str | None:
        try:
            charge = obj.charge if obj.charge_id else None
        except Charge.DoesNotExist:
            charge = None
        if charge is None or not charge.customer_id:
            return None
        return self.related_link(charge, "customer")


@admin.register(SetupIntent)
class SetupIntentAdmin(MirroredAdmin):
    list_display = (
        "stripe_id",
        "customer_display",
        "status",
        "usage",
        "payment_method",
        "livemode",
        "created",
        "dashboard_link",
    )
    list_filter = ("status", "usage", "livemode")
    search_fields = (
        "stripe_id",
        "description",
        "customer__stripe_id",
        "customer__email",
        "payment_method",
    )
    list_select_related = ("customer",)
    date_hierarchy = "created"

    customer_display = related("customer")
