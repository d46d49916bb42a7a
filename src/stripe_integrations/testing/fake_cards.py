"""Test cards, payment methods and card sources of :class:`~.fake.FakeStripe`.

Stripe's test ids are understood wherever a payment method or token is expected:
``pm_card_visa``/``tok_visa`` (and ``mastercard``, ``amex``, ``visa_debit``), the declining
``pm_card_chargeDeclined``/``pm_card_visa_chargeDeclined``/
``pm_card_chargeDeclinedInsufficientFunds`` (refused when attached) and
``pm_card_chargeCustomerFail`` (attaches, then fails to pay). ``pm_card_authenticationRequired``
and ``pm_card_threeDSecure2Required`` need 3D Secure: payments and setups with them stop at
``requires_action`` (and fail off-session) until :meth:`FakeStripe.authenticate` completes them.
"""

from __future__ import annotations

import copy
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from stripe_integrations.testing.fake_errors import FakeError, missing
from stripe_integrations.testing.fake_params import (
    as_dict,
    as_enum,
    as_int,
    as_str,
    check_known,
    merged_metadata,
    require,
)
from stripe_integrations.testing.fake_store import Ctx, JsonDict, Store, paginate

#: A card refused when attached to a customer.
DECLINE_ATTACH = "decline_attach"
#: A card that attaches but whose payments fail.
DECLINE_CHARGE = "decline_charge"
#: A card whose payments and setups need 3D Secure authentication.
REQUIRES_ACTION = "requires_action"


@dataclass(frozen=True)
class CardSpec:
    """One of Stripe's documented test card numbers."""

    number: str
    brand: str
    funding: str = "credit"
    behaviour: str | None = None
    decline_code: str | None = None


_DECLINED = CardSpec("4000000000000002", "visa", "credit", DECLINE_ATTACH, "generic_decline")

#: Test cards by the name in ``pm_card_<name>`` / ``tok_<name>``.
TEST_CARDS: dict[str, CardSpec] = {
    "visa": CardSpec("4242424242424242", "visa"),
    "visa_debit": CardSpec("4000056655665556", "visa", "debit"),
    "mastercard": CardSpec("5555555555554444", "mastercard"),
    "amex": CardSpec("378282246310005", "amex"),
    "chargeDeclined": _DECLINED,
    "visa_chargeDeclined": _DECLINED,
    "chargeDeclinedInsufficientFunds": CardSpec(
        "4000000000009995", "visa", "credit", DECLINE_ATTACH, "insufficient_funds"
    ),
    "chargeCustomerFail": CardSpec(
        "4000000000000341", "visa", "credit", DECLINE_CHARGE, "generic_decline"
    ),
    "authenticationRequired": CardSpec("4000002760003184", "visa", "credit", REQUIRES_ACTION),
    "threeDSecure2Required": CardSpec("4000000000003220", "visa", "credit", REQUIRES_ACTION),
}

_SOURCE_BRANDS = {"visa": "Visa", "mastercard": "MasterCard", "amex": "American Express"}

PAYMENT_METHOD_CREATE_PARAMS = frozenset(
    {"type", "card", "billing_details", "metadata", "allow_redisplay"}
)
_ADDRESS_KEYS = ("city", "country", "line1", "line2", "postal_code", "state")


def address(value: Any, param: str) -> JsonDict | None:
    """A Stripe address hash with every key present (null when unset)."""
    given = as_dict(value, param)
    if given is None:
        return None
    check_known(given, _ADDRESS_KEYS)
    return {key: as_str(given.get(key), f"{param}[{key}]") for key in _ADDRESS_KEYS}


def _card_for_number(number: str) -> CardSpec:
    for card in TEST_CARDS.values():
        if card.number == number:
            return card
    digits = [int(char) for char in reversed(number)] if number.isdigit() else []
    checksum = sum(
        d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)
    )
    if len(digits) < 12 or checksum % 10:
        raise FakeError(
            402, "Your card number is incorrect.", code="incorrect_number", param="number"
        )
    if number.startswith(("34", "37")):
        return CardSpec(number, "amex")
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return CardSpec(number, "mastercard")
    return CardSpec(number, "visa" if number.startswith("4") else "unknown")


