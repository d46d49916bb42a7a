"""Customer and card source endpoints of :class:`~.fake.FakeStripe`."""

from __future__ import annotations

import copy
import re
from typing import Any

from stripe_integrations.testing import fake_cards
from stripe_integrations.testing.fake_errors import FakeError, missing
from stripe_integrations.testing.fake_params import (
    as_dict,
    as_enum,
    as_int,
    as_list,
    as_str,
    check_known,
    created_filter,
    matches_range,
    merged_metadata,
)
from stripe_integrations.testing.fake_store import Ctx, JsonDict, Store, list_object, paginate

_COMMON_PARAMS = frozenset(
    {
        "address",
        "balance",
        "business_name",
        "cash_balance",
        "description",
        "email",
        "individual_name",
        "invoice_prefix",
        "invoice_settings",
        "metadata",
        "name",
        "next_invoice_sequence",
        "phone",
        "preferred_locales",
        "shipping",
        "source",
        "tax",
        "tax_exempt",
        "validate",
    }
)
CUSTOMER_CREATE_PARAMS = _COMMON_PARAMS | {"payment_method", "tax_id_data", "test_clock"}
CUSTOMER_UPDATE_PARAMS = _COMMON_PARAMS | {"default_source"}

_INVOICE_PREFIX = re.compile(r"^[A-Z0-9]{3,12}$")


def _shipping(value: Any) -> JsonDict | None:
    given = as_dict(value, "shipping")
    if given is None:
        return None
    check_known(given, ("address", "name", "phone"))
    for required in ("address", "name"):
        if not given.get(required):
            raise FakeError(
                400,
                f"Missing required param: shipping[{required}].",
                code="parameter_missing",
                param=f"shipping[{required}]",
            )
    return {
        "address": fake_cards.address(given["address"], "shipping[address]"),
        "name": as_str(given["name"], "shipping[name]"),
        "phone": as_str(given.get("phone"), "shipping[phone]"),
    }


def _invoice_settings(current: JsonDict, value: Any) -> JsonDict:
    given = as_dict(value, "invoice_settings") or {}
    check_known(given, ("custom_fields", "default_payment_method", "footer", "rendering_options"))
    result = copy.deepcopy(current)
    if "custom_fields" in given:
        fields = as_list(given["custom_fields"], "invoice_settings[custom_fields]")
        result["custom_fields"] = [
            {"name": str(field["name"]), "value": str(field["value"])} for field in fields
        ] or None
    if "footer" in given:
        result["footer"] = as_str(given["footer"], "invoice_settings[footer]")
    if "rendering_options" in given:
        options = as_dict(given["rendering_options"], "invoice_settings[rendering_options]")
        result["rendering_options"] = (
            None
            if options is None
            else {
                "amount_tax_display": options.get("amount_tax_display") or None,
                "template": options.get("template") or None,
            }
        )
    return result


def _apply_fields(customer: JsonDict, params: JsonDict) -> None:
    """Copy the plain (non-referencing) parameters onto ``customer``, validating them."""
    for key in ("description", "email", "name", "phone"):
        if key in params:
            customer[key] = as_str(params[key], key)
    for key in ("business_name", "individual_name"):  # only shown once set
        value = as_str(params.get(key), key)
        if value is not None or key in customer:
            customer[key] = value
    if "address" in params:
        customer["address"] = fake_cards.address(params["address"], "address")
    if "shipping" in params:
        customer["shipping"] = _shipping(params["shipping"])
    if "balance" in params:
        customer["balance"] = as_int(params["balance"], "balance")
    if "next_invoice_sequence" in params:
        customer["next_invoice_sequence"] = as_int(
            params["next_invoice_sequence"], "next_invoice_sequence", minimum=1
        )
    if "invoice_prefix" in params:
        prefix = str(params["invoice_prefix"])
        if not _INVOICE_PREFIX.match(prefix):
            raise FakeError(
                400,
                "Invoice prefix must be 3 to 12 uppercase letters or numbers.",
                param="invoice_prefix",
            )
        customer["invoice_prefix"] = prefix
    if "preferred_locales" in params:
        locales = as_list(params["preferred_locales"], "preferred_locales")
        customer["preferred_locales"] = [str(locale) for locale in locales]
    if "tax_exempt" in params:
        customer["tax_exempt"] = as_enum(
            params["tax_exempt"] or "none", "tax_exempt", ("none", "exempt", "reverse")
        )
    if "metadata" in params:
        customer["metadata"] = merged_metadata(customer["metadata"], params["metadata"])
    if "invoice_settings" in params:
        customer["invoice_settings"] = _invoice_settings(
            customer["invoice_settings"], params["invoice_settings"]
        )


def _requested_default_pm(params: JsonDict) -> str | None:
    settings = params.get("invoice_settings")
    if isinstance(settings, dict) and "default_payment_method" in settings:
        return as_str(
            settings["default_payment_method"], "invoice_settings[default_payment_method]"
        )
    return None


