"""Invoices (with their lines inline) and pending invoice items."""

from __future__ import annotations

from django.contrib import admin

from stripe_integrations.admin.base import MirroredAdmin, ReadOnlyInline, amount, related
from stripe_integrations.admin.display import money
from stripe_integrations.models import Invoice, InvoiceItem, InvoiceLineItem


class InvoiceLineInline(ReadOnlyInline):
    """Lines are written with their invoice and only make sense inside it."""

    model = InvoiceLineItem
    fk_name = "invoice"
    fields = (
        "stripe_id",
        "description",
        "line_amount",
        "quantity",
        "price_stripe_id",
        "period_start",
        "period_end",
    )

    @admin.display(description="amount")
    def line_amount(self, obj: InvoiceLineItem) -> str:
        value = money(obj.amount, obj.currency)
        return self.get_empty_value_display() if value is None else value


@admin.register(Invoice)
class InvoiceAdmin(MirroredAdmin):
    list_display = (
        "stripe_id",
        "number",
        "customer_display",
        "status",
        "total_display",
        "amount_due_display",
        "amount_paid_display",
        "period_end",
        "due_date",
        "livemode",
        "created",
        "dashboard_link",
    )
    list_filter = (
        "status",
        "livemode",
        "currency",
        "collection_method",
        "billing_reason",
        "is_deleted",
    )
    search_fields = (
        "stripe_id",
        "number",
        "customer__stripe_id",
        "customer__email",
        "customer__name",
        "subscription__stripe_id",
        "payment_intent",
        "description",
    )
    list_select_related = ("customer",)
    date_hierarchy = "created"
    inlines = (InvoiceLineInline,)

    customer_display = related("customer")
    subscription_display = related("subscription")
    subtotal_display = amount("subtotal")
    total_display = amount("total")
    amount_due_display = amount("amount_due", "amount due")
    amount_paid_display = amount("amount_paid", "amount paid")
    amount_remaining_display = amount("amount_remaining", "amount remaining")


@admin.register(InvoiceItem)
class InvoiceItemAdmin(MirroredAdmin):
    list_display = (
        "stripe_id",
        "customer_display",
        "description",
        "amount_display",
        "quantity",
        "invoice_display",
        "proration",
        "is_deleted",
        "livemode",
        "date",
        "dashboard_link",
    )
    list_filter = ("livemode", "currency", "proration", "is_deleted")
    search_fields = (
        "stripe_id",
        "description",
        "customer__stripe_id",
        "customer__email",
        "invoice__stripe_id",
        "invoice__number",
        "price_stripe_id",
        "subscription_stripe_id",
    )
    list_select_related = ("customer", "invoice")
    date_hierarchy = "date"

    customer_display = related("customer")
    invoice_display = related("invoice")
    amount_display = amount("amount")