def _card_details(
    store: Store, card: CardSpec, exp_month: int | None, exp_year: int | None
) -> JsonDict:
    fingerprint = hashlib.sha256(card.number.encode()).hexdigest()[:16]
    return {
        "brand": card.brand,
        "country": "US",
        "exp_month": exp_month or 12,
        "exp_year": exp_year or time.gmtime(store.now()).tm_year + 1,
        "fingerprint": fingerprint,
        "funding": card.funding,
        "last4": card.number[-4:],
    }


def _new_payment_method(ctx: Ctx, card: CardSpec, details: JsonDict, params: JsonDict) -> JsonDict:
    billing = as_dict(params.get("billing_details"), "billing_details") or {}
    check_known(billing, ("address", "email", "name", "phone", "tax_id"))
    card_hash = {
        **details,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": None,
        },
        "display_brand": card.brand,
        "generated_from": None,
        "networks": {"available": [card.brand], "preferred": None},
        "regulated_status": "unregulated",
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }
    pm: JsonDict = {
        "id": ctx.store.new_id("payment_method"),
        "object": "payment_method",
        "allow_redisplay": as_enum(
            params.get("allow_redisplay", "unspecified"),
            "allow_redisplay",
            ("always", "limited", "unspecified"),
        ),
        "billing_details": {
            "address": address(billing.get("address"), "billing_details[address]")
            or dict.fromkeys(_ADDRESS_KEYS),
            "email": as_str(billing.get("email"), "billing_details[email]"),
            "name": as_str(billing.get("name"), "billing_details[name]"),
            "phone": as_str(billing.get("phone"), "billing_details[phone]"),
            "tax_id": as_str(billing.get("tax_id"), "billing_details[tax_id]"),
        },
        "card": card_hash,
        "created": ctx.store.now(),
        "customer": None,
        "livemode": False,
        "metadata": merged_metadata({}, params.get("metadata")),
        "type": "card",
    }
    _remember_behaviour(ctx.store, pm["id"], card)
    return ctx.store.insert(pm)


