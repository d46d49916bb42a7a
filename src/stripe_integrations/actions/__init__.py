"""The public action API: ``from stripe_integrations.actions import StripeCustomer``."""

from stripe_integrations.actions.catalog import (
    StripeCoupon,
    StripePrice,
    StripeProduct,
    StripePromotionCode,
)
from stripe_integrations.actions.customer import StripeCustomer
from stripe_integrations.actions.invoice import StripeInvoice, StripeInvoiceItem
from stripe_integrations.actions.payments import (
    StripePaymentIntent,
    StripePaymentMethod,
    StripeRefund,
)
from stripe_integrations.actions.subscription import StripeSubscription

__all__ = [
    "StripeCoupon",
    "StripeCustomer",
    "StripeInvoice",
    "StripeInvoiceItem",
    "StripePaymentIntent",
    "StripePaymentMethod",
    "StripePrice",
    "StripeProduct",
    "StripePromotionCode",
    "StripeRefund",
    "StripeSubscription",
]
