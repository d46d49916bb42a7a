"""``StripeInvoice`` and ``StripeInvoiceItem``."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from stripe_integrations.actions.base import (
    call,
    call_and_mirror,
    checked_metadata,
    mirror,
    op_key,
    service,
    stripe_id_of,
)
from stripe_integrations.models import Customer, Invoice, InvoiceItem, InvoiceLineItem
from stripe_integrations.money import check_currency, to_minor_units
from stripe_integrations.sync import mapping
from stripe_integrations.sync import mapping_billing as billing
from stripe_integrations.sync.fetch import refresh_object


class StripeInvoiceItem:
    """One-off amounts added to a customer's next invoice."""

    @classmethod
    def create(
        cls,
        customer: Customer,
        amount: Any,
        currency: str,
        description: str | None = None,
        **params: Any,
    ) -> InvoiceItem:
        """Add ``amount`` (minor units, or a Decimal in major units) to the customer's next
        invoice. Identical parameters within 24 hours add one item."""
        currency = check_currency(currency)
        params = checked_metadata(params)
        params.update(
            customer=customer.stripe_id,
            amount=to_minor_units(amount, currency),
            currency=currency,
        )
        if description is not None:
            params["description"] = description
        key = op_key("invoiceitem.create", customer.stripe_id, params)
        return call_and_mirror(service("invoice_items").create, key=key, **params)


class StripeInvoice:
    """Invoices of a customer."""

    @classmethod
    def send(
        cls,
        customer: Customer,
        *,
        days_until_due: int = 30,
        **params: Any,
    ) -> Invoice:
        """Create an invoice of the customer's pending items, finalize it and email it
        (``collection_method="send_invoice"``). Returns the mirrored, open invoice."""
        params = checked_metadata(params)
        params.setdefault("collection_method", "send_invoice")
        if params["collection_method"] == "send_invoice":
            params.setdefault("days_until_due", days_until_due)
        params.setdefault("pending_invoice_items_behavior", "include")
        params["customer"] = customer.stripe_id
        pending = sorted(
            InvoiceItem.objects.filter(
                customer=customer, invoice__isnull=True, is_deleted=False
            ).values_list("stripe_id", flat=True)
        )
        invoices = service("invoices")
        draft = call(
            invoices.create,
            key=op_key("invoice.create", customer.stripe_id, params, pending),
            **params,
        )
        invoice_id = draft.id
        call(invoices.finalize_invoice, invoice_id, key=op_key("invoice.finalize", invoice_id, {}))
        fetched_at = timezone.now()
        if params["collection_method"] == "send_invoice":
            sent = call(
                invoices.send_invoice, invoice_id, key=op_key("invoice.send", invoice_id, {})
            )
        else:
            sent = call(invoices.retrieve, invoice_id)
        return mirror(sent, fetched_at)

    @classmethod
    def preview(cls, customer: Customer, **params: Any) -> Invoice:
        """The customer's next invoice as Stripe would draw it now (``create_preview``).
        Returned unsaved: nothing is stored. ``preview_lines`` holds its lines."""
        params["customer"] = customer.stripe_id
        data = mapping.as_dict(call(service("invoices").create_preview, **params))
        data["id"] = data.get("id") or f"upcoming_{customer.stripe_id}"
        invoice = Invoice(**billing.invoice_fields(data))
        lines, _ = billing.invoice_lines(data)
        invoice.preview_lines = [  # type: ignore[attr-defined]
            InvoiceLineItem(**billing.invoice_line_fields(line, data["id"])) for line in lines
        ]
        return invoice

    @classmethod
    def pay(cls, invoice: Invoice, payment_method: Any = None) -> Invoice:
        """Pay an open invoice now with ``payment_method`` or the customer's default. After
        a decline, paying again with another card (or a new default) is a new attempt."""
        params: dict[str, Any] = {}
        if payment_method is not None:
            params["payment_method"] = stripe_id_of(payment_method, "payment_method")
        default = (
            Customer.objects.filter(stripe_id=invoice.customer_id)
            .values_list("default_payment_method_id", "default_source_id")
            .first()
        )
        key = op_key("invoice.pay", invoice.stripe_id, params, default)
        return call_and_mirror(service("invoices").pay, invoice.stripe_id, key=key, **params)

    @classmethod
    def void(cls, invoice: Invoice) -> Invoice:
        """Void an open invoice."""
        return call_and_mirror(service("invoices").void_invoice, invoice.stripe_id)

    @classmethod
    def retrieve(cls, stripe_id: str) -> Invoice | None:
        """Fetch the invoice with its lines and mirror it."""
        row = refresh_object("invoice", stripe_id_of(stripe_id, "stripe_id", ("in_",)))
        return row if isinstance(row, Invoice) else None


__all__ = ["StripeInvoice", "StripeInvoiceItem", "check_currency"]
