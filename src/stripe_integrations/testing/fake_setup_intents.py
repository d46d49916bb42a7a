"""SetupIntent endpoints of :class:`~.fake.FakeStripe`.

Confirming saves the test card behind ``payment_method``: a good card succeeds and is
attached to the SetupIntent's customer (``payment_method.attached``); a card refused on
attach (``pm_card_chargeDeclined``) answers 402 ``card_declined`` with the SetupIntent in the
error; a 3D Secure card stops at ``requires_action`` until :meth:`FakeStripe.authenticate`.
"""

from __future__ import annotations

import copy

from stripe_integrations.testing import fake_cards
from stripe_integrations.testing.fake_errors import FakeError
from stripe_integrations.testing.fake_params import (
    as_bool,
    as_enum,
    as_list,
    as_str,
    check_known,
    created_filter,
    matches_range,
    merged_metadata,
)
from stripe_integrations.testing.fake_store import Ctx, JsonDict, paginate

_SHARED = frozenset({"description", "metadata", "payment_method", "payment_method_options"})
SETUP_INTENT_CREATE_PARAMS = _SHARED | {
    "attach_to_self",
    "automatic_payment_methods",
    "confirm",
    "customer",
    "flow_directions",
    "mandate_data",
    "payment_method_types",
    "return_url",
    "usage",
    "use_stripe_sdk",
}
_CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")


def _apply(ctx: Ctx, intent: JsonDict, params: JsonDict) -> None:
    if "description" in params:
        intent["description"] = as_str(params["description"], "description")
    if "metadata" in params:
        intent["metadata"] = merged_metadata(intent["metadata"] or {}, params["metadata"])
    if params.get("payment_method") not in (None, ""):
        pm = fake_cards.payment_method(ctx, params["payment_method"], param="payment_method")
        intent["payment_method"] = pm["id"]
        if intent["status"] == "requires_payment_method":
            intent["status"] = "requires_confirmation"


