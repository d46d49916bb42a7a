"""Stripe object -> model fields. The only place that reads Stripe's shapes.

Each ``*_fields`` function takes a plain dict (see :func:`as_dict`) of any accepted API version
and returns model attribute values. Missing or null attributes become ``None``; nothing here
raises on an unexpected shape. Links to other Stripe objects are returned as Stripe ids (the
``*_id`` attribute of a :func:`~stripe_integrations.models.base.stripe_fk`), so rows are linked
without queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from stripe_integrations.sync.columns import Unrepresentable, fits
from stripe_integrations.sync.storable import is_storable_text, may_need_escape, storable

Fields = dict[str, Any]


def as_dict(obj: Any) -> dict[str, Any]:
    """A plain, recursive dict from a ``StripeObject``, a mapping, or JSON-like data."""
    if obj is None:
        return {}
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        # for_json: Decimal amounts (``unit_amount_decimal``) become strings, as in the API.
        result = to_dict(for_json=True)
        return dict(result) if isinstance(result, Mapping) else {}
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"expected a Stripe object or a dict, got {type(obj).__name__}")


def ts(value: Any) -> datetime | Unrepresentable | None:
    """An aware UTC datetime from a Unix timestamp (None when absent; an
    :class:`~stripe_integrations.sync.columns.Unrepresentable` for anything else, a
    fraction of a second included)."""
    if value is None:
        return None
    seconds = as_int(value)
    if not isinstance(seconds, int):
        return Unrepresentable(value, "not a timestamp (whole seconds)")
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return Unrepresentable(value, "not a timestamp Python can hold")


def ref_id(value: Any) -> str | None:
    """The id of a reference that may be a string id or an expanded object."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        ident = value.get("id")
        return ident if isinstance(ident, str) else None
    return None


_EXACT = float(2**53)


def as_int(value: Any) -> int | Unrepresentable | None:
    """An integer (a float only when it is a whole finite number), None when absent; an
    :class:`~stripe_integrations.sync.columns.Unrepresentable` otherwise (``12.7``,
    ``inf``, ``"abc"``, ``true``). Never raises."""
    if value is None:
        return None
    kind = type(value)
    if kind is int:
        return value
    if kind is float:
        # Past 2**53 a float no longer tells one integer from its neighbours.
        if value.is_integer() and -_EXACT <= value <= _EXACT:  # False for inf and nan
            return int(value)
        return Unrepresentable(value, "not an exact integer")
    if kind is str:
        try:
            return int(value)
        except ValueError:
            return Unrepresentable(value, "not an integer")
    return Unrepresentable(value, "not an integer")


def as_str(value: Any) -> str | Unrepresentable | None:
    """A string, never cut (the columns check the length), None when absent; an
    :class:`~stripe_integrations.sync.columns.Unrepresentable` for anything but text."""
    if value is None or type(value) is str:
        return value
    return Unrepresentable(value, "not text")


def as_json(value: Any, kind: type = object) -> Any:
    """A JSON value if it is of ``kind`` (dict, list...), None when absent; an
    :class:`~stripe_integrations.sync.columns.Unrepresentable` (false) for another kind."""
    if value is None or isinstance(value, kind):
        return value
    return Unrepresentable(value, f"not a JSON {kind.__name__}")


def list_data(value: Any) -> list[Any] | None:
    """The ``data`` of an expanded list object, or a plain list, else None."""
    if isinstance(value, Mapping):
        data = value.get("data")
        return list(data) if isinstance(data, list) else None
    if isinstance(value, list):
        return value
    return None


#: Attributes never stored: secrets meant for the customer's browser only.
UNSTORED_KEYS = frozenset({"client_secret", "confirmation_secret"})


_SCALARS = frozenset({str, int, float, bool, type(None)})


def scrubbed(value: Any) -> Any:
    """``value`` without client secrets, at any depth (expanded objects carry them too), and
    with every string no database can hold in escaped form (see :mod:`.storable`).

    Parts that need nothing are returned as they are, not copied. A dict is encoded once with
    orjson (a few microseconds) to decide: most objects carry no key ending in ``_secret``
    and no such string, and walking them costs more.
    """
    if type(value) is dict:
        try:
            encoded = orjson.dumps(value)
        except TypeError:  # not plain JSON data (a lone surrogate, a huge int...): walk it
            return storable(_scrub(value))
        if b'_secret"' in encoded:
            value = _scrub(value)
        return storable(value) if may_need_escape(encoded) else value
    return storable(_scrub(value))


