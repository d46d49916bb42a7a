"""The Django admin of the mirror: every model registered, mirrored columns read-only.

Modules: ``base`` (what every mirrored model's admin shares), ``display`` (money, JSON,
links, redaction), ``refresh`` (the "Sync from Stripe" loop), then one module per family.
"""

from stripe_integrations.admin import (
    catalog,
    customers,
    discounts,
    events,
    invoicing,
    payments,
    subscriptions,
)

__all__ = [
    "catalog",
    "customers",
    "discounts",
    "events",
    "invoicing",
    "payments",
    "subscriptions",
]