def create_setup_intent(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``POST /v1/setup_intents`` (``confirm=true`` confirms at once)."""
    check_known(params, SETUP_INTENT_CREATE_PARAMS)
    customer_id = as_str(params.get("customer"), "customer")
    if customer_id is not None:
        ctx.store.get("customer", customer_id, param="customer")
    types = [str(t) for t in as_list(params.get("payment_method_types"), "payment_method_types")]
    if any(t != "card" for t in types):
        raise FakeError(400, "The fake supports only card setups.", param="payment_method_types")
    intent_id = ctx.store.new_id("setup_intent")
    intent: JsonDict = {
        "id": intent_id,
        "object": "setup_intent",
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": ctx.store.secret(intent_id),
        "created": ctx.store.now(),
        "customer": customer_id,
        "customer_account": None,
        "description": None,
        "excluded_payment_method_types": None,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "mandate": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "single_use_mandate": None,
        "status": "requires_payment_method",
        "usage": as_enum(
            params.get("usage", "off_session"), "usage", ("off_session", "on_session")
        ),
    }
    if "automatic_payment_methods" in params:
        intent["automatic_payment_methods"] = {"allow_redirects": "always", "enabled": True}
    _apply(ctx, intent, params)
    ctx.store.insert(intent)
    ctx.emit("setup_intent.created", intent)
    if as_bool(params.get("confirm", False), "confirm"):
        _confirm(ctx, intent, as_str(params.get("return_url"), "return_url"))
    return intent


def retrieve_setup_intent(ctx: Ctx, params: JsonDict, intent_id: str) -> JsonDict:
    """``GET /v1/setup_intents/{id}``."""
    check_known(params, ("client_secret",))
    return ctx.store.get("setup_intent", intent_id)


def update_setup_intent(ctx: Ctx, params: JsonDict, intent_id: str) -> JsonDict:
    """``POST /v1/setup_intents/{id}``."""
    intent = ctx.store.get("setup_intent", intent_id)
    check_known(params, _SHARED | {"customer", "flow_directions", "payment_method_types"})
    if intent["status"] not in _CONFIRMABLE:
        raise _unexpected(intent, "update")
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
        f"You cannot {action} this SetupIntent because it has a status of {intent['status']}.",
        code="setup_intent_unexpected_state",
        extra={"setup_intent": copy.deepcopy(intent)},
    )


def confirm_setup_intent(ctx: Ctx, params: JsonDict, intent_id: str) -> JsonDict:
    """``POST /v1/setup_intents/{id}/confirm``."""
    intent = ctx.store.get("setup_intent", intent_id)
    check_known(
        params,
        (
            "mandate_data",
            "payment_method",
            "payment_method_options",
            "return_url",
            "use_stripe_sdk",
        ),
    )
    if intent["status"] not in _CONFIRMABLE:
        raise _unexpected(intent, "confirm")
    _apply(ctx, intent, {k: v for k, v in params.items() if k in _SHARED})
    _confirm(ctx, intent, as_str(params.get("return_url"), "return_url"))
    return intent


def _confirm(ctx: Ctx, intent: JsonDict, return_url: str | None) -> None:
    if intent["payment_method"] is None:
        raise FakeError(
            400,
            "You cannot confirm this SetupIntent because it's missing a payment method.",
            code="setup_intent_unexpected_state",
            extra={"setup_intent": copy.deepcopy(intent)},
        )
    pm = fake_cards.payment_method(ctx, intent["payment_method"], param="payment_method")
    if pm["customer"] not in (None, intent["customer"]):
        raise FakeError(
            400,
            "The provided PaymentMethod is attached to another customer.",
            code="setup_intent_invalid_parameter",
            param="payment_method",
        )
    if ctx.store.card_behaviour.get(pm["id"]) == fake_cards.DECLINE_ATTACH:
        code = fake_cards.decline_code(ctx.store, pm["id"])
        intent.update(
            status="requires_payment_method",
            payment_method=None,
            next_action=None,
            last_setup_error={
                "code": "card_declined",
                "decline_code": code,
                "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                "message": "Your card was declined.",
                "payment_method": copy.deepcopy(pm),
                "type": "card_error",
            },
        )
        ctx.emit("setup_intent.setup_failed", intent)
        raise FakeError(
            402,
            "Your card was declined.",
            code="card_declined",
            decline_code=code,
            extra={"setup_intent": copy.deepcopy(intent)},
        )
    if fake_cards.needs_authentication(ctx.store, pm["id"]):
        hosted = f"https://hooks.stripe.com/3d_secure_2/hosted?setup_intent={intent['id']}"
        action: JsonDict = (
            {
                "redirect_to_url": {"return_url": return_url, "url": hosted},
                "type": "redirect_to_url",
            }
            if return_url
            else {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"stripe_js": hosted, "type": "three_d_secure_redirect"},
            }
        )
        intent.update(status="requires_action", next_action=action, last_setup_error=None)
        ctx.emit("setup_intent.requires_action", intent)
        return
    _succeed(ctx, intent, pm)


def _succeed(ctx: Ctx, intent: JsonDict, pm: JsonDict) -> None:
    intent.update(status="succeeded", next_action=None, last_setup_error=None)
    if intent["customer"] is not None:
        fake_cards.attach(ctx, pm, ctx.store.get("customer", intent["customer"]))
    ctx.emit("setup_intent.succeeded", intent)


def authenticate(ctx: Ctx, intent: JsonDict, *, succeed_: bool) -> None:
    """Finish (or fail) the 3D Secure step of a ``requires_action`` SetupIntent."""
    if intent["status"] != "requires_action":
        raise ValueError(f"{intent['id']} is {intent['status']}, not requires_action")
    pm = ctx.store.get("payment_method", intent["payment_method"])
    if succeed_:
        _succeed(ctx, intent, pm)
        return
    intent.update(
        status="requires_payment_method",
        payment_method=None,
        next_action=None,
        last_setup_error={
            "code": "setup_intent_authentication_failure",
            "doc_url": "https://stripe.com/docs/error-codes/setup-intent-authentication-failure",
            "message": "The latest attempt to set up the payment method has failed because "
            "authentication failed.",
            "payment_method": copy.deepcopy(pm),
            "type": "invalid_request_error",
        },
    )
    ctx.emit("setup_intent.setup_failed", intent)


def cancel_setup_intent(ctx: Ctx, params: JsonDict, intent_id: str) -> JsonDict:
    """``POST /v1/setup_intents/{id}/cancel``."""
    intent = ctx.store.get("setup_intent", intent_id)
    check_known(params, ("cancellation_reason",))
    if intent["status"] not in _CONFIRMABLE:
        raise _unexpected(intent, "cancel")
    reason = params.get("cancellation_reason")
    if reason not in (None, ""):
        reason = as_enum(
            reason, "cancellation_reason", ("abandoned", "duplicate", "requested_by_customer")
        )
    intent.update(status="canceled", cancellation_reason=reason or None, next_action=None)
    ctx.emit("setup_intent.canceled", intent)
    return intent


def list_setup_intents(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/setup_intents`` (``customer``, ``payment_method``, ``created``)."""
    check_known(
        params,
        (
            "attach_to_self",
            "created",
            "customer",
            "customer_account",
            "payment_method",
            "limit",
            "starting_after",
            "ending_before",
        ),
    )
    created = created_filter(params)

    def keep(intent: JsonDict) -> bool:
        return (
            params.get("customer") in (None, intent["customer"])
            and params.get("payment_method") in (None, intent["payment_method"])
            and matches_range(intent["created"], created)
        )

    items = ctx.store.newest_first("setup_intent", keep)
    return paginate(ctx.store, items, params, "/v1/setup_intents", "setup_intent")
