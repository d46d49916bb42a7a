"""Invoice life cycle of :class:`~.fake.FakeStripe`: finalize, pay, send, void, mark
uncollectible, and the invoice payments that link an invoice to its PaymentIntent.

Finalizing numbers the invoice (``{invoice_prefix}-0001``), applies the customer balance and,
when something is due, creates a PaymentIntent and a default ``invoice_payment`` for it
(``payment: {"type": "payment_intent", "payment_intent": id}``); an invoice with nothing due
is paid at once. Paying confirms that PaymentIntent with the invoice's, subscription's or
customer's default payment method.
"""

from __future__ import annotations

import copy

from stripe_integrations.testing import fake_discounts, fake_payment_intents
from stripe_integrations.testing.fake_errors import FakeError
from stripe_integrations.testing.fake_invoice_totals import discount_ids, settle
from stripe_integrations.testing.fake_invoices import recompute, subscription_of
from stripe_integrations.testing.fake_params import (
    as_bool,
    as_dict,
    as_str,
    check_known,
    created_filter,
    matches_range,
)
from stripe_integrations.testing.fake_store import Ctx, JsonDict, Store, list_object, paginate

_REQUIRES_ACTION = (
    "This payment requires additional user action before it can be completed successfully. "
    "Payment can be completed using the PaymentIntent associated with the invoice."
)


def intent_of(store: Store, invoice: JsonDict) -> JsonDict | None:
    """The PaymentIntent Stripe made when finalizing ``invoice``."""
    intent_id = store.hidden.get(invoice["id"], {}).get("payment_intent")
    return store.find("payment_intent", intent_id) if intent_id else None


def _invoice_payment(store: Store, invoice: JsonDict) -> JsonDict | None:
    payment_id = store.hidden.get(invoice["id"], {}).get("invoice_payment")
    return store.find("invoice_payment", payment_id) if payment_id else None


def finalize(ctx: Ctx, invoice: JsonDict, *, auto_advance: bool | None = None) -> JsonDict:
    """draft -> open (or paid when nothing is due): ``invoice.finalized``."""
    if invoice["status"] != "draft":
        raise FakeError(
            400, "This invoice is already finalized, you can't re-finalize a non-draft invoice."
        )
    recompute(ctx, invoice)
    customer = ctx.store.get("customer", invoice["customer"])
    now = ctx.store.now()
    if auto_advance is not None:
        invoice["auto_advance"] = auto_advance
    token = ctx.store.new_id("invoice").removeprefix("in_")
    invoice.update(
        status="open",
        number=f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}",
        effective_at=now,
        automatically_finalizes_at=None,
        hosted_invoice_url=f"https://invoice.stripe.com/i/acct_fake/test_{token}",
        invoice_pdf=f"https://pay.stripe.com/invoice/acct_fake/test_{token}/pdf",
        next_payment_attempt=now + 3600
        if invoice["auto_advance"] and invoice["collection_method"] == "charge_automatically"
        else None,
    )
    invoice["status_transitions"]["finalized_at"] = now
    customer["next_invoice_sequence"] += 1
    settle(invoice)
    if invoice["ending_balance"] != customer["balance"]:
        before = copy.deepcopy(customer)
        customer["balance"] = invoice["ending_balance"]
        ctx.emit_update("customer.updated", customer, before)
    fake_discounts.mark_spent(ctx.store, discount_ids(invoice), invoice["id"])
    if invoice["amount_due"] > 0:
        _new_payment(ctx, invoice)
    ctx.emit("invoice.finalized", invoice)
    if invoice["amount_due"] == 0:
        _mark_paid(ctx, invoice, 0, attempted=False)
    return invoice


def _new_payment(ctx: Ctx, invoice: JsonDict) -> None:
    intent = fake_payment_intents.new_intent(
        ctx,
        amount=invoice["amount_due"],
        currency=invoice["currency"],
        customer_id=invoice["customer"],
        description="Subscription creation"
        if invoice["billing_reason"] == "subscription_create"
        else "Payment for Invoice",
        invoice_id=invoice["id"],
    )
    payment = {
        "id": ctx.store.new_id("invoice_payment"),
        "object": "invoice_payment",
        "amount_paid": None,
        "amount_requested": invoice["amount_due"],
        "created": ctx.store.now(),
        "currency": invoice["currency"],
        "invoice": invoice["id"],
        "is_default": True,
        "livemode": False,
        "payment": {"payment_intent": intent["id"], "type": "payment_intent"},
        "status": "open",
        "status_transitions": {"canceled_at": None, "paid_at": None},
    }
    ctx.store.insert(payment)
    ctx.store.hide(invoice["id"]).update(payment_intent=intent["id"], invoice_payment=payment["id"])


def _mark_paid(ctx: Ctx, invoice: JsonDict, amount: int, *, attempted: bool) -> None:
    now = ctx.store.now()
    invoice["amount_paid"] += amount
    invoice["status"] = "paid"
    invoice["next_payment_attempt"] = None
    invoice["status_transitions"]["paid_at"] = now
    if attempted:
        invoice["attempted"] = True
        invoice["attempt_count"] += 1
    settle(invoice)
    ctx.emit("invoice.paid", invoice)
    ctx.emit("invoice.payment_succeeded", invoice)
    _subscription_paid(ctx, invoice)


