"""PaymentIntent endpoints of :class:`~.fake.FakeStripe`.

Confirming pays with the test card behind ``payment_method``: a good card succeeds (a
``charge`` in ``latest_charge``), a declining one answers 402 ``card_declined`` with the
PaymentIntent in the error and leaves it ``requires_payment_method`` with
``last_payment_error``; a 3D Secure card stops at ``requires_action`` (``next_action``) until
:meth:`FakeStripe.authenticate`, and fails off-session with ``authentication_required``.
The PaymentIntent of an invoice pays the invoice when it succeeds.
"""

from __future__ import annotations

import copy
from typing import Any

from stripe_integrations.testing import fake_cards, fake_charges
from stripe_integrations.testing.fake_errors import FakeError
from stripe_integrations.testing.fake_params import (
    as_bool,
    as_dict,
    as_enum,
    as_int,
    as_list,
    as_str,
    check_known,
    created_filter,
    matches_range,
    merged_metadata,
    require,
)
from stripe_integrations.testing.fake_store import Ctx, JsonDict, paginate

_SHARED = frozenset(
    {
        "capture_method",
        "description",
        "metadata",
        "payment_method",
        "payment_method_options",
        "receipt_email",
        "setup_future_usage",
        "shipping",
        "statement_descriptor",
        "statement_descriptor_suffix",
    }
)
PAYMENT_INTENT_CREATE_PARAMS = _SHARED | {
    "amount",
    "automatic_payment_methods",
    "confirm",
    "confirmation_method",
    "currency",
    "customer",
    "error_on_requires_action",
    "mandate_data",
    "off_session",
    "payment_method_types",
    "return_url",
    "use_stripe_sdk",
}
_CONFIRM_PARAMS = (
    "capture_method",
    "error_on_requires_action",
    "mandate_data",
    "off_session",
    "payment_method",
    "payment_method_options",
    "receipt_email",
    "return_url",
    "setup_future_usage",
    "shipping",
    "use_stripe_sdk",
)
_CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
_CANCELABLE = (*_CONFIRMABLE, "requires_capture", "processing")
_USAGES = ("off_session", "on_session")


def new_intent(
    ctx: Ctx,
    *,
    amount: int,
    currency: str,
    customer_id: str | None,
    description: str | None = None,
    invoice_id: str | None = None,
) -> JsonDict:
    """Store a PaymentIntent awaiting a payment method (``payment_intent.created``)."""
    intent_id = ctx.store.new_id("payment_intent")
    intent: JsonDict = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic_async",
        "client_secret": ctx.store.secret(intent_id),
        "confirmation_method": "automatic",
        "created": ctx.store.now(),
        "currency": currency,
        "customer": customer_id,
        "customer_account": None,
        "description": description,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }
    ctx.store.insert(intent)
    if invoice_id is not None:
        ctx.store.hide(intent_id)["invoice"] = invoice_id
    ctx.emit("payment_intent.created", intent)
    return intent


def invoice_of(ctx: Ctx, intent: JsonDict) -> str | None:
    """The invoice a PaymentIntent pays, if any."""
    invoice_id: str | None = ctx.store.hidden.get(intent["id"], {}).get("invoice")
    return invoice_id


def _apply(ctx: Ctx, intent: JsonDict, params: JsonDict) -> None:
    for key in (
        "description",
        "receipt_email",
        "statement_descriptor",
        "statement_descriptor_suffix",
    ):
        if key in params:
            intent[key] = as_str(params[key], key)
    if "metadata" in params:
        intent["metadata"] = merged_metadata(intent["metadata"], params["metadata"])
    if "capture_method" in params:
        intent["capture_method"] = as_enum(
            params["capture_method"], "capture_method", ("automatic", "automatic_async", "manual")
        )
    if "setup_future_usage" in params:
        usage = as_str(params["setup_future_usage"], "setup_future_usage")
        intent["setup_future_usage"] = usage and as_enum(usage, "setup_future_usage", _USAGES)
    if "shipping" in params:
        intent["shipping"] = as_dict(params["shipping"], "shipping")
    if params.get("payment_method") not in (None, ""):
        payer = fake_cards.payer(ctx, params["payment_method"], "payment_method")
        intent["payment_method"] = payer["id"]
        if intent["status"] == "requires_payment_method":
            intent["status"] = "requires_confirmation"