def _scrub(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        copy: dict[str, Any] | None = None
        for key, item in value.items():
            if key in UNSTORED_KEYS:
                if copy is None:
                    copy = dict(value)
                del copy[key]
                continue
            if type(item) not in _SCALARS:
                clean = _scrub(item)
                if clean is not item:
                    if copy is None:
                        copy = dict(value)
                    copy[key] = clean
        return value if copy is None else copy
    if kind is list:
        items: list[Any] | None = None
        for index, item in enumerate(value):
            if type(item) not in _SCALARS:
                clean = _scrub(item)
                if clean is not item:
                    if items is None:
                        items = list(value)
                    items[index] = clean
        return value if items is None else items
    if isinstance(value, Mapping):
        return _scrub(dict(value))
    if isinstance(value, list):
        return _scrub(list(value))
    return value


def common_fields(obj: Mapping[str, Any]) -> Fields:
    """The columns every mirrored object has (``raw`` without client secrets), but
    ``synced_at``: when the object was fetched is not in the object, the plan stamps it
    (see :class:`~stripe_integrations.sync.upsert.Plan`)."""
    raw = scrubbed(obj)
    return {
        "stripe_id": obj["id"],
        "livemode": bool(obj.get("livemode") or False),
        "created": ts(obj.get("created")),
        "metadata": as_json(raw.get("metadata"), dict) or {},
        "raw": raw,
    }


def is_deleted(obj: Mapping[str, Any]) -> bool:
    """True for Stripe's deleted stub (``{"id", "object", "deleted": true}``)."""
    return obj.get("deleted") is True


@fits("Customer")
def customer_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of a customer. Accepts the pinned shape and older ones (``account_balance``)."""
    invoice_settings = as_json(obj.get("invoice_settings"), dict)
    if isinstance(invoice_settings, dict):
        invoice_settings = dict(invoice_settings)
        default_pm = ref_id(invoice_settings.get("default_payment_method"))
        invoice_settings["default_payment_method"] = default_pm
    else:
        default_pm = None
    balance = obj.get("balance")
    if balance is None:
        balance = obj.get("account_balance")
    return {
        **common_fields(obj),
        "address": as_json(obj.get("address"), dict),
        "balance": as_int(balance),
        "cash_balance": as_json(obj.get("cash_balance"), dict),
        "currency": as_str(obj.get("currency")),
        "default_payment_method_id": default_pm,
        # default_card: API versions before 2015-02-18.
        "default_source_id": ref_id(obj.get("default_source")) or ref_id(obj.get("default_card")),
        "delinquent": as_json(obj.get("delinquent"), bool),
        "description": as_str(obj.get("description")),
        "discount": as_json(obj.get("discount"), dict),
        "email": as_str(obj.get("email")),
        "invoice_credit_balance": as_json(obj.get("invoice_credit_balance"), dict),
        "invoice_prefix": as_str(obj.get("invoice_prefix")),
        "invoice_settings": invoice_settings,
        "name": as_str(obj.get("name")),
        "next_invoice_sequence": as_int(obj.get("next_invoice_sequence")),
        "phone": as_str(obj.get("phone")),
        "preferred_locales": as_json(obj.get("preferred_locales"), list),
        "shipping": as_json(obj.get("shipping"), dict),
        "tax": as_json(obj.get("tax"), dict),
        "tax_exempt": as_str(obj.get("tax_exempt")),
        "tax_ids": list_data(obj.get("tax_ids")),
        "test_clock": ref_id(obj.get("test_clock")),
    }


@fits("PaymentMethod")
def payment_method_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of a PaymentMethod, a legacy ``card`` source, or a ``source`` of type card."""
    kind = obj.get("object") or "payment_method"
    if kind == "card":
        card: Mapping[str, Any] = obj
        billing = {
            "name": obj.get("name"),
            "address": {
                "line1": obj.get("address_line1"),
                "line2": obj.get("address_line2"),
                "city": obj.get("address_city"),
                "state": obj.get("address_state"),
                "postal_code": obj.get("address_zip"),
                "country": obj.get("address_country"),
            },
        }
        method_type: str | Unrepresentable | None = "card"
    else:
        card = as_json(obj.get("card"), dict) or {}
        billing = as_json(obj.get("billing_details"), dict) or as_json(obj.get("owner"), dict)
        method_type = as_str(obj.get("type"))
    return {
        **common_fields(obj),
        "customer_id": ref_id(obj.get("customer")),
        "object_type": as_str(kind),
        "type": method_type,
        "billing_details": billing,
        # A card's ``type`` was its brand before 2015-02-18 (a payment method's is "card").
        "card_brand": as_str(card.get("brand") or (card.get("type") if kind == "card" else None)),
        "card_last4": as_str(card.get("last4")),
        "card_exp_month": as_int(card.get("exp_month")),
        "card_exp_year": as_int(card.get("exp_year")),
        "card_fingerprint": as_str(card.get("fingerprint")),
        "card_funding": as_str(card.get("funding")),
        "card_country": as_str(card.get("country")),
    }


def subscription_items(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The items embedded in a subscription object."""
    return [
        dict(i) for i in list_data(obj.get("items")) or [] if isinstance(i, Mapping) and i.get("id")
    ]


@fits("Subscription")
def subscription_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of a subscription. Periods come from the subscription when present (API
    versions before basil), else from its items (earliest start, latest end)."""
    items = subscription_items(obj)
    starts = [s for s in (ts(i.get("current_period_start")) for i in items) if type(s) is datetime]
    ends = [e for e in (ts(i.get("current_period_end")) for i in items) if type(e) is datetime]
    period_start = ts(obj.get("current_period_start")) or (min(starts) if starts else None)
    period_end = ts(obj.get("current_period_end")) or (max(ends) if ends else None)
    return {
        **common_fields(obj),
        "customer_id": ref_id(obj.get("customer")),
        "status": as_str(obj.get("status")),
        "collection_method": as_str(obj.get("collection_method")),
        "currency": as_str(obj.get("currency")),
        "description": as_str(obj.get("description")),
        "billing_cycle_anchor": ts(obj.get("billing_cycle_anchor")),
        "start_date": ts(obj.get("start_date")) or ts(obj.get("start")),  # start: before 2019
        "current_period_start": period_start,
        "current_period_end": period_end,
        "trial_start": ts(obj.get("trial_start")),
        "trial_end": ts(obj.get("trial_end")),
        "cancel_at": ts(obj.get("cancel_at")),
        "cancel_at_period_end": as_json(obj.get("cancel_at_period_end"), bool),
        "canceled_at": ts(obj.get("canceled_at")),
        "ended_at": ts(obj.get("ended_at")),
        "default_payment_method": ref_id(obj.get("default_payment_method")),
        "latest_invoice": ref_id(obj.get("latest_invoice")),
        "quantity": as_int(obj.get("quantity")),
        "discounts": as_json(obj.get("discounts"), list),
    }


@fits("SubscriptionItem")
def subscription_item_fields(obj: Mapping[str, Any], subscription_id: str | None) -> Fields:
    """Columns of a subscription item (``price`` in current versions, ``plan`` in old ones)."""
    price = obj.get("price") or obj.get("plan")
    product = price.get("product") if isinstance(price, Mapping) else None
    return {
        **common_fields(obj),
        "subscription_id": ref_id(obj.get("subscription")) or subscription_id,
        "price_stripe_id": ref_id(price),
        "product_stripe_id": ref_id(product),
        "quantity": as_int(obj.get("quantity")),
        "current_period_start": ts(obj.get("current_period_start")),
        "current_period_end": ts(obj.get("current_period_end")),
    }


@fits("Event")
def event_fields(obj: Mapping[str, Any]) -> Fields:
    """Columns of an event."""
    data = obj.get("data")
    data_object = data.get("object") if isinstance(data, Mapping) else None
    request = obj.get("request")
    return {
        **common_fields(obj),
        "type": as_str(obj.get("type")) or "",
        "api_version": _event_text(obj.get("api_version"), 64),
        "object_id": _event_text(ref_id(data_object), 255),
        "request_id": _event_text(ref_id(request) if isinstance(request, Mapping) else request),
        "account": _event_text(obj.get("account")),
    }


def _event_text(value: Any, max_length: int = 255) -> str | None:
    """An event's searchable column: the value when it fits, else None (``raw`` keeps it)."""
    if not isinstance(value, str) or not value or len(value) > max_length:
        return None
    return value if is_storable_text(value) else None


def customer_id_of(obj: Mapping[str, Any]) -> str | None:
    """The customer a Stripe object belongs to (the object itself if it is a customer)."""
    if obj.get("object") == "customer":
        return ref_id(obj.get("id"))
    return ref_id(obj.get("customer"))
