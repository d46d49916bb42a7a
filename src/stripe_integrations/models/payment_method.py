"""Payment methods, and legacy card sources stored alongside them."""

from __future__ import annotations

from django.db import models

from stripe_integrations.models.base import StripeModel, stripe_fk


class AbstractPaymentMethod(StripeModel):
    """A PaymentMethod (``pm_...``) or a legacy card source (``card_...``/``src_...``).

    ``object_type`` tells which Stripe object the row came from; card details are typed columns
    either way, so a customer's default is one query whatever its origin.
    """

    STRIPE_OBJECT = "payment_method"
    DASHBOARD_PATH = "payment_methods"

    customer = stripe_fk("stripe_integrations.Customer", "payment_methods")
    object_type = models.CharField(
        max_length=32, default="payment_method", help_text="payment_method, card or source."
    )
    type = models.CharField(max_length=64, null=True, blank=True)
    billing_details = models.JSONField(null=True, blank=True)
    card_brand = models.CharField(max_length=64, null=True, blank=True)
    card_last4 = models.CharField(max_length=4, null=True, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveIntegerField(null=True, blank=True)
    card_fingerprint = models.CharField(max_length=64, null=True, blank=True)
    card_funding = models.CharField(max_length=64, null=True, blank=True)
    card_country = models.CharField(max_length=2, null=True, blank=True)

    class Meta(StripeModel.Meta):
        abstract = True

    def __str__(self) -> str:
        if self.card_last4:
            return f"{self.card_brand or 'card'} ····{self.card_last4}"
        return self.stripe_id


class PaymentMethod(AbstractPaymentMethod):
    """The concrete payment method model."""

    class Meta(AbstractPaymentMethod.Meta):
        verbose_name = "payment method"
