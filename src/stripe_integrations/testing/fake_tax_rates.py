"""Tax rate endpoints of :class:`~.fake.FakeStripe` (percentage rates, inclusive or not).

Subscription items and invoice items hold the full tax rate objects given by id in their
``tax_rates`` parameter; invoices turn them into ``taxes`` on each line.
"""

from __future__ import annotations

import copy
from typing import Any

from stripe_integrations.testing.fake_errors import FakeError
from stripe_integrations.testing.fake_params import (
    as_bool,
    as_list,
    as_str,
    check_known,
    created_filter,
    matches_range,
    merged_metadata,
    require,
)
from stripe_integrations.testing.fake_store import Ctx, JsonDict, paginate

_TEXT_FIELDS = ("country", "description", "jurisdiction", "state", "tax_type")
TAX_RATE_CREATE_PARAMS = frozenset(
    {"active", "display_name", "inclusive", "metadata", "percentage", *_TEXT_FIELDS}
)


def create_tax_rate(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``POST /v1/tax_rates`` (``display_name``, ``percentage``, ``inclusive``)."""
    check_known(params, TAX_RATE_CREATE_PARAMS)
    try:
        percentage = float(require(params, "percentage"))
    except ValueError:
        raise FakeError(400, "Invalid decimal.", param="percentage") from None
    if not 0 <= percentage <= 100:
        raise FakeError(400, "percentage must be between 0 and 100.", param="percentage")
    rate: JsonDict = {
        "id": ctx.store.new_id("tax_rate"),
        "object": "tax_rate",
        "active": as_bool(params.get("active", True), "active"),
        "created": ctx.store.now(),
        "display_name": str(require(params, "display_name")),
        "effective_percentage": percentage,
        "flat_amount": None,
        "inclusive": as_bool(require(params, "inclusive"), "inclusive"),
        "jurisdiction_level": None,
        "livemode": False,
        "metadata": merged_metadata({}, params.get("metadata")),
        "percentage": percentage,
        "rate_type": "percentage",
    }
    for key in _TEXT_FIELDS:
        rate[key] = as_str(params.get(key), key)
    ctx.store.insert(rate)
    ctx.emit("tax_rate.created", rate)
    return rate


def retrieve_tax_rate(ctx: Ctx, params: JsonDict, rate_id: str) -> JsonDict:
    """``GET /v1/tax_rates/{id}``."""
    return ctx.store.get("tax_rate", rate_id)


def update_tax_rate(ctx: Ctx, params: JsonDict, rate_id: str) -> JsonDict:
    """``POST /v1/tax_rates/{id}`` (the percentage and inclusiveness cannot change)."""
    rate = ctx.store.get("tax_rate", rate_id)
    check_known(params, ("active", "display_name", "metadata", *_TEXT_FIELDS))
    before = copy.deepcopy(rate)
    if "active" in params:
        rate["active"] = as_bool(params["active"], "active")
    if "display_name" in params:
        rate["display_name"] = str(require(params, "display_name"))
    if "metadata" in params:
        rate["metadata"] = merged_metadata(rate["metadata"], params["metadata"])
    for key in _TEXT_FIELDS:
        if key in params:
            rate[key] = as_str(params[key], key)
    ctx.emit_update("tax_rate.updated", rate, before)
    return rate


def list_tax_rates(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/tax_rates`` (``active``, ``inclusive``, ``created``)."""
    check_known(
        params, ("active", "inclusive", "created", "limit", "starting_after", "ending_before")
    )
    active = as_bool(params["active"], "active") if "active" in params else None
    inclusive = as_bool(params["inclusive"], "inclusive") if "inclusive" in params else None
    created = created_filter(params)

    def keep(rate: JsonDict) -> bool:
        return (
            (active is None or rate["active"] == active)
            and (inclusive is None or rate["inclusive"] == inclusive)
            and matches_range(rate["created"], created)
        )

    items = ctx.store.newest_first("tax_rate", keep)
    return paginate(ctx.store, items, params, "/v1/tax_rates", "tax_rate")


def tax_rates(ctx: Ctx, value: Any, param: str) -> list[JsonDict]:
    """Copies of the active tax rates named by a ``tax_rates`` parameter."""
    rates = []
    for index, rate_id in enumerate(as_list(value, param)):
        rate = ctx.store.get("tax_rate", str(rate_id), param=f"{param}[{index}]")
        if not rate["active"]:
            raise FakeError(400, f"Tax rate {rate_id} is not active.", param=f"{param}[{index}]")
        rates.append(copy.deepcopy(rate))
    return rates