def _subscription_paid(ctx: Ctx, invoice: JsonDict) -> None:
    sub_id = subscription_of(invoice)
    sub = ctx.store.find("subscription", sub_id) if sub_id else None
    if sub is None or sub["status"] not in ("incomplete", "past_due", "unpaid"):
        return
    before = copy.deepcopy(sub)
    sub["status"] = "active"
    ctx.emit_update("customer.subscription.updated", sub, before)


def intent_succeeded(ctx: Ctx, intent: JsonDict) -> None:
    """An invoice's PaymentIntent succeeded: the invoice is paid."""
    invoice = ctx.store.get("invoice", ctx.store.hidden[intent["id"]]["invoice"])
    payment = _invoice_payment(ctx.store, invoice)
    if payment is not None:
        payment.update(status="paid", amount_paid=intent["amount_received"])
        payment["status_transitions"]["paid_at"] = ctx.store.now()
    if invoice["status"] in ("open", "uncollectible"):
        _mark_paid(ctx, invoice, intent["amount_received"], attempted=True)


def intent_failed(ctx: Ctx, intent: JsonDict) -> None:
    """An invoice's PaymentIntent failed (declined, or 3D Secure failed)."""
    invoice = ctx.store.get("invoice", ctx.store.hidden[intent["id"]]["invoice"])
    invoice["attempted"] = True
    invoice["attempt_count"] += 1
    ctx.emit("invoice.payment_failed", invoice)
    sub_id = subscription_of(invoice)
    sub = ctx.store.find("subscription", sub_id) if sub_id else None
    if sub is not None and sub["status"] == "active" and sub["latest_invoice"] == invoice["id"]:
        before = copy.deepcopy(sub)
        sub["status"] = "past_due"
        ctx.emit_update("customer.subscription.updated", sub, before)


def default_payer(ctx: Ctx, invoice: JsonDict) -> str | None:
    """The invoice's, else its subscription's, else its customer's default payment method."""
    sub_id = subscription_of(invoice)
    sub = ctx.store.find("subscription", sub_id) if sub_id else None
    customer = ctx.store.get("customer", invoice["customer"])
    for candidate in (
        invoice["default_payment_method"],
        invoice["default_source"],
        sub and sub["default_payment_method"],
        sub and sub["default_source"],
        customer["invoice_settings"]["default_payment_method"],
        customer["default_source"],
    ):
        if candidate:
            return str(candidate)
    return None


def collect(ctx: Ctx, invoice: JsonDict, payer_id: str, *, off_session: bool) -> FakeError | None:
    """Attempt to pay an open invoice; the error to answer with when it is not paid."""
    intent = intent_of(ctx.store, invoice)
    if intent is None:
        return None
    error = fake_payment_intents.attempt(ctx, intent, payer_id, off_session=off_session)
    if error is None and intent["status"] == "requires_action":
        invoice["attempted"] = True
        invoice["attempt_count"] += 1
        ctx.emit("invoice.payment_action_required", invoice)
        return FakeError(
            402,
            _REQUIRES_ACTION,
            code="invoice_payment_intent_requires_action",
            extra={"payment_intent": copy.deepcopy(intent)},
        )
    return error


def finalize_invoice(ctx: Ctx, params: JsonDict, invoice_id: str) -> JsonDict:
    """``POST /v1/invoices/{id}/finalize``."""
    check_known(params, ("auto_advance",))
    invoice = ctx.store.get("invoice", invoice_id)
    auto_advance = (
        as_bool(params["auto_advance"], "auto_advance") if "auto_advance" in params else None
    )
    return finalize(ctx, invoice, auto_advance=auto_advance)


def pay_invoice(ctx: Ctx, params: JsonDict, invoice_id: str) -> JsonDict:
    """``POST /v1/invoices/{id}/pay`` (finalizes a draft first)."""
    check_known(
        params,
        ("forgive", "mandate", "off_session", "paid_out_of_band", "payment_method", "source"),
    )
    invoice = ctx.store.get("invoice", invoice_id)
    if invoice["status"] == "draft":
        finalize(ctx, invoice)
    if invoice["status"] in ("paid", "void"):
        raise FakeError(400, f"Invoice is already {invoice['status']}", code="invoice_not_editable")
    if as_bool(params.get("paid_out_of_band", False), "paid_out_of_band"):
        _paid_out_of_band(ctx, invoice)
        return invoice
    if invoice["amount_remaining"] == 0:
        _mark_paid(ctx, invoice, 0, attempted=False)
        return invoice
    payer_id = (
        as_str(params.get("payment_method"), "payment_method")
        or as_str(params.get("source"), "source")
        or default_payer(ctx, invoice)
    )
    if payer_id is None:
        raise FakeError(
            400,
            "This customer has no attached payment source or default payment method. Please "
            "consider adding a default payment method.",
        )
    off_session = as_bool(params.get("off_session", True), "off_session")
    error = collect(ctx, invoice, payer_id, off_session=off_session)
    if error is not None:
        raise error
    return invoice


