"""The URL table of :class:`~.fake.FakeStripe`, and the event endpoints."""

from __future__ import annotations

import re
from collections.abc import Callable

from stripe_integrations.testing import (
    fake_billing,
    fake_cards,
    fake_catalog,
    fake_customers,
    fake_routes_billing,
)
from stripe_integrations.testing.fake_errors import FakeError
from stripe_integrations.testing.fake_params import (
    as_list,
    check_known,
    created_filter,
    matches_range,
)
from stripe_integrations.testing.fake_store import Ctx, JsonDict, paginate

Handler = Callable[..., JsonDict]


def retrieve_event(ctx: Ctx, params: JsonDict, event_id: str) -> JsonDict:
    """``GET /v1/events/{id}``."""
    return ctx.store.get("event", event_id)


def list_events(ctx: Ctx, params: JsonDict) -> JsonDict:
    """``GET /v1/events`` (``type`` with ``*`` wildcards, ``types``, ``created``)."""
    check_known(
        params,
        (
            "type",
            "types",
            "created",
            "delivery_success",
            "limit",
            "starting_after",
            "ending_before",
        ),
    )
    patterns = [str(params["type"])] if params.get("type") else []
    patterns += [str(item) for item in as_list(params.get("types"), "types")]
    regexes = [re.compile(re.escape(pattern).replace(r"\*", ".*") + "$") for pattern in patterns]
    created = created_filter(params)

    def keep(event: JsonDict) -> bool:
        type_ok = not regexes or any(regex.match(event["type"]) for regex in regexes)
        return type_ok and matches_range(event["created"], created)

    items = ctx.store.newest_first("event", keep)
    return paginate(ctx.store, items, params, "/v1/events", "event")


_ID = r"(?P<{}>[^/]+)"

_ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/v1/customers", fake_customers.create_customer),
    ("GET", "/v1/customers", fake_customers.list_customers),
    ("GET", "/v1/customers/{customer_id}", fake_customers.retrieve_customer),
    ("POST", "/v1/customers/{customer_id}", fake_customers.update_customer),
    ("DELETE", "/v1/customers/{customer_id}", fake_customers.delete_customer),
    ("GET", "/v1/customers/{customer_id}/payment_methods", fake_cards.list_payment_methods),
    (
        "GET",
        "/v1/customers/{customer_id}/payment_methods/{pm_id}",
        fake_cards.retrieve_customer_payment_method,
    ),
    ("POST", "/v1/customers/{customer_id}/sources", fake_customers.create_source),
    ("GET", "/v1/customers/{customer_id}/sources", fake_customers.list_sources),
    ("GET", "/v1/customers/{customer_id}/sources/{source_id}", fake_customers.retrieve_source),
    ("DELETE", "/v1/customers/{customer_id}/sources/{source_id}", fake_customers.delete_source),
    ("POST", "/v1/payment_methods", fake_cards.create_payment_method),
    ("GET", "/v1/payment_methods", fake_cards.list_payment_methods),
    ("GET", "/v1/payment_methods/{pm_id}", fake_cards.retrieve_payment_method),
    ("POST", "/v1/payment_methods/{pm_id}", fake_cards.update_payment_method),
    ("POST", "/v1/payment_methods/{pm_id}/attach", fake_cards.attach_payment_method),
    ("POST", "/v1/payment_methods/{pm_id}/detach", fake_cards.detach_payment_method),
    ("POST", "/v1/products", fake_catalog.create_product),
    ("GET", "/v1/products", fake_catalog.list_products),
    ("GET", "/v1/products/{product_id}", fake_catalog.retrieve_product),
    ("POST", "/v1/products/{product_id}", fake_catalog.update_product),
    ("DELETE", "/v1/products/{product_id}", fake_catalog.delete_product),
    ("POST", "/v1/prices", fake_catalog.create_price),
    ("GET", "/v1/prices", fake_catalog.list_prices),
    ("GET", "/v1/prices/{price_id}", fake_catalog.retrieve_price),
    ("POST", "/v1/prices/{price_id}", fake_catalog.update_price),
    ("POST", "/v1/subscriptions", fake_billing.create_subscription),
    ("GET", "/v1/subscriptions", fake_billing.list_subscriptions),
    ("GET", "/v1/subscriptions/{sub_id}", fake_billing.retrieve_subscription),
    ("POST", "/v1/subscriptions/{sub_id}", fake_billing.update_subscription),
    ("DELETE", "/v1/subscriptions/{sub_id}", fake_billing.cancel_subscription),
    ("GET", "/v1/subscription_items", fake_billing.list_subscription_items),
    ("GET", "/v1/subscription_items/{item_id}", fake_billing.retrieve_subscription_item),
    *fake_routes_billing.ROUTES,
    ("GET", "/v1/events", list_events),
    ("GET", "/v1/events/{event_id}", retrieve_event),
]


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{(\w+)\}", lambda match: _ID.format(match.group(1)), template)
    return re.compile("^" + pattern + "$")


ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, _compile(template), handler) for method, template, handler in _ROUTES
]


def _create_card(ctx: Ctx, params: JsonDict) -> JsonDict:
    source_params = {key: value for key, value in params.items() if key != "customer"}
    return fake_customers.create_source(ctx, source_params, str(params.get("customer")))


#: Object types :meth:`FakeStripe.add` can seed, with the endpoint that builds them.
CREATORS: dict[str, Handler] = {
    "customer": fake_customers.create_customer,
    "payment_method": fake_cards.create_payment_method,
    "card": _create_card,
    "product": fake_catalog.create_product,
    "price": fake_catalog.create_price,
    "subscription": fake_billing.create_subscription,
    **fake_routes_billing.CREATORS,
}

#: The parameters each creator accepts (other fields given to ``add`` are overrides).
CREATE_PARAMS: dict[str, frozenset[str]] = {
    "customer": fake_customers.CUSTOMER_CREATE_PARAMS,
    "payment_method": fake_cards.PAYMENT_METHOD_CREATE_PARAMS,
    "card": frozenset({"customer", "source", "metadata"}),
    "product": fake_catalog.PRODUCT_CREATE_PARAMS,
    "price": fake_catalog.PRICE_CREATE_PARAMS,
    "subscription": fake_billing.SUBSCRIPTION_CREATE_PARAMS,
    **fake_routes_billing.CREATE_PARAMS,
}


def dispatch(ctx: Ctx, method: str, path: str, params: JsonDict) -> JsonDict:
    """Run the endpoint for ``method path``; unknown routes answer 404 ``url_invalid``."""
    for route_method, pattern, handler in ROUTES:
        match = pattern.match(path)
        if match and route_method == method:
            return handler(ctx, params, **match.groupdict())
    raise FakeError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or "
        "we can help at https://support.stripe.com/.",
        code="url_invalid",
    )


def describe() -> list[str]:
    """Every served route, as ``"METHOD /path/{id}"``."""
    return [f"{method} {template}" for method, template, _ in _ROUTES]
