"""Invoices, their lines, and pending invoice items."""

from __future__ import annotations

from django.db import models

from stripe_integrations.models.base import StripeModel, stripe_fk


class AbstractInvoice(StripeModel):
    """An invoice. Amounts in the minor unit of ``currency``. ``subscription`` and
    ``payment_intent`` are read from ``parent``/``payments`` (API versions since basil) or
    from the invoice itself (older versions)."""

    STRIPE_OBJECT = "invoice"
    DASHBOARD_PATH = "invoices"

    customer = stripe_fk("stripe_integrations.Customer", "invoices")
    subscription = stripe_fk("stripe_integrations.Subscription", "invoices")
    status = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    number = models.CharField(max_length=255, null=True, blank=True)
    currency = models.CharField(max_length=3, null=True, blank=True)
    subtotal = models.BigIntegerField(null=True, blank=True)
    total = models.BigIntegerField(null=True, blank=True)
    amount_due = models.BigIntegerField(null=True, blank=True)
    amount_paid = models.BigIntegerField(null=True, blank=True)
    amount_remaining = models.BigIntegerField(null=True, blank=True)
    collection_method = models.CharField(max_length=64, null=True, blank=True)
    billing_reason = models.CharField(max_length=64, null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    hosted_invoice_url = models.TextField(null=True, blank=True)
    invoice_pdf = models.TextField(null=True, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    due_date = models.DateTimeField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(null=True, blank=True)
    payment_intent = models.CharField(max_length=255, null=True, blank=True)
    default_payment_method = models.CharField(max_length=255, null=True, blank=True)
    discounts = models.JSONField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False, help_text="Draft deleted in Stripe.")

    class Meta(StripeModel.Meta):
        abstract = True

    def __str__(self) -> str:
        return self.number or self.stripe_id


class Invoice(AbstractInvoice):
    """The concrete invoice model."""

    class Meta(AbstractInvoice.Meta):
        verbose_name = "invoice"


class AbstractInvoiceLineItem(StripeModel):
    """One line of an invoice."""

    STRIPE_OBJECT = "line_item"
    DASHBOARD_PATH = "invoices"

    invoice = stripe_fk("stripe_integrations.Invoice", "lines")
    amount = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    quantity = models.BigIntegerField(null=True, blank=True)
    price_stripe_id = models.CharField(max_length=255, null=True, blank=True)
    product_stripe_id = models.CharField(max_length=255, null=True, blank=True)
    subscription_stripe_id = models.CharField(max_length=255, null=True, blank=True)
    invoice_item_stripe_id = models.CharField(max_length=255, null=True, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)

    class Meta(StripeModel.Meta):
        abstract = True

    @property
    def dashboard_url(self) -> str:
        """The page of the line's invoice (a line has none of its own)."""
        return self._dashboard("invoices", self.invoice_id or self.stripe_id.split(":")[0])


class InvoiceLineItem(AbstractInvoiceLineItem):
    """The concrete invoice line model."""

    class Meta(AbstractInvoiceLineItem.Meta):
        verbose_name = "invoice line item"


class AbstractInvoiceItem(StripeModel):
    """A one-off charge added to a customer's next (or a given draft) invoice."""

    STRIPE_OBJECT = "invoiceitem"
    DASHBOARD_PATH = "invoiceitems"

    customer = stripe_fk("stripe_integrations.Customer", "invoice_items")
    invoice = stripe_fk("stripe_integrations.Invoice", "invoice_items")
    subscription_stripe_id = models.CharField(max_length=255, null=True, blank=True)
    amount = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    quantity = models.BigIntegerField(null=True, blank=True)
    price_stripe_id = models.CharField(max_length=255, null=True, blank=True)
    date = models.DateTimeField(null=True, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    discountable = models.BooleanField(null=True, blank=True)
    proration = models.BooleanField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False, help_text="Deleted in Stripe.")

    class Meta(StripeModel.Meta):
        abstract = True


class InvoiceItem(AbstractInvoiceItem):
    """The concrete invoice item model."""

    class Meta(AbstractInvoiceItem.Meta):
        verbose_name = "invoice item"