def create_payment_method(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``POST /v1/payment_methods`` (``type=card`` with a test token or a card number)."""
    check_known(params, PAYMENT_METHOD_CREATE_PARAMS)
    if require(params, "type") != "card":
        raise FakeError(400, "The fake supports only type=card.", param="type")
    card_param = as_dict(require(params, "card"), "card") or {}
    check_known(card_param, ("token", "number", "exp_month", "exp_year", "cvc", "networks"))
    if card_param.get("token"):
        card = token_card(str(card_param["token"]), "card[token]")
        details = _card_details(ctx.store, card, None, None)
    else:
        card = _card_for_number(str(require(card_param, "number")).replace(" ", ""))
        month = as_int(require(card_param, "exp_month"), "card[exp_month]")
        year = as_int(require(card_param, "exp_year"), "card[exp_year]")
        details = _card_details(ctx.store, card, month, year)
    return _new_payment_method(ctx, card, details, params)


def token_card(token: str, param: str) -> CardSpec:
    """The test card behind a ``tok_<name>`` token."""
    card = TEST_CARDS.get(token.removeprefix("tok_")) if token.startswith("tok_") else None
    if card is None:
        raise FakeError(400, f"No such token: '{token}'", code="resource_missing", param=param)
    return card


def payment_method(ctx: Ctx, pm_id: Any, *, param: str | None = None) -> JsonDict:
    """A stored payment method; a test id (``pm_card_visa``) becomes a new one, once a request."""
    pm_id = str(pm_id)
    if pm_id in ctx.materialized:
        return ctx.materialized[pm_id]
    name = pm_id.removeprefix("pm_card_") if pm_id.startswith("pm_card_") else None
    if name in TEST_CARDS:
        card = TEST_CARDS[name]
        pm = _new_payment_method(ctx, card, _card_details(ctx.store, card, None, None), {})
        ctx.materialized[pm_id] = pm
        return pm
    return ctx.store.get("payment_method", pm_id, param=param)


def check_attachable(store: Store, object_id: str, decline_code: str | None = None) -> None:
    """Refuse (402 ``card_declined``) a card that Stripe declines on attach."""
    if store.card_behaviour.get(object_id) == DECLINE_ATTACH:
        raise FakeError(
            402,
            "Your card was declined.",
            code="card_declined",
            decline_code=decline_code or "generic_decline",
        )


def check_token_attachable(card: CardSpec) -> None:
    """Refuse (402 ``card_declined``) a test token whose card Stripe declines on attach."""
    if card.behaviour == DECLINE_ATTACH:
        raise FakeError(
            402, "Your card was declined.", code="card_declined", decline_code=card.decline_code
        )


def _remember_behaviour(store: Store, object_id: str, card: CardSpec) -> None:
    if card.behaviour:
        store.card_behaviour[object_id] = card.behaviour
    if card.decline_code:
        store.hide(object_id)["decline_code"] = card.decline_code


def charge_fails(store: Store, object_id: str | None) -> bool:
    """Whether a payment with this payment method / card would be declined."""
    return object_id is not None and store.card_behaviour.get(object_id) in (
        DECLINE_ATTACH,
        DECLINE_CHARGE,
    )


def needs_authentication(store: Store, object_id: str | None) -> bool:
    """Whether payments and setups with this payment method stop for 3D Secure."""
    return object_id is not None and store.card_behaviour.get(object_id) == REQUIRES_ACTION


def decline_code(store: Store, object_id: str) -> str:
    """The ``decline_code`` a declined payment with this card reports."""
    return str(store.hidden.get(object_id, {}).get("decline_code") or "generic_decline")


def payer(ctx: Ctx, object_id: Any, param: str) -> JsonDict:
    """A payment method or card source to pay with (test ids such as ``pm_card_visa`` too)."""
    object_id = str(object_id)
    if object_id.startswith("card_"):
        return ctx.store.get("card", object_id, param=param)
    return payment_method(ctx, object_id, param=param)


def card_details(payer_obj: JsonDict) -> JsonDict:
    """``brand``/``last4``/... of a payment method or card source (charge details)."""
    card = payer_obj["card"] if payer_obj["object"] == "payment_method" else payer_obj
    return {
        "brand": str(card["brand"]).lower().replace("american express", "amex"),
        "country": card["country"],
        "exp_month": card["exp_month"],
        "exp_year": card["exp_year"],
        "fingerprint": card["fingerprint"],
        "funding": card["funding"],
        "last4": card["last4"],
    }


def check_can_attach(store: Store, pm: JsonDict, customer_id: str) -> None:
    """Refuse attaching ``pm`` when it belongs to another customer or its card declines."""
    if pm["customer"] not in (None, customer_id):
        raise FakeError(
            400,
            "The payment method you provided has already been attached to a customer.",
            code="payment_method_unexpected_state",
        )
    check_attachable(store, pm["id"])


def attach(ctx: Ctx, pm: JsonDict, customer: JsonDict, *, emit: bool = True) -> JsonDict:
    """Attach ``pm`` to ``customer`` (``payment_method.attached``)."""
    if pm["customer"] == customer["id"]:
        return pm
    check_can_attach(ctx.store, pm, customer["id"])
    pm["customer"] = customer["id"]
    if emit:
        ctx.emit("payment_method.attached", pm)
    return pm


def new_card_source(ctx: Ctx, customer_id: str, token: str, params: JsonDict) -> JsonDict:
    """A stored card source for a customer from a test token (no event: callers emit)."""
    card = token_card(token, "source")
    check_token_attachable(card)
    details = _card_details(ctx.store, card, None, None)
    source = {
        "id": ctx.store.new_id("card"),
        "object": "card",
        "address_city": None,
        "address_country": None,
        "address_line1": None,
        "address_line1_check": None,
        "address_line2": None,
        "address_state": None,
        "address_zip": None,
        "address_zip_check": None,
        "allow_redisplay": "unspecified",
        "brand": _SOURCE_BRANDS.get(card.brand, "Unknown"),
        "country": details["country"],
        "customer": customer_id,
        "cvc_check": "pass",
        "dynamic_last4": None,
        "exp_month": details["exp_month"],
        "exp_year": details["exp_year"],
        "fingerprint": details["fingerprint"],
        "funding": card.funding,
        "last4": details["last4"],
        "metadata": merged_metadata({}, params.get("metadata")),
        "name": None,
        "regulated_status": "unregulated",
        "tokenization_method": None,
        "wallet": None,
    }
    _remember_behaviour(ctx.store, source["id"], card)
    return ctx.store.insert(source)


def retrieve_payment_method(ctx: Ctx, params: JsonDict, pm_id: str) -> JsonDict:
    """``GET /v1/payment_methods/{id}``."""
    return payment_method(ctx, pm_id)


def update_payment_method(ctx: Ctx, params: JsonDict, pm_id: str) -> JsonDict:
    """``POST /v1/payment_methods/{id}`` (metadata, billing details, allow_redisplay)."""
    check_known(params, ("billing_details", "metadata", "allow_redisplay", "card"))
    pm = ctx.store.get("payment_method", pm_id)
    before = copy.deepcopy(pm)
    updated = copy.deepcopy(pm)
    if "metadata" in params:
        updated["metadata"] = merged_metadata(pm["metadata"], params["metadata"])
    if "allow_redisplay" in params:
        updated["allow_redisplay"] = as_enum(
            params["allow_redisplay"], "allow_redisplay", ("always", "limited", "unspecified")
        )
    billing = as_dict(params.get("billing_details"), "billing_details") or {}
    check_known(billing, ("address", "email", "name", "phone", "tax_id"))
    for key, value in billing.items():
        param = f"billing_details[{key}]"
        updated["billing_details"][key] = (
            address(value, param) if key == "address" else as_str(value, param)
        )
    card_param = as_dict(params.get("card"), "card") or {}
    check_known(card_param, ("exp_month", "exp_year", "networks"))
    for key in ("exp_month", "exp_year"):
        if key in card_param:
            updated["card"][key] = as_int(card_param[key], f"card[{key}]")
    pm.update(updated)
    ctx.emit_update("payment_method.updated", pm, before)
    return pm


def attach_payment_method(ctx: Ctx, params: JsonDict, pm_id: str) -> JsonDict:
    """``POST /v1/payment_methods/{id}/attach``."""
    check_known(params, ("customer",))
    customer = ctx.store.get("customer", require(params, "customer"), param="customer")
    pm = payment_method(ctx, pm_id)
    return attach(ctx, pm, customer)


def detach_payment_method(ctx: Ctx, params: JsonDict, pm_id: str) -> JsonDict:
    """``POST /v1/payment_methods/{id}/detach`` (clears the customer's default if it was)."""
    check_known(params, ())
    pm = payment_method(ctx, pm_id)
    customer_id = pm["customer"]
    if customer_id is None:
        raise FakeError(
            400,
            "The payment method you provided is not attached to a customer so detachment "
            "is impossible.",
            code="payment_method_unexpected_state",
        )
    pm["customer"] = None
    ctx.emit("payment_method.detached", pm, {"customer": customer_id})
    customer = ctx.store.find("customer", customer_id)
    if customer and customer["invoice_settings"]["default_payment_method"] == pm["id"]:
        before = copy.deepcopy(customer)
        customer["invoice_settings"]["default_payment_method"] = None
        ctx.emit_update("customer.updated", customer, before)
    return pm


def list_payment_methods(ctx: Ctx, params: JsonDict, customer_id: str | None = None) -> JsonDict:
    """``GET /v1/payment_methods`` and ``GET /v1/customers/{id}/payment_methods``."""
    allowed = ["type", "limit", "starting_after", "ending_before", "allow_redisplay"]
    if customer_id is None:
        allowed.append("customer")
        customer_id = as_str(params.get("customer"), "customer")
        url = "/v1/payment_methods"
        if customer_id is not None:
            ctx.store.get("customer", customer_id, param="customer")
    else:
        ctx.store.get("customer", customer_id)
        url = f"/v1/customers/{customer_id}/payment_methods"
    check_known(params, allowed)
    wanted_type = params.get("type")
    redisplay = params.get("allow_redisplay")

    def keep(pm: JsonDict) -> bool:
        return (
            (customer_id is None or pm["customer"] == customer_id)
            and (wanted_type in (None, "", pm["type"]))
            and (redisplay in (None, "", pm["allow_redisplay"]))
        )

    items = ctx.store.newest_first("payment_method", keep)
    return paginate(ctx.store, items, params, url, "payment_method")


def retrieve_customer_payment_method(
    ctx: Ctx, params: JsonDict, customer_id: str, pm_id: str
) -> JsonDict:
    """``GET /v1/customers/{id}/payment_methods/{pm}``."""
    ctx.store.get("customer", customer_id)
    pm = ctx.store.get("payment_method", pm_id)
    if pm["customer"] != customer_id:
        raise missing("payment_method", pm_id)
    return pm
