"""``StripeSubscription``: subscribe, update, cancel, discounts."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from stripe_integrations import validation as v
from stripe_integrations.actions.base import (
    call,
    call_and_mirror,
    checked_metadata,
    mirror,
    op_key,
    service,
    stripe_id_of,
)
from stripe_integrations.exceptions import StripeValidationError
from stripe_integrations.models import (
    Coupon,
    Customer,
    Price,
    PromotionCode,
    Subscription,
)
from stripe_integrations.sync import mapping
from stripe_integrations.sync.fetch import refresh_subscription

#: Statuses of subscriptions that are over: subscribing again after one is a new request.
ENDED_STATUSES = ("canceled", "incomplete_expired")

#: Expanded on create so the first invoice and its client secret arrive with the subscription.
CREATE_EXPAND = ["latest_invoice.confirmation_secret"]


def _checked_items(price: Any, items: Any) -> list[dict[str, Any]]:
    if (price is None) == (items is None):
        raise TypeError("subscribe() takes price=... or items=[...], not both or neither")
    raw_items = [{"price": price}] if price is not None else items
    if not isinstance(raw_items, list) or not raw_items:
        raise StripeValidationError("items", "must be a non-empty list")
    checked: list[dict[str, Any]] = []
    for index, item in enumerate(raw_items):
        field = f"items[{index}]"
        if not isinstance(item, dict) or "price" not in item:
            raise StripeValidationError(field, "must be a dict with a price")
        entry = dict(item)  # every other item field (tax_rates, metadata...) passes through
        entry["price"] = stripe_id_of(item["price"], f"{field}.price")
        if "quantity" in entry:
            entry["quantity"] = v.check_int(f"{field}.quantity", entry["quantity"], minimum=0)
        if "metadata" in entry:
            entry["metadata"] = v.check_metadata(
                f"{field}.metadata", entry["metadata"], allow_unset=False
            )
        checked.append(entry)
    known = {
        p.stripe_id: p for p in Price.objects.filter(stripe_id__in=[i["price"] for i in checked])
    }
    for index, entry in enumerate(checked):
        found = known.get(entry["price"])
        if found is None:
            raise StripeValidationError(
                f"items[{index}].price",
                f"unknown price {entry['price']!r}: mirror it first "
                "(StripePrice.retrieve(...) or manage.py stripe_sync prices)",
            )
        if found.active is False:
            raise StripeValidationError(f"items[{index}].price", "the price is archived")
        if found.type == "one_time":
            raise StripeValidationError(f"items[{index}].price", "is not a recurring price")
    return checked


class StripeSubscription:
    """Subscriptions of a customer; every call mirrors what Stripe returns."""

    @classmethod
    def create(
        cls,
        customer: Customer,
        price: Any = None,
        items: list[dict[str, Any]] | None = None,
        *,
        idempotency_key: str | None = None,
        **params: Any,
    ) -> Subscription:
        """Subscribe ``customer`` to ``price`` or to ``items`` (each item's fields pass
        through: quantity, tax_rates, metadata...). Other Stripe parameters pass through
        too: ``payment_behavior="default_incomplete"`` makes it SCA-ready. The returned
        subscription carries ``requires_action`` and ``client_secret`` (not stored): when
        the first payment needs the customer, confirm it client-side with that secret."""
        params = checked_metadata(params)
        params["items"] = _checked_items(price, items)
        params["customer"] = customer.stripe_id
        params["expand"] = sorted({*params.get("expand", []), *CREATE_EXPAND})
        # The same request again (a double submit, a retry) is the same subscription until
        # one of the customer's subscriptions ends; subscribing again after that is new.
        # Pass ``idempotency_key`` (or distinct metadata) for two identical live ones.
        ended = sorted(
            customer.subscriptions.filter(status__in=ENDED_STATUSES).values_list(
                "stripe_id", flat=True
            )
        )
        key = idempotency_key or op_key("subscription.create", customer.stripe_id, params, ended)
        fetched_at = timezone.now()
        obj = call(service("subscriptions").create, key=key, **params)
        data = mapping.as_dict(obj)
        row = mirror(data, fetched_at)
        invoice = data.get("latest_invoice")
        secret = None
        if isinstance(invoice, dict):
            confirmation = invoice.get("confirmation_secret")
            if isinstance(confirmation, dict):
                secret = confirmation.get("client_secret")
        row.client_secret = secret
        row.requires_action = bool(secret) and data.get("status") == "incomplete"
        return row

    @classmethod
    def update(cls, subscription: Subscription, **params: Any) -> Subscription:
        """Update the subscription in Stripe and mirror it."""
        params = checked_metadata(params, updating=True)
        key = op_key(
            "subscription.update",
            subscription.stripe_id,
            params,
            subscription.raw.get("items"),
            subscription.status,
        )
        return call_and_mirror(
            service("subscriptions").update, subscription.stripe_id, key=key, **params
        )

    @classmethod
    def cancel(cls, subscription: Subscription, at_period_end: bool = False) -> Subscription:
        """Cancel now, or at the end of the current period."""
        if at_period_end:
            return cls.update(subscription, cancel_at_period_end=True)
        return call_and_mirror(service("subscriptions").cancel, subscription.stripe_id)

    @classmethod
    def retrieve(cls, stripe_id: str) -> Subscription | None:
        """Fetch the subscription with its items and mirror it."""
        return refresh_subscription(stripe_id_of(stripe_id, "stripe_id", ("sub_",)))

    @classmethod
    def apply_discount(
        cls,
        subscription: Subscription,
        coupon: Any = None,
        promotion_code: Any = None,
    ) -> Subscription:
        """Apply a coupon or a promotion code (its id or its code) to the subscription,
        through ``discounts`` as current API versions require. It must be mirrored."""
        if (coupon is None) == (promotion_code is None):
            raise TypeError("give coupon=... or promotion_code=..., not both or neither")
        if coupon is not None:
            coupon_id = stripe_id_of(coupon, "coupon")
            found = Coupon.objects.filter(stripe_id=coupon_id).first()
            if found is None or found.is_deleted or found.valid is False:
                raise StripeValidationError("coupon", f"unknown or invalid coupon {coupon_id!r}")
            discount = {"coupon": coupon_id}
        else:
            value = stripe_id_of(promotion_code, "promotion_code")
            promo = (
                PromotionCode.objects.filter(stripe_id=value).first()
                or PromotionCode.objects.filter(code=value, active=True).first()
            )
            if promo is None or promo.active is False:
                raise StripeValidationError(
                    "promotion_code", f"unknown or inactive promotion code {value!r}"
                )
            discount = {"promotion_code": promo.stripe_id}
        current = [{"discount": d} for d in (subscription.discounts or []) if isinstance(d, str)]
        return cls.update(subscription, discounts=[*current, discount])
