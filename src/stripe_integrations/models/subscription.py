"""Subscriptions and their items."""

from __future__ import annotations

from django.db import models

from stripe_integrations.models.base import StripeModel, stripe_fk

#: Statuses counted as a live subscription (access granted).
VALID_STATUSES = ("active", "trialing", "past_due")


class SubscriptionQuerySet(models.QuerySet["Subscription"]):
    """Queries over mirrored subscriptions."""

    def active(self) -> SubscriptionQuerySet:
        """Subscriptions whose status is ``active`` or ``trialing``."""
        return self.filter(status__in=("active", "trialing"))

    def valid(self) -> SubscriptionQuerySet:
        """Subscriptions in one of :data:`VALID_STATUSES` that have not ended."""
        return self.filter(status__in=VALID_STATUSES, ended_at__isnull=True)


class AbstractSubscription(StripeModel):
    """A subscription. Period fields are read from the subscription (API versions before
    2025-03-31.basil) or from its items (later versions: the earliest start, latest end)."""

    STRIPE_OBJECT = "subscription"
    DASHBOARD_PATH = "subscriptions"

    customer = stripe_fk("stripe_integrations.Customer", "subscriptions")
    status = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    collection_method = models.CharField(max_length=64, null=True, blank=True)
    currency = models.CharField(max_length=3, null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    billing_cycle_anchor = models.DateTimeField(null=True, blank=True)
    start_date = models.DateTimeField(null=True, blank=True)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    trial_start = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    cancel_at = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    default_payment_method = models.CharField(max_length=255, null=True, blank=True)
    latest_invoice = models.CharField(max_length=255, null=True, blank=True)
    quantity = models.BigIntegerField(null=True, blank=True, help_text="Legacy single-plan shape.")
    discounts = models.JSONField(null=True, blank=True)

    objects = SubscriptionQuerySet.as_manager()

    class Meta(StripeModel.Meta):
        abstract = True


class Subscription(AbstractSubscription):
    """The concrete subscription model."""

    class Meta(AbstractSubscription.Meta):
        verbose_name = "subscription"


class AbstractSubscriptionItem(StripeModel):
    """One price (or legacy plan) of a subscription, with its quantity and current period."""

    STRIPE_OBJECT = "subscription_item"
    DASHBOARD_PATH = "subscription_items"

    subscription = stripe_fk("stripe_integrations.Subscription", "items")
    price_stripe_id = models.CharField(
        max_length=255, null=True, blank=True, help_text="The price (or legacy plan) id."
    )
    product_stripe_id = models.CharField(max_length=255, null=True, blank=True)
    quantity = models.BigIntegerField(null=True, blank=True)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)

    class Meta(StripeModel.Meta):
        abstract = True

    @property
    def dashboard_url(self) -> str:
        """The page of the item's subscription (an item has none of its own)."""
        return self._dashboard("subscriptions", self.subscription_id or self.stripe_id)


class SubscriptionItem(AbstractSubscriptionItem):
    """The concrete subscription item model."""

    class Meta(AbstractSubscriptionItem.Meta):
        verbose_name = "subscription item"
