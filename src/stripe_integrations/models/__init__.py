"""Models mirroring Stripe objects. Abstract bases are public for projects that extend them."""

from stripe_integrations.models.base import StripeModel
from stripe_integrations.models.customer import AbstractCustomer, Customer, CustomerQuerySet
from stripe_integrations.models.event import AbstractEvent, Event, EventStatus
from stripe_integrations.models.payment_method import AbstractPaymentMethod, PaymentMethod
from stripe_integrations.models.subscription import (
    VALID_STATUSES,
    AbstractSubscription,
    AbstractSubscriptionItem,
    Subscription,
    SubscriptionItem,
    SubscriptionQuerySet,
)

__all__ = [
    "VALID_STATUSES",
    "AbstractCustomer",
    "AbstractEvent",
    "AbstractPaymentMethod",
    "AbstractSubscription",
    "AbstractSubscriptionItem",
    "Customer",
    "CustomerQuerySet",
    "Event",
    "EventStatus",
    "PaymentMethod",
    "StripeModel",
    "Subscription",
    "SubscriptionItem",
    "SubscriptionQuerySet",
]
