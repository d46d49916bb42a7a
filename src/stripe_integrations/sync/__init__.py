"""Stripe object -> mapping -> upsert -> rows."""

from stripe_integrations.sync.upsert import (
    mark_customers_deleted,
    sync_customers,
    sync_events,
    sync_objects,
    sync_payment_methods,
    sync_subscriptions,
    upsert_rows,
)

__all__ = [
    "mark_customers_deleted",
    "sync_customers",
    "sync_events",
    "sync_objects",
    "sync_payment_methods",
    "sync_subscriptions",
    "upsert_rows",
]
