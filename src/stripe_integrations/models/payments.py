"""PaymentIntents, charges, refunds and SetupIntents. Client secrets are never stored."""

from __future__ import annotations

from django.db import models

from stripe_integrations.models.base import StripeModel, stripe_fk


class AbstractPaymentIntent(StripeModel):
    """A payment attempt. ``amount`` in the minor unit of ``currency``."""

    STRIPE_OBJECT = "payment_intent"
    DASHBOARD_PATH = "payments"

    customer = stripe_fk("stripe_integrations.Customer", "payment_intents")
    amount = models.BigIntegerField(null=True, blank=True)
    amount_received = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, null=True, blank=True)
    status = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    description = models.TextField(null=True, blank=True)
    payment_method = models.CharField(max_length=255, null=True, blank=True)
    latest_charge = models.CharField(max_length=255, null=True, blank=True)
    capture_method = models.CharField(max_length=64, null=True, blank=True)
    setup_future_usage = models.CharField(max_length=64, null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=64, null=True, blank=True)
    last_payment_error = models.JSONField(null=True, blank=True)

    class Meta(StripeModel.Meta):
        abstract = True

    @property
    def requires_action(self) -> bool:
        """True when the customer must act (3-D Secure...) before the payment completes."""
        return self.status == "requires_action"


class PaymentIntent(AbstractPaymentIntent):
    """The concrete PaymentIntent model."""

    class Meta(AbstractPaymentIntent.Meta):
        verbose_name = "payment intent"


class AbstractCharge(StripeModel):
    """A charge (created by a PaymentIntent, or by the legacy Charges API)."""

    STRIPE_OBJECT = "charge"
    DASHBOARD_PATH = "payments"

    customer = stripe_fk("stripe_integrations.Customer", "charges")
    payment_intent = stripe_fk("stripe_integrations.PaymentIntent", "charges")
    amount = models.BigIntegerField(null=True, blank=True)
    amount_captured = models.BigIntegerField(null=True, blank=True)
    amount_refunded = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, null=True, blank=True)
    status = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    paid = models.BooleanField(null=True, blank=True)
    captured = models.BooleanField(null=True, blank=True)
    refunded = models.BooleanField(null=True, blank=True)
    disputed = models.BooleanField(null=True, blank=True)
    failure_code = models.CharField(max_length=64, null=True, blank=True)
    failure_message = models.TextField(null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    payment_method = models.CharField(max_length=255, null=True, blank=True)
    card_brand = models.CharField(max_length=64, null=True, blank=True)
    card_last4 = models.CharField(max_length=4, null=True, blank=True)
    receipt_url = models.TextField(null=True, blank=True)
    balance_transaction = models.CharField(max_length=255, null=True, blank=True)

    class Meta(StripeModel.Meta):
        abstract = True


class Charge(AbstractCharge):
    """The concrete charge model."""

    class Meta(AbstractCharge.Meta):
        verbose_name = "charge"


class AbstractRefund(StripeModel):
    """A refund of a charge (or of a PaymentIntent's charge)."""

    STRIPE_OBJECT = "refund"
    DASHBOARD_PATH = "refunds"

    charge = stripe_fk("stripe_integrations.Charge", "refunds")
    payment_intent = models.CharField(max_length=255, null=True, blank=True)
    amount = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, null=True, blank=True)
    status = models.CharField(max_length=64, null=True, blank=True)
    reason = models.CharField(max_length=64, null=True, blank=True)
    failure_reason = models.CharField(max_length=64, null=True, blank=True)

    class Meta(StripeModel.Meta):
        abstract = True


class Refund(AbstractRefund):
    """The concrete refund model."""

    class Meta(AbstractRefund.Meta):
        verbose_name = "refund"


class AbstractSetupIntent(StripeModel):
    """Saving a payment method for later use."""

    STRIPE_OBJECT = "setup_intent"
    DASHBOARD_PATH = "setup_intents"

    customer = stripe_fk("stripe_integrations.Customer", "setup_intents")
    payment_method = models.CharField(max_length=255, null=True, blank=True)
    status = models.CharField(max_length=64, null=True, blank=True)
    usage = models.CharField(max_length=64, null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=64, null=True, blank=True)
    last_setup_error = models.JSONField(null=True, blank=True)

    class Meta(StripeModel.Meta):
        abstract = True


class SetupIntent(AbstractSetupIntent):
    """The concrete SetupIntent model."""

    class Meta(AbstractSetupIntent.Meta):
        verbose_name = "setup intent"