def create_payment_intent(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``POST /v1/payment_intents`` (``confirm=true`` confirms at once)."""
    check_known(params, PAYMENT_INTENT_CREATE_PARAMS)
    amount = as_int(require(params, "amount"), "amount", minimum=1)
    currency = str(require(params, "currency")).lower()
    customer_id = as_str(params.get("customer"), "customer")
    if customer_id is not None:
        ctx.store.get("customer", customer_id, param="customer")
    types = [str(t) for t in as_list(params.get("payment_method_types"), "payment_method_types")]
    if any(t != "card" for t in types):
        raise FakeError(400, "The fake supports only card payments.", param="payment_method_types")
    automatic = as_dict(params.get("automatic_payment_methods"), "automatic_payment_methods")
    intent = new_intent(
        ctx,
        amount=amount,
        currency=currency,
        customer_id=customer_id,
        description=as_str(params.get("description"), "description"),
    )
    if automatic is not None:
        intent["automatic_payment_methods"] = {
            "allow_redirects": automatic.get("allow_redirects", "always"),
            "enabled": as_bool(
                automatic.get("enabled", True), "automatic_payment_methods[enabled]"
            ),
        }
    if "confirmation_method" in params:
        intent["confirmation_method"] = as_enum(
            params["confirmation_method"], "confirmation_method", ("automatic", "manual")
        )
    _apply(ctx, intent, params)
    if as_bool(params.get("confirm", False), "confirm"):
        _confirm(ctx, intent, params)
    return intent


def retrieve_payment_intent(ctx: Ctx, params: JsonDict, intent_id: str) -> JsonDict:
    """``GET /v1/payment_intents/{id}``."""
    check_known(params, ("client_secret",))
    return ctx.store.get("payment_intent", intent_id)


def update_payment_intent(ctx: Ctx, params: JsonDict, intent_id: str) -> JsonDict:
    """``POST /v1/payment_intents/{id}`` (before it succeeds or is canceled)."""
    intent = ctx.store.get("payment_intent", intent_id)
    check_known(params, _SHARED | {"amount", "currency", "customer", "payment_method_types"})
    if invoice_of(ctx, intent) is not None and set(params) - {"metadata", "expand"}:
        raise FakeError(
            400,
            "The PaymentIntent of an invoice can't be edited: update the invoice instead.",
            code="payment_intent_unexpected_state",
        )
    if intent["status"] not in _CONFIRMABLE:
        raise _unexpected(intent, "update")
    if "amount" in params:
        intent["amount"] = as_int(params["amount"], "amount", minimum=1)
    if "currency" in params:
        intent["currency"] = str(params["currency"]).lower()
    if "customer" in params:
        customer_id = as_str(params["customer"], "customer")
        if customer_id is not None:
            ctx.store.get("customer", customer_id, param="customer")
        intent["customer"] = customer_id
    _apply(ctx, intent, params)
    return intent


def _unexpected(intent: JsonDict, action: str) -> FakeError:
    return FakeError(
        400,
        f"You cannot {action} this PaymentIntent because it has a status of {intent['status']}.",
        code="payment_intent_unexpected_state",
        extra={"payment_intent": copy.deepcopy(intent)},
    )


def confirm_payment_intent(ctx: Ctx, params: JsonDict, intent_id: str) -> JsonDict:
    """``POST /v1/payment_intents/{id}/confirm``."""
    intent = ctx.store.get("payment_intent", intent_id)
    check_known(params, _CONFIRM_PARAMS)
    _apply(ctx, intent, {k: v for k, v in params.items() if k in _SHARED})
    _confirm(ctx, intent, params)
    return intent


def _confirm(ctx: Ctx, intent: JsonDict, params: JsonDict) -> None:
    if intent["status"] not in _CONFIRMABLE:
        raise _unexpected(intent, "confirm")
    if intent["payment_method"] is None:
        raise FakeError(
            400,
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
            extra={"payment_intent": copy.deepcopy(intent)},
        )
    off_session = params.get("off_session") not in (None, "", "false", False)
    no_action = as_bool(params.get("error_on_requires_action", False), "error_on_requires_action")
    error = attempt(
        ctx,
        intent,
        str(intent["payment_method"]),
        off_session=off_session or no_action,
        return_url=as_str(params.get("return_url"), "return_url"),
    )
    if error is not None:
        raise error


def attempt(
    ctx: Ctx, intent: JsonDict, payer_id: str, *, off_session: bool, return_url: str | None = None
) -> FakeError | None:
    """Pay ``intent`` with a payment method; the error to answer with when it fails."""
    payer = fake_cards.payer(ctx, payer_id, "payment_method")
    if payer["customer"] not in (None, intent["customer"]):
        raise FakeError(
            400,
            "The provided PaymentMethod belongs to another customer.",
            code="payment_intent_invalid_parameter",
            param="payment_method",
        )
    intent["payment_method"] = payer["id"]
    if fake_cards.charge_fails(ctx.store, payer["id"]):
        return _decline(
            ctx, intent, payer, "card_declined", fake_cards.decline_code(ctx.store, payer["id"])
        )
    if fake_cards.needs_authentication(ctx.store, payer["id"]):
        if off_session:
            return _decline(
                ctx, intent, payer, "authentication_required", "authentication_required"
            )
        _require_action(ctx, intent, return_url)
        return None
    succeed(ctx, intent, payer)
    return None


def _require_action(ctx: Ctx, intent: JsonDict, return_url: str | None) -> None:
    hosted = f"https://hooks.stripe.com/3d_secure_2/hosted?payment_intent={intent['id']}"
    if return_url:
        action: JsonDict = {
            "redirect_to_url": {"return_url": return_url, "url": hosted},
            "type": "redirect_to_url",
        }
    else:
        action = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {
                "source": intent["payment_method"],
                "stripe_js": hosted,
                "type": "three_d_secure_redirect",
            },
        }
    intent.update(status="requires_action", next_action=action, last_payment_error=None)
    ctx.emit("payment_intent.requires_action", intent)


def succeed(ctx: Ctx, intent: JsonDict, payer: JsonDict) -> None:
    """The payment went through: a charge, then ``succeeded`` (``requires_capture``)."""
    charge = fake_charges.new_charge(ctx, intent, payer)
    intent.update(latest_charge=charge["id"], last_payment_error=None, next_action=None)
    if intent["capture_method"] == "manual":
        intent.update(status="requires_capture", amount_capturable=intent["amount"])
        ctx.emit("payment_intent.amount_capturable_updated", intent)
    else:
        intent.update(status="succeeded", amount_received=intent["amount"])
    if intent["setup_future_usage"] and intent["customer"] and payer["object"] == "payment_method":
        customer = ctx.store.get("customer", intent["customer"])
        fake_cards.attach(ctx, payer, customer)
    if intent["status"] == "succeeded":
        ctx.emit("payment_intent.succeeded", intent)
    _tell_invoice(ctx, intent, paid=intent["status"] == "succeeded")


def _decline(
    ctx: Ctx, intent: JsonDict, payer: JsonDict, code: str, decline_code: str
) -> FakeError:
    charge = fake_charges.new_charge(ctx, intent, payer, decline_code=decline_code)
    message = fake_charges.decline_message(decline_code)
    intent.update(
        status="requires_payment_method",
        payment_method=None,
        next_action=None,
        latest_charge=charge["id"],
        last_payment_error={
            "advice_code": None,
            "charge": charge["id"],
            "code": code,
            "decline_code": decline_code,
            "doc_url": "https://stripe.com/docs/error-codes/" + code.replace("_", "-"),
            "message": message,
            "network_advice_code": None,
            "network_decline_code": None,
            "param": None,
            "payment_method": copy.deepcopy(payer) if payer["object"] == "payment_method" else None,
            "type": "card_error",
        },
    )
    ctx.emit("payment_intent.payment_failed", intent)
    _tell_invoice(ctx, intent, paid=False)
    return FakeError(
        402,
        message,
        code=code,
        decline_code=decline_code,
        extra={"charge": charge["id"], "payment_intent": copy.deepcopy(intent)},
    )


def _tell_invoice(ctx: Ctx, intent: JsonDict, *, paid: bool) -> None:
    if invoice_of(ctx, intent) is None:
        return
    from stripe_integrations.testing import fake_invoice_payments

    if paid:
        fake_invoice_payments.intent_succeeded(ctx, intent)
    else:
        fake_invoice_payments.intent_failed(ctx, intent)


def authenticate(ctx: Ctx, intent: JsonDict, *, succeed_: bool) -> None:
    """Finish (or fail) the 3D Secure step of a ``requires_action`` PaymentIntent."""
    if intent["status"] != "requires_action":
        raise ValueError(f"{intent['id']} is {intent['status']}, not requires_action")
    payer = fake_cards.payer(ctx, intent["payment_method"], "payment_method")
    if succeed_:
        succeed(ctx, intent, payer)
        return
    intent.update(
        status="requires_payment_method",
        payment_method=None,
        next_action=None,
        last_payment_error={
            "code": "payment_intent_authentication_failure",
            "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
            "message": "The provided PaymentMethod has failed authentication.",
            "payment_method": copy.deepcopy(payer) if payer["object"] == "payment_method" else None,
            "type": "invalid_request_error",
        },
    )
    ctx.emit("payment_intent.payment_failed", intent)
    _tell_invoice(ctx, intent, paid=False)


def cancel_payment_intent(ctx: Ctx, params: JsonDict, intent_id: str) -> JsonDict:
    """``POST /v1/payment_intents/{id}/cancel``."""
    intent = ctx.store.get("payment_intent", intent_id)
    check_known(params, ("cancellation_reason",))
    if invoice_of(ctx, intent) is not None:
        raise FakeError(
            400,
            "The PaymentIntent of an invoice can't be canceled: void the invoice instead.",
            code="payment_intent_unexpected_state",
        )
    reason = params.get("cancellation_reason")
    if reason not in (None, ""):
        reasons = ("abandoned", "duplicate", "fraudulent", "requested_by_customer")
        reason = as_enum(reason, "cancellation_reason", reasons)
    cancel(ctx, intent, reason or None)
    return intent


def cancel(ctx: Ctx, intent: JsonDict, reason: Any) -> None:
    """Cancel ``intent`` (``payment_intent.canceled``); refuses a finished one."""
    if intent["status"] not in _CANCELABLE:
        raise _unexpected(intent, "cancel")
    intent.update(
        status="canceled",
        canceled_at=ctx.store.now(),
        cancellation_reason=reason,
        amount_capturable=0,
        next_action=None,
    )
    ctx.emit("payment_intent.canceled", intent)


def capture_payment_intent(ctx: Ctx, params: JsonDict, intent_id: str) -> JsonDict:
    """``POST /v1/payment_intents/{id}/capture`` (``amount_to_capture`` up to the amount)."""
    intent = ctx.store.get("payment_intent", intent_id)
    check_known(params, ("amount_to_capture", "metadata", "statement_descriptor", "final_capture"))
    if intent["status"] != "requires_capture":
        raise _unexpected(intent, "capture")
    amount = as_int(
        params.get("amount_to_capture", intent["amount_capturable"]), "amount_to_capture", minimum=1
    )
    if amount > intent["amount_capturable"]:
        raise FakeError(
            400,
            "amount_to_capture is larger than the capturable amount.",
            param="amount_to_capture",
        )
    charge = ctx.store.get("charge", intent["latest_charge"])
    charge.update(captured=True, amount_captured=amount)
    ctx.emit("charge.captured", charge)
    intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
    ctx.emit("payment_intent.succeeded", intent)
    return intent


def list_payment_intents(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/payment_intents`` (``customer``, ``created``)."""
    check_known(
        params,
        ("created", "customer", "customer_account", "limit", "starting_after", "ending_before"),
    )
    created = created_filter(params)

    def keep(intent: JsonDict) -> bool:
        return params.get("customer") in (None, intent["customer"]) and matches_range(
            intent["created"], created
        )

    items = ctx.store.newest_first("payment_intent", keep)
    return paginate(ctx.store, items, params, "/v1/payment_intents", "payment_intent")