def _not_attached(pm_id: str) -> FakeError:
    return FakeError(
        400,
        f"The customer does not have a payment method with the ID {pm_id}. "
        "The payment method must be attached to the customer.",
        code="resource_missing",
        param="invoice_settings[default_payment_method]",
    )


def new_customer(store: Store) -> JsonDict:
    """A customer with Stripe's defaults, not yet stored."""
    return {
        "id": store.new_id("customer"),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": store.now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": None,
        "invoice_prefix": store.random_hex(8),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def create_customer(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``POST /v1/customers``: ``payment_method`` is attached, ``source`` becomes the default."""
    check_known(params, CUSTOMER_CREATE_PARAMS)
    customer = new_customer(ctx.store)
    _apply_fields(customer, params)
    customer["test_clock"] = as_str(params.get("test_clock"), "test_clock")
    pm_id = as_str(params.get("payment_method"), "payment_method")
    default_pm = _requested_default_pm(params)
    if default_pm is not None and default_pm != pm_id:
        raise _not_attached(default_pm)
    token = as_str(params.get("source"), "source")
    # Validate everything that can fail before storing anything.
    if pm_id is not None and pm_id not in ctx.materialized:
        spec = fake_cards.TEST_CARDS.get(pm_id.removeprefix("pm_card_"))
        if spec is not None and pm_id.startswith("pm_card_"):
            fake_cards.check_token_attachable(spec)
        else:
            existing = ctx.store.get("payment_method", pm_id, param="payment_method")
            fake_cards.check_can_attach(ctx.store, existing, customer["id"])
    if token is not None:
        fake_cards.check_token_attachable(fake_cards.token_card(token, "source"))

    pm = fake_cards.payment_method(ctx, pm_id) if pm_id is not None else None
    if pm is not None:
        pm["customer"] = customer["id"]
        if default_pm is not None:
            customer["invoice_settings"]["default_payment_method"] = pm["id"]
    source = fake_cards.new_card_source(ctx, customer["id"], token, {}) if token else None
    if source is not None:
        customer["default_source"] = source["id"]
    ctx.store.insert(customer)
    ctx.emit("customer.created", customer)
    if pm is not None:
        ctx.emit("payment_method.attached", pm)
    if source is not None:
        ctx.emit("customer.source.created", source)
    return customer


def retrieve_customer(ctx: Ctx, params: JsonDict, customer_id: str) -> JsonDict:
    """``GET /v1/customers/{id}``: a deleted customer answers with its deleted stub."""
    if customer_id in ctx.store.deleted:
        return ctx.store.deleted[customer_id]
    return ctx.store.get("customer", customer_id)


def update_customer(ctx: Ctx, params: JsonDict, customer_id: str) -> JsonDict:
    """``POST /v1/customers/{id}`` (metadata merges; ``""`` unsets)."""
    customer = ctx.store.get("customer", customer_id)
    check_known(params, CUSTOMER_UPDATE_PARAMS)
    before = copy.deepcopy(customer)
    updated = copy.deepcopy(customer)
    _apply_fields(updated, params)
    default_pm = _requested_default_pm(params)
    if default_pm is not None:
        pm = ctx.store.find("payment_method", default_pm)
        if pm is None or pm["customer"] != customer_id:
            raise _not_attached(default_pm)
    settings = params.get("invoice_settings")
    if isinstance(settings, dict) and "default_payment_method" in settings:
        # An empty string clears the default, as in Stripe.
        updated["invoice_settings"]["default_payment_method"] = default_pm or None
    if "default_source" in params:
        source_id = as_str(params["default_source"], "default_source")
        if source_id is not None:
            card = ctx.store.find("card", source_id)
            if card is None or card["customer"] != customer_id:
                raise missing("card", source_id, param="default_source")
        updated["default_source"] = source_id
    token = as_str(params.get("source"), "source")
    if token is not None:
        fake_cards.check_token_attachable(fake_cards.token_card(token, "source"))
        old_default = updated["default_source"]
        source = fake_cards.new_card_source(ctx, customer_id, token, {})
        ctx.emit("customer.source.created", source)
        updated["default_source"] = source["id"]
        if old_default is not None and old_default in ctx.store.objects["card"]:
            removed = ctx.store.objects["card"].pop(old_default)
            ctx.emit("customer.source.deleted", removed)
    customer.clear()
    customer.update(updated)
    ctx.emit_update("customer.updated", customer, before)
    return customer


def delete_customer(ctx: Ctx, params: JsonDict, customer_id: str) -> JsonDict:
    """``DELETE /v1/customers/{id}``: cancels its subscriptions and removes its sources."""
    from stripe_integrations.testing.fake_billing import cancel

    check_known(params, ())
    customer = ctx.store.get("customer", customer_id)
    for subscription in ctx.store.newest_first("subscription"):
        if subscription["customer"] == customer_id and subscription["status"] != "canceled":
            cancel(ctx, subscription, reason="cancellation_requested")
    for card in ctx.store.newest_first("card", lambda card: card["customer"] == customer_id):
        del ctx.store.objects["card"][card["id"]]
    for pm in ctx.store.objects["payment_method"].values():
        if pm["customer"] == customer_id:
            pm["customer"] = None
    del ctx.store.objects["customer"][customer_id]
    stub = {"id": customer_id, "object": "customer", "deleted": True}
    ctx.store.deleted[customer_id] = stub
    ctx.emit("customer.deleted", customer)
    return stub


def list_customers(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/customers`` (``email``, ``created``, ``test_clock`` filters), newest first."""
    check_known(
        params, ("email", "created", "limit", "starting_after", "ending_before", "test_clock")
    )
    email = params.get("email")
    clock = params.get("test_clock")
    created = created_filter(params)

    def keep(customer: JsonDict) -> bool:
        return (
            (email is None or customer["email"] == email)
            and (clock is None or customer["test_clock"] == clock)
            and matches_range(customer["created"], created)
        )

    items = ctx.store.newest_first("customer", keep)
    return paginate(ctx.store, items, params, "/v1/customers", "customer")


def _customer_card(store: Store, customer_id: str, source_id: str) -> JsonDict:
    store.get("customer", customer_id)
    card = store.find("card", source_id)
    if card is None or card["customer"] != customer_id:
        raise missing("card", source_id)
    return card


def create_source(ctx: Ctx, params: JsonDict, customer_id: str) -> JsonDict:
    """``POST /v1/customers/{id}/sources``: the first card becomes the default source."""
    customer = ctx.store.get("customer", customer_id)
    check_known(params, ("source", "metadata", "validate"))
    token = as_str(params.get("source"), "source")
    if token is None:
        raise FakeError(
            400, "Missing required param: source.", code="parameter_missing", param="source"
        )
    fake_cards.check_token_attachable(fake_cards.token_card(token, "source"))
    source = fake_cards.new_card_source(ctx, customer_id, token, params)
    ctx.emit("customer.source.created", source)
    if customer["default_source"] is None:
        before = copy.deepcopy(customer)
        customer["default_source"] = source["id"]
        ctx.emit_update("customer.updated", customer, before)
    return source


def retrieve_source(ctx: Ctx, params: JsonDict, customer_id: str, source_id: str) -> JsonDict:
    """``GET /v1/customers/{id}/sources/{source}``."""
    return _customer_card(ctx.store, customer_id, source_id)


def delete_source(ctx: Ctx, params: JsonDict, customer_id: str, source_id: str) -> JsonDict:
    """``DELETE /v1/customers/{id}/sources/{source}``: the next card becomes the default."""
    card = _customer_card(ctx.store, customer_id, source_id)
    customer = ctx.store.get("customer", customer_id)
    del ctx.store.objects["card"][source_id]
    ctx.emit("customer.source.deleted", card)
    if customer["default_source"] == source_id:
        before = copy.deepcopy(customer)
        remaining = ctx.store.newest_first("card", lambda other: other["customer"] == customer_id)
        customer["default_source"] = remaining[0]["id"] if remaining else None
        ctx.emit_update("customer.updated", customer, before)
    return {"id": source_id, "object": "card", "deleted": True}


def list_sources(ctx: Ctx, params: JsonDict, customer_id: str) -> JsonDict:
    """``GET /v1/customers/{id}/sources`` (cards only)."""
    ctx.store.get("customer", customer_id)
    check_known(params, ("object", "limit", "starting_after", "ending_before"))
    if params.get("object") not in (None, "", "card"):
        return list_object([], f"/v1/customers/{customer_id}/sources")
    items = ctx.store.newest_first("card", lambda card: card["customer"] == customer_id)
    return paginate(ctx.store, items, params, f"/v1/customers/{customer_id}/sources", "card")


def _include_sources(store: Store, customer: JsonDict) -> JsonDict:
    cards = store.newest_first("card", lambda card: card["customer"] == customer["id"])
    return list_object(copy.deepcopy(cards), f"/v1/customers/{customer['id']}/sources")


def _include_subscriptions(store: Store, customer: JsonDict) -> JsonDict:
    subscriptions = store.newest_first(
        "subscription",
        lambda sub: sub["customer"] == customer["id"] and sub["status"] != "canceled",
    )
    url = f"/v1/customers/{customer['id']}/subscriptions"
    return list_object(copy.deepcopy(subscriptions), url)


def _include_cash_balance(store: Store, customer: JsonDict) -> JsonDict:
    return {
        "object": "cash_balance",
        "available": None,
        "customer": customer["id"],
        "livemode": False,
        "settings": {"reconciliation_mode": "automatic", "using_merchant_default": True},
    }


def _include_tax(store: Store, customer: JsonDict) -> JsonDict:
    return {
        "automatic_tax": "unrecognized_location",
        "ip_address": None,
        "location": None,
        "provider": "stripe",
    }


def register_includers(store: Store) -> None:
    """Let ``expand`` add the customer fields Stripe leaves out by default."""
    store.includers[("customer", "sources")] = _include_sources
    store.includers[("customer", "subscriptions")] = _include_subscriptions
    store.includers[("customer", "cash_balance")] = _include_cash_balance
    store.includers[("customer", "tax")] = _include_tax
