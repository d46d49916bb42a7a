"""The Stripe customer and its link to a subscriber (by default the user)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q

from stripe_integrations.conf import subscriber_model_label
from stripe_integrations.models.base import StripeModel, stripe_fk

if TYPE_CHECKING:
    from stripe_integrations.models.payment_method import PaymentMethod


class CustomerQuerySet(models.QuerySet["Customer"]):
    """Queries over mirrored customers."""

    def active(self) -> CustomerQuerySet:
        """Customers not deleted in Stripe and not soft-deleted locally."""
        return self.filter(is_active=True)


class AbstractCustomer(StripeModel):
    """A Stripe customer: one typed column per attribute of the customer object.

    ``subscriber``, ``is_active`` and ``date_purged`` are local: Stripe never writes them.
    """

    STRIPE_OBJECT = "customer"
    DASHBOARD_PATH = "customers"

    subscriber = models.ForeignKey(
        subscriber_model_label(),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="stripe_customers",
        help_text="The subscriber (by default the user) this customer bills.",
    )
    is_active = models.BooleanField(
        default=True, help_text="False once the customer is deleted (in Stripe or locally)."
    )
    date_purged = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the customer was soft-deleted."
    )

    address = models.JSONField(null=True, blank=True)
    balance = models.BigIntegerField(
        null=True, blank=True, help_text="In the minor unit of `currency` (e.g. cents)."
    )
    cash_balance = models.JSONField(null=True, blank=True)
    currency = models.CharField(max_length=3, null=True, blank=True)
    default_payment_method = stripe_fk(
        "stripe_integrations.PaymentMethod",
        "+",
        help_text="invoice_settings.default_payment_method",
    )
    default_source = stripe_fk("stripe_integrations.PaymentMethod", "+")
    delinquent = models.BooleanField(null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    discount = models.JSONField(null=True, blank=True)
    email = models.CharField(max_length=512, null=True, blank=True, db_index=True)
    invoice_credit_balance = models.JSONField(null=True, blank=True)
    invoice_prefix = models.CharField(max_length=255, null=True, blank=True)
    invoice_settings = models.JSONField(null=True, blank=True)
    name = models.CharField(max_length=256, null=True, blank=True)
    next_invoice_sequence = models.BigIntegerField(null=True, blank=True)
    phone = models.CharField(max_length=255, null=True, blank=True)
    preferred_locales = models.JSONField(null=True, blank=True)
    shipping = models.JSONField(null=True, blank=True)
    tax = models.JSONField(null=True, blank=True)
    tax_exempt = models.CharField(max_length=16, null=True, blank=True)
    tax_ids = models.JSONField(null=True, blank=True)
    test_clock = models.CharField(max_length=255, null=True, blank=True)

    objects = CustomerQuerySet.as_manager()

    class Meta(StripeModel.Meta):
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "livemode"],
                condition=Q(is_active=True, subscriber__isnull=False),
                name="si_one_active_customer_per_subscriber",
            )
        ]

    def __str__(self) -> str:
        return self.email or self.name or self.stripe_id

    @property
    def default_payment(self) -> PaymentMethod | None:
        """The default payment method, else the default source, when mirrored; else None."""
        from stripe_integrations.models.payment_method import PaymentMethod

        for attr in ("default_payment_method", "default_source"):
            try:
                value = getattr(self, attr)
            except PaymentMethod.DoesNotExist:
                continue
            if value is not None:
                return value
        return None


class Customer(AbstractCustomer):
    """The concrete customer model."""

    class Meta(AbstractCustomer.Meta):
        verbose_name = "customer"
