"""Models mirroring Stripe objects. Abstract bases are public for projects that extend them."""

from stripe_integrations.models.base import StripeModel
from stripe_integrations.models.catalog import AbstractPrice, AbstractProduct, Price, Product
from stripe_integrations.models.checkpoint import SyncCheckpoint as SyncCheckpoint
from stripe_integrations.models.customer import AbstractCustomer, Customer, CustomerQuerySet
from stripe_integrations.models.discounts import (
    AbstractCoupon,
    AbstractDiscount,
    AbstractPromotionCode,
    Coupon,
    Discount,
    PromotionCode,
)
from stripe_integrations.models.event import AbstractEvent, Event, EventStatus
from stripe_integrations.models.invoicing import (
    AbstractInvoice,
    AbstractInvoiceItem,
    AbstractInvoiceLineItem,
    Invoice,
    InvoiceItem,
    InvoiceLineItem,
)
from stripe_integrations.models.payment_method import AbstractPaymentMethod, PaymentMethod
from stripe_integrations.models.payments import (
    AbstractCharge,
    AbstractPaymentIntent,
    AbstractRefund,
    AbstractSetupIntent,
    Charge,
    PaymentIntent,
    Refund,
    SetupIntent,
)
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
    "AbstractCharge",
    "AbstractCoupon",
    "AbstractCustomer",
    "AbstractDiscount",
    "AbstractEvent",
    "AbstractInvoice",
    "AbstractInvoiceItem",
    "AbstractInvoiceLineItem",
    "AbstractPaymentIntent",
    "AbstractPaymentMethod",
    "AbstractPrice",
    "AbstractProduct",
    "AbstractPromotionCode",
    "AbstractRefund",
    "AbstractSetupIntent",
    "AbstractSubscription",
    "AbstractSubscriptionItem",
    "Charge",
    "Coupon",
    "Customer",
    "CustomerQuerySet",
    "Discount",
    "Event",
    "EventStatus",
    "Invoice",
    "InvoiceItem",
    "InvoiceLineItem",
    "PaymentIntent",
    "PaymentMethod",
    "Price",
    "Product",
    "PromotionCode",
    "Refund",
    "SetupIntent",
    "StripeModel",
    "Subscription",
    "SubscriptionItem",
    "SubscriptionQuerySet",
]
