"""Products and prices."""

from __future__ import annotations

from django.db import models

from stripe_integrations.models.base import StripeModel, stripe_fk


class AbstractProduct(StripeModel):
    """A product (what is sold)."""

    STRIPE_OBJECT = "product"
    DASHBOARD_PATH = "products"

    name = models.TextField(null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    active = models.BooleanField(null=True, blank=True, db_index=True)
    type = models.CharField(max_length=64, null=True, blank=True)
    default_price = models.CharField(max_length=255, null=True, blank=True)
    unit_label = models.CharField(max_length=255, null=True, blank=True)
    url = models.TextField(null=True, blank=True)
    tax_code = models.CharField(max_length=255, null=True, blank=True)
    images = models.JSONField(null=True, blank=True)
    updated = models.DateTimeField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False, help_text="Deleted in Stripe.")

    class Meta(StripeModel.Meta):
        abstract = True

    def __str__(self) -> str:
        return self.name or self.stripe_id


class Product(AbstractProduct):
    """The concrete product model."""

    class Meta(AbstractProduct.Meta):
        verbose_name = "product"


class AbstractPrice(StripeModel):
    """A price of a product: amounts in the currency's minor unit, as Stripe sends them."""

    STRIPE_OBJECT = "price"
    DASHBOARD_PATH = "prices"

    product = stripe_fk("stripe_integrations.Product", "prices")
    active = models.BooleanField(null=True, blank=True, db_index=True)
    currency = models.CharField(max_length=3, null=True, blank=True)
    unit_amount = models.BigIntegerField(null=True, blank=True)
    unit_amount_decimal = models.CharField(max_length=64, null=True, blank=True)
    type = models.CharField(max_length=64, null=True, blank=True)
    billing_scheme = models.CharField(max_length=64, null=True, blank=True)
    recurring_interval = models.CharField(max_length=64, null=True, blank=True)
    recurring_interval_count = models.PositiveIntegerField(null=True, blank=True)
    recurring_usage_type = models.CharField(max_length=64, null=True, blank=True)
    lookup_key = models.CharField(max_length=255, null=True, blank=True, db_index=True)
    nickname = models.CharField(max_length=255, null=True, blank=True)
    tax_behavior = models.CharField(max_length=64, null=True, blank=True)
    tiers_mode = models.CharField(max_length=64, null=True, blank=True)
    is_deleted = models.BooleanField(default=False, help_text="Deleted in Stripe.")

    class Meta(StripeModel.Meta):
        abstract = True

    def __str__(self) -> str:
        return self.nickname or self.lookup_key or self.stripe_id


class Price(AbstractPrice):
    """The concrete price model."""

    class Meta(AbstractPrice.Meta):
        verbose_name = "price"
