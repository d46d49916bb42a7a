"""Coupons, promotion codes and applied discounts."""

from __future__ import annotations

from django.db import models

from stripe_integrations.models.base import StripeModel, stripe_fk


class AbstractCoupon(StripeModel):
    """A coupon: ``percent_off`` or ``amount_off`` (minor unit) in ``currency``."""

    STRIPE_OBJECT = "coupon"
    DASHBOARD_PATH = "coupons"

    name = models.CharField(max_length=255, null=True, blank=True)
    percent_off = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    amount_off = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, null=True, blank=True)
    duration = models.CharField(max_length=64, null=True, blank=True)
    duration_in_months = models.PositiveIntegerField(null=True, blank=True)
    max_redemptions = models.PositiveIntegerField(null=True, blank=True)
    times_redeemed = models.PositiveIntegerField(null=True, blank=True)
    redeem_by = models.DateTimeField(null=True, blank=True)
    valid = models.BooleanField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False, help_text="Deleted in Stripe.")

    class Meta(StripeModel.Meta):
        abstract = True

    def __str__(self) -> str:
        return self.name or self.stripe_id


class Coupon(AbstractCoupon):
    """The concrete coupon model."""

    class Meta(AbstractCoupon.Meta):
        verbose_name = "coupon"


class AbstractPromotionCode(StripeModel):
    """A customer-facing code for a coupon."""

    STRIPE_OBJECT = "promotion_code"
    DASHBOARD_PATH = "promotion_codes"

    code = models.CharField(max_length=255, null=True, blank=True, db_index=True)
    coupon = stripe_fk("stripe_integrations.Coupon", "promotion_codes")
    customer = stripe_fk("stripe_integrations.Customer", "promotion_codes")
    active = models.BooleanField(null=True, blank=True)
    max_redemptions = models.PositiveIntegerField(null=True, blank=True)
    times_redeemed = models.PositiveIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta(StripeModel.Meta):
        abstract = True

    def __str__(self) -> str:
        return self.code or self.stripe_id


class PromotionCode(AbstractPromotionCode):
    """The concrete promotion code model."""

    class Meta(AbstractPromotionCode.Meta):
        verbose_name = "promotion code"


class AbstractDiscount(StripeModel):
    """A coupon (or promotion code) applied to a customer, subscription, invoice or item."""

    STRIPE_OBJECT = "discount"
    DASHBOARD_PATH = "coupons"

    coupon = stripe_fk("stripe_integrations.Coupon", "discounts")
    promotion_code = stripe_fk("stripe_integrations.PromotionCode", "discounts")
    customer = stripe_fk("stripe_integrations.Customer", "discounts")
    subscription = stripe_fk("stripe_integrations.Subscription", "discounts_applied")
    invoice = models.CharField(max_length=255, null=True, blank=True)
    invoice_item = models.CharField(max_length=255, null=True, blank=True)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False, help_text="Removed in Stripe.")

    class Meta(StripeModel.Meta):
        abstract = True

    @property
    def dashboard_url(self) -> str:
        """A discount has no page of its own in the dashboard: its coupon's page (or, without
        a coupon, its subscription's or customer's)."""
        if self.coupon_id:
            return self._dashboard("coupons", self.coupon_id)
        if self.subscription_id:
            return self._dashboard("subscriptions", self.subscription_id)
        if self.customer_id:
            return self._dashboard("customers", self.customer_id)
        return self._dashboard("coupons", self.stripe_id)


class Discount(AbstractDiscount):
    """The concrete discount model."""

    class Meta(AbstractDiscount.Meta):
        verbose_name = "discount"
