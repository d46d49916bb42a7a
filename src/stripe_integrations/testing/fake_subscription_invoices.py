"""The invoices subscriptions make in :class:`~.fake.FakeStripe`.

Creating a subscription (and ending its trial) bills its items at once: an invoice with one
line per item (``billing_reason`` ``subscription_create`` / ``subscription_update``), finalized,
then paid with the subscription's or customer's default payment method. With no payment
method, ``payment_behavior=default_incomplete``, a declined card or a 3D Secure card the
invoice stays ``open`` and a new subscription is ``incomplete`` (``error_if_incomplete``
answers 402 and creates nothing); ``send_invoice`` subscriptions are active with the invoice
open. Nothing is prorated.
"""

from __future__ import annotations

from stripe_integrations.testing import fake_cards, fake_invoice_lines, fake_invoice_payments
from stripe_integrations.testing.fake_errors import FakeError
from stripe_integrations.testing.fake_invoices import new_invoice, recompute
from stripe_integrations.testing.fake_store import Ctx, JsonDict


def build(ctx: Ctx, sub: JsonDict, *, reason: str, stored: bool = True) -> JsonDict:
    """A draft invoice billing every item of ``sub`` for its current period."""
    customer = ctx.store.get("customer", sub["customer"])
    invoice = new_invoice(
        ctx,
        customer,
        currency=sub["currency"],
        billing_reason=reason,
        subscription=sub,
        stored=stored,
    )
    invoice["collection_method"] = sub["collection_method"]
    if sub["collection_method"] == "send_invoice":
        invoice["due_date"] = invoice["created"] + (sub["days_until_due"] or 30) * 86_400
    invoice["auto_advance"] = True
    invoice["description"] = sub["description"]
    trial = sub["status"] == "trialing"
    items = sub["items"]["data"]
    for item in items:
        period = (item["current_period_start"], item["current_period_end"])
        invoice["lines"]["data"].append(
            fake_invoice_lines.subscription_line(
                ctx, invoice, item, period=period, trial=trial, stored=stored
            )
        )
    invoice["lines"]["total_count"] = len(items)
    if items:
        invoice["period_start"] = min(item["current_period_start"] for item in items)
        invoice["period_end"] = invoice["period_start"]
    recompute(ctx, invoice)
    return invoice


def payer_of(ctx: Ctx, sub: JsonDict) -> str | None:
    """The payment method a subscription's invoices are charged to."""
    customer = ctx.store.get("customer", sub["customer"])
    found = (
        sub["default_payment_method"]
        or sub["default_source"]
        or customer["invoice_settings"]["default_payment_method"]
        or customer["default_source"]
    )
    return str(found) if found else None


def predicted_status(ctx: Ctx, sub: JsonDict, invoice: JsonDict, behaviour: str) -> str:
    """The status a new subscription gets once its first invoice is collected."""
    if sub["status"] == "trialing":
        return "trialing"
    if invoice["amount_due"] == 0 or sub["collection_method"] != "charge_automatically":
        return "active"
    if behaviour == "default_incomplete":
        return "incomplete"
    payer = payer_of(ctx, sub)
    if payer is None:
        return "incomplete"
    fails = fake_cards.charge_fails(ctx.store, payer)
    if not fails and not fake_cards.needs_authentication(ctx.store, payer):
        return "active"
    if behaviour == "error_if_incomplete":
        code = "card_declined" if fails else "invoice_payment_intent_requires_action"
        raise FakeError(
            402,
            "Your card was declined." if fails else "This payment requires authentication.",
            code=code,
            decline_code=fake_cards.decline_code(ctx.store, payer) if fails else None,
        )
    return "incomplete"


def collect_first(
    ctx: Ctx, sub: JsonDict, invoice: JsonDict, *, behaviour: str, off_session: bool
) -> None:
    """Announce, finalize and (unless told not to) pay a subscription's new invoice."""
    ctx.emit("invoice.created", invoice)
    fake_invoice_payments.finalize(ctx, invoice)
    if invoice["status"] != "open" or invoice["collection_method"] != "charge_automatically":
        return
    payer = payer_of(ctx, sub)
    if behaviour == "default_incomplete" or payer is None:
        return
    fake_invoice_payments.collect(ctx, invoice, payer, off_session=off_session)
