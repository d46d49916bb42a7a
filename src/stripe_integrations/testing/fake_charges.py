"""Charge and refund endpoints of :class:`~.fake.FakeStripe`.

Charges are made by confirming a PaymentIntent (never by ``POST /v1/charges``). A refund
takes ``payment_intent`` or ``charge`` and an optional partial ``amount``; it succeeds at
once and raises the charge's ``amount_refunded`` (``refunded`` once all of it is).
"""

from __future__ import annotations

import copy

from stripe_integrations.testing import fake_cards
from stripe_integrations.testing.fake_errors import FakeError
from stripe_integrations.testing.fake_params import (
    as_enum,
    as_int,
    as_str,
    check_known,
    created_filter,
    matches_range,
    merged_metadata,
)
from stripe_integrations.testing.fake_store import Ctx, JsonDict, Store, list_object, paginate

_DECLINE_MESSAGES = {
    "insufficient_funds": "Your card has insufficient funds.",
    "authentication_required": "Your card was declined. This transaction requires authentication.",
}


def decline_message(decline_code: str) -> str:
    """The error message Stripe gives for a decline code."""
    return _DECLINE_MESSAGES.get(decline_code, "Your card was declined.")


def new_charge(
    ctx: Ctx, intent: JsonDict, payer: JsonDict, *, decline_code: str | None = None
) -> JsonDict:
    """Store the charge of a payment attempt: succeeded, or failed with ``decline_code``."""
    failed = decline_code is not None
    captured = not failed and intent["capture_method"] != "manual"
    details = fake_cards.card_details(payer)
    charge_id = ctx.store.new_id("charge")
    billing = payer.get("billing_details") or {
        "address": None,
        "email": None,
        "name": None,
        "phone": None,
        "tax_id": None,
    }
    charge: JsonDict = {
        "id": charge_id,
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"] if captured else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": copy.deepcopy(billing),
        "calculated_statement_descriptor": "FAKESTRIPE",
        "captured": captured,
        "created": ctx.store.now(),
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": "card_declined" if failed else None,
        "failure_message": decline_message(decline_code) if decline_code else None,
        "fraud_details": {},
        "livemode": False,
        "metadata": copy.deepcopy(intent["metadata"]),
        "on_behalf_of": None,
        "outcome": {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "declined_by_network" if failed else "approved_by_network",
            "reason": decline_code,
            "risk_level": "normal",
            "risk_score": 20,
            "seller_message": "The bank did not return any further details with this decline."
            if failed
            else "Payment complete.",
            "type": "issuer_declined" if failed else "authorized",
        },
        "paid": not failed,
        "payment_intent": intent["id"],
        "payment_method": payer["id"],
        "payment_method_details": {
            "card": {
                **details,
                "amount_authorized": None if failed else intent["amount"],
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": None,
                    "cvc_check": None,
                },
                "network": details["brand"],
                "three_d_secure": None,
                "wallet": None,
            },
            "type": "card",
        },
        "receipt_email": intent["receipt_email"],
        "receipt_number": None,
        "receipt_url": None
        if failed
        else f"https://pay.stripe.com/receipts/payment/fake_{charge_id.removeprefix('ch_')}",
        "refunded": False,
        "review": None,
        "shipping": copy.deepcopy(intent["shipping"]),
        "source": None,
        "source_transfer": None,
        "statement_descriptor": intent["statement_descriptor"],
        "statement_descriptor_suffix": intent["statement_descriptor_suffix"],
        "status": "failed" if failed else "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }
    ctx.store.insert(charge)
    ctx.emit("charge.failed" if failed else "charge.succeeded", charge)
    return charge


def retrieve_charge(ctx: Ctx, params: JsonDict, charge_id: str) -> JsonDict:
    """``GET /v1/charges/{id}``."""
    return ctx.store.get("charge", charge_id)


def update_charge(ctx: Ctx, params: JsonDict, charge_id: str) -> JsonDict:
    """``POST /v1/charges/{id}`` (``description``, ``metadata``, ``receipt_email``)."""
    charge = ctx.store.get("charge", charge_id)
    check_known(params, ("description", "metadata", "receipt_email", "fraud_details", "shipping"))
    before = copy.deepcopy(charge)
    for key in ("description", "receipt_email"):
        if key in params:
            charge[key] = as_str(params[key], key)
    if "metadata" in params:
        charge["metadata"] = merged_metadata(charge["metadata"], params["metadata"])
    ctx.emit_update("charge.updated", charge, before)
    return charge