def _paid_out_of_band(ctx: Ctx, invoice: JsonDict) -> None:
    intent = intent_of(ctx.store, invoice)
    if intent is not None and intent["status"] != "canceled":
        fake_payment_intents.cancel(ctx, intent, None)
    payment = _invoice_payment(ctx.store, invoice)
    if payment is not None:
        payment["status"] = "canceled"
        payment["status_transitions"]["canceled_at"] = ctx.store.now()
    invoice["amount_paid_off_stripe"] = invoice["amount_remaining"]
    _mark_paid(ctx, invoice, invoice["amount_remaining"], attempted=False)


def send_invoice(ctx: Ctx, params: JsonDict, invoice_id: str) -> JsonDict:
    """``POST /v1/invoices/{id}/send`` (``collection_method=send_invoice``; finalizes a draft)."""
    check_known(params, ())
    invoice = ctx.store.get("invoice", invoice_id)
    if invoice["collection_method"] != "send_invoice":
        raise FakeError(
            400,
            "You can only manually send an invoice if its collection method is 'send_invoice'.",
        )
    if invoice["status"] == "draft":
        finalize(ctx, invoice)
    if invoice["status"] in ("void", "uncollectible"):
        raise FakeError(400, f"You can't send an invoice that is {invoice['status']}.")
    ctx.emit("invoice.sent", invoice)
    return invoice


def void_invoice(ctx: Ctx, params: JsonDict, invoice_id: str) -> JsonDict:
    """``POST /v1/invoices/{id}/void`` (open or uncollectible invoices)."""
    check_known(params, ())
    invoice = ctx.store.get("invoice", invoice_id)
    if invoice["status"] not in ("open", "uncollectible"):
        raise FakeError(
            400,
            f"You can only void open or uncollectible invoices, not {invoice['status']} ones.",
            code="invoice_not_editable",
        )
    now = ctx.store.now()
    invoice["status"] = "void"
    invoice["next_payment_attempt"] = None
    invoice["status_transitions"]["voided_at"] = now
    intent = intent_of(ctx.store, invoice)
    if intent is not None and intent["status"] not in ("canceled", "succeeded"):
        fake_payment_intents.cancel(ctx, intent, "void_invoice")
    payment = _invoice_payment(ctx.store, invoice)
    if payment is not None and payment["status"] == "open":
        payment["status"] = "canceled"
        payment["status_transitions"]["canceled_at"] = now
    ctx.emit("invoice.voided", invoice)
    return invoice


def mark_uncollectible(ctx: Ctx, params: JsonDict, invoice_id: str) -> JsonDict:
    """``POST /v1/invoices/{id}/mark_uncollectible`` (open invoices)."""
    check_known(params, ())
    invoice = ctx.store.get("invoice", invoice_id)
    if invoice["status"] != "open":
        raise FakeError(
            400, "You can only mark open invoices as uncollectible.", code="invoice_not_editable"
        )
    invoice["status"] = "uncollectible"
    invoice["next_payment_attempt"] = None
    invoice["status_transitions"]["marked_uncollectible_at"] = ctx.store.now()
    ctx.emit("invoice.marked_uncollectible", invoice)
    return invoice


def retrieve_invoice_payment(ctx: Ctx, params: JsonDict, payment_id: str) -> JsonDict:
    """``GET /v1/invoice_payments/{id}``."""
    return ctx.store.get("invoice_payment", payment_id)


def list_invoice_payments(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/invoice_payments`` (``invoice``, ``payment[payment_intent]``, ``status``)."""
    check_known(
        params,
        ("created", "invoice", "payment", "status", "limit", "starting_after", "ending_before"),
    )
    payment = as_dict(params.get("payment"), "payment") or {}
    check_known(payment, ("type", "payment_intent", "payment_record"))
    created = created_filter(params)

    def keep(item: JsonDict) -> bool:
        return (
            params.get("invoice") in (None, item["invoice"])
            and params.get("status") in (None, item["status"])
            and payment.get("type") in (None, item["payment"]["type"])
            and payment.get("payment_intent") in (None, item["payment"]["payment_intent"])
            and matches_range(item["created"], created)
        )

    items = ctx.store.newest_first("invoice_payment", keep)
    return paginate(ctx.store, items, params, "/v1/invoice_payments", "invoice_payment")


def _include_payments(store: Store, invoice: JsonDict) -> JsonDict:
    payments = store.newest_first("invoice_payment", lambda p: p["invoice"] == invoice["id"])
    return list_object(copy.deepcopy(payments), f"/v1/invoices/{invoice['id']}/payments")


def _include_confirmation_secret(store: Store, invoice: JsonDict) -> JsonDict | None:
    intent = intent_of(store, invoice)
    if intent is None:
        return None
    return {"client_secret": intent["client_secret"], "type": "payment_intent"}


def register_includers(store: Store) -> None:
    """``expand=["payments"]`` and ``expand=["confirmation_secret"]`` on an invoice."""
    store.includers[("invoice", "payments")] = _include_payments
    store.includers[("invoice", "confirmation_secret")] = _include_confirmation_secret
