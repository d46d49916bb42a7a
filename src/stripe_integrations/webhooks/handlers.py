"""Built-in handlers: each re-fetches the object an event names and mirrors it through the
sync path, so an old, repeated or reordered event can never leave stale state behind."""

from __future__ import annotations

from stripe_integrations.models import Event
from stripe_integrations.sync import mapping
from stripe_integrations.sync.fetch import (
    RETRIEVABLE,
    refresh_customer,
    refresh_object,
    refresh_payment_method,
    refresh_subscription,
)
from stripe_integrations.sync.upsert import mark_customers_deleted, sync_customers, sync_objects
from stripe_integrations.webhooks.registry import handler


@handler("customer.created", "customer.updated", "customer.deleted", "customer.discount.*")
def customer_changed(event: Event) -> None:
    """Mirror the customer; ``customer.deleted`` soft-deletes it (Stripe can only return the
    deleted stub, so the verified payload keeps the last known fields)."""
    obj = event.data_object
    customer_id = mapping.customer_id_of(obj)
    if not customer_id:
        return
    if event.type == "customer.deleted":
        sync_customers([obj])
        mark_customers_deleted([obj])
        return
    refresh_customer(customer_id, missing_ok=True)


@handler("customer.source.*")
def customer_source_changed(event: Event) -> None:
    """Mirror a card source (removed from the mirror when Stripe no longer has it)."""
    obj = event.data_object
    source_id = mapping.ref_id(obj.get("id"))
    if source_id:
        refresh_payment_method(source_id, mapping.ref_id(obj.get("customer")))


@handler("payment_method.*")
def payment_method_changed(event: Event) -> None:
    """Mirror a payment method (attached, updated, detached...)."""
    pm_id = mapping.ref_id(event.data_object.get("id"))
    if pm_id:
        refresh_payment_method(pm_id)


@handler("customer.subscription.*")
def subscription_changed(event: Event) -> None:
    """Mirror a subscription with its items."""
    sub_id = mapping.ref_id(event.data_object.get("id"))
    if sub_id:
        refresh_subscription(sub_id)


@handler(
    "product.*",
    "price.*",
    "plan.*",
    "coupon.*",
    "promotion_code.*",
    "invoice.*",
    "invoiceitem.*",
    "payment_intent.*",
    "charge.*",
    "refund.*",
    "setup_intent.*",
)
def billing_object_changed(event: Event) -> None:
    """Mirror the billing object an event names (by its ``object`` kind, so
    ``charge.refund.updated`` refreshes the refund). A ``*.deleted`` event marks the row
    deleted from the verified payload: Stripe no longer returns the object."""
    obj = event.data_object
    kind = obj.get("object")
    object_id = mapping.ref_id(obj.get("id"))
    if not isinstance(kind, str) or kind not in RETRIEVABLE or not object_id:
        return
    if event.type.endswith(".deleted"):
        sync_objects([{**obj, "deleted": True}])
        return
    refresh_object(kind, object_id)


@handler("customer.discount.deleted")
def customer_discount_deleted(event: Event) -> None:
    """Mark the removed discount deleted (the customer itself is refreshed as well)."""
    obj = event.data_object
    if obj.get("id"):
        sync_objects([{**obj, "deleted": True}])