def list_charges(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/charges`` (``customer``, ``payment_intent``, ``created``)."""
    check_known(
        params,
        (
            "created",
            "customer",
            "payment_intent",
            "transfer_group",
            "limit",
            "starting_after",
            "ending_before",
        ),
    )
    created = created_filter(params)

    def keep(charge: JsonDict) -> bool:
        return (
            params.get("customer") in (None, charge["customer"])
            and params.get("payment_intent") in (None, charge["payment_intent"])
            and matches_range(charge["created"], created)
        )

    items = ctx.store.newest_first("charge", keep)
    return paginate(ctx.store, items, params, "/v1/charges", "charge")


def _refunded_charge(ctx: Ctx, params: JsonDict) -> JsonDict:
    charge_id = as_str(params.get("charge"), "charge")
    intent_id = as_str(params.get("payment_intent"), "payment_intent")
    if (charge_id is None) == (intent_id is None):
        raise FakeError(
            400,
            "You must pass exactly one of charge or payment_intent.",
            code="parameter_missing" if charge_id is None else "parameters_exclusive",
        )
    if charge_id is not None:
        return ctx.store.get("charge", charge_id, param="charge")
    intent = ctx.store.get("payment_intent", str(intent_id), param="payment_intent")
    if intent["status"] != "succeeded" or intent["latest_charge"] is None:
        raise FakeError(
            400,
            f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
            code="charge_not_refundable",
            param="payment_intent",
        )
    return ctx.store.get("charge", intent["latest_charge"])


def create_refund(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``POST /v1/refunds``: the rest of the charge unless ``amount`` is given."""
    check_known(
        params,
        (
            "amount",
            "charge",
            "currency",
            "customer",
            "instructions_email",
            "metadata",
            "origin",
            "payment_intent",
            "reason",
            "refund_application_fee",
            "reverse_transfer",
        ),
    )
    charge = _refunded_charge(ctx, params)
    if charge["status"] != "succeeded" or not charge["captured"]:
        raise FakeError(400, "This charge cannot be refunded.", code="charge_not_refundable")
    left = charge["amount_captured"] - charge["amount_refunded"]
    if left <= 0:
        raise FakeError(
            400,
            f"Charge {charge['id']} has already been refunded.",
            code="charge_already_refunded",
        )
    amount = as_int(params.get("amount", left), "amount", minimum=1)
    if amount > left:
        raise FakeError(
            400,
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left}).",
            code="amount_too_large",
            param="amount",
        )
    reason = params.get("reason")
    refund: JsonDict = {
        "id": ctx.store.new_id("refund"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": charge["id"],
        "created": ctx.store.now(),
        "currency": charge["currency"],
        "description": None,
        "destination_details": {
            "card": {
                "reference": None,
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "instructions_email": as_str(params.get("instructions_email"), "instructions_email"),
        "metadata": merged_metadata({}, params.get("metadata")),
        "payment_intent": charge["payment_intent"],
        "reason": None
        if reason in (None, "")
        else as_enum(reason, "reason", ("duplicate", "fraudulent", "requested_by_customer")),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    ctx.store.insert(refund)
    before = copy.deepcopy(charge)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
    ctx.emit("refund.created", refund)
    ctx.emit("charge.refunded", charge, {"amount_refunded": before["amount_refunded"]})
    return refund


def retrieve_refund(ctx: Ctx, params: JsonDict, refund_id: str) -> JsonDict:
    """``GET /v1/refunds/{id}``."""
    return ctx.store.get("refund", refund_id)


def update_refund(ctx: Ctx, params: JsonDict, refund_id: str) -> JsonDict:
    """``POST /v1/refunds/{id}`` (``metadata``)."""
    refund = ctx.store.get("refund", refund_id)
    check_known(params, ("metadata",))
    before = copy.deepcopy(refund)
    refund["metadata"] = merged_metadata(refund["metadata"], params.get("metadata"))
    ctx.emit_update("refund.updated", refund, before)
    return refund


def list_refunds(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/refunds`` (``charge``, ``payment_intent``, ``created``)."""
    check_known(
        params, ("charge", "created", "payment_intent", "limit", "starting_after", "ending_before")
    )
    created = created_filter(params)

    def keep(refund: JsonDict) -> bool:
        return (
            params.get("charge") in (None, refund["charge"])
            and params.get("payment_intent") in (None, refund["payment_intent"])
            and matches_range(refund["created"], created)
        )

    items = ctx.store.newest_first("refund", keep)
    return paginate(ctx.store, items, params, "/v1/refunds", "refund")


def _include_refunds(store: Store, charge: JsonDict) -> JsonDict:
    refunds = store.newest_first("refund", lambda refund: refund["charge"] == charge["id"])
    return list_object(copy.deepcopy(refunds), f"/v1/charges/{charge['id']}/refunds")


def register_includers(store: Store) -> None:
    """``expand=["refunds"]`` on a charge."""
    store.includers[("charge", "refunds")] = _include_refunds
