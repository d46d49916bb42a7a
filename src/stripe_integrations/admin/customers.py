"""Customers and their payment methods."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from stripe_integrations.admin.base import MirroredAdmin, amount, related
from stripe_integrations.models import Customer, PaymentMethod
from stripe_integrations.sync.fetch import refresh_customer, refresh_payment_method


class CustomerForm(forms.ModelForm):
    """Only the subscriber link is editable; it keeps one active customer per subscriber."""

    def clean_subscriber(self) -> Any:
        subscriber = self.cleaned_data.get("subscriber")
        customer = self.instance
        if subscriber is not None and customer.is_active:
            clash = (
                type(customer)
                ._default_manager.filter(
                    subscriber=subscriber, livemode=customer.livemode, is_active=True
                )
                .exclude(pk=customer.pk)
                .first()
            )
            if clash is not None:
                raise forms.ValidationError(
                    f"{subscriber} already has an active customer in this mode "
                    f"({clash.stripe_id}): unlink it first."
                )
        return subscriber


@admin.register(Customer)
class CustomerAdmin(MirroredAdmin):
    form = CustomerForm
    editable_fields = ("subscriber",)
    raw_id_fields = ("subscriber",)
    list_display = (
        "stripe_id",
        "email",
        "name",
        "subscriber_display",
        "balance_display",
        "delinquent",
        "is_active",
        "livemode",
        "created",
        "dashboard_link",
    )
    list_filter = ("is_active", "livemode", "delinquent", "currency")
    search_fields = ("stripe_id", "email", "name", "description", "phone")
    list_select_related = ("subscriber",)
    date_hierarchy = "created"

    subscriber_display = related("subscriber")
    balance_display = amount("balance")
    default_payment_method_display = related("default_payment_method")
    default_source_display = related("default_source")

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        """The subscriber's email and username are searchable when its model has them."""
        model = self.model._meta.get_field("subscriber").related_model
        names = {f.name for f in model._meta.concrete_fields}
        extra = [
            f"subscriber__{name}"
            for name in dict.fromkeys(("email", getattr(model, "USERNAME_FIELD", "")))
            if name in names
        ]
        return (*self.search_fields, *extra)

    def fetch(self, obj: Any) -> Customer | None:
        return refresh_customer(obj.stripe_id, missing_ok=True)

    def can_fetch(self) -> bool:
        return True


@admin.register(PaymentMethod)
class PaymentMethodAdmin(MirroredAdmin):
    list_display = (
        "stripe_id",
        "customer_display",
        "type",
        "card",
        "expires",
        "object_type",
        "livemode",
        "created",
        "dashboard_link",
    )
    list_filter = ("type", "object_type", "card_brand", "livemode")
    search_fields = (
        "stripe_id",
        "customer__stripe_id",
        "customer__email",
        "customer__name",
        "card_last4",
        "card_fingerprint",
    )
    list_select_related = ("customer",)
    missing_note = " (removed from the mirror)"

    customer_display = related("customer")

    @admin.display(description="card", ordering="card_last4")
    def card(self, obj: PaymentMethod) -> str | None:
        if not obj.card_last4:
            return None
        return f"{obj.card_brand or 'card'} ····{obj.card_last4}"

    @admin.display(description="expires")
    def expires(self, obj: PaymentMethod) -> str | None:
        if not obj.card_exp_month or not obj.card_exp_year:
            return None
        return f"{obj.card_exp_month:02d}/{obj.card_exp_year}"

    def fetch(self, obj: Any) -> Any:
        return refresh_payment_method(obj.stripe_id, obj.customer_id)

    def can_fetch(self) -> bool:
        return True
