"""The Stripe customer and its link to a subscriber (by default the user)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q

from stripe_integrations.conf import subscriber_model_label
from stripe_integrations.models.base import StripeModel, stripe_fk

if TYPE_CHECKING:
    from stripe_integrations.models.invoicing import Invoice, InvoiceItem
    from stripe_integrations.models.payment_method import PaymentMethod
    from stripe_integrations.models.payments import PaymentIntent
    from stripe_integrations.models.subscription import Subscription, SubscriptionQuerySet


class MultipleSubscriptionsError(Exception):
    """``Customer.subscription`` was asked for while the customer has several valid ones."""


class CustomerQuerySet(models.QuerySet["Customer"]):
    """Queries over mirrored customers."""

    def active(self) -> CustomerQuerySet:
        """Customers not deleted in Stripe and not soft-deleted locally."""
        return self.filter(is_active=True)


class AbstractCustomer(StripeModel):
    """A Stripe customer: one typed column per attribute of the customer object.

    ``subscriber``, ``is_active`` and ``date_purged`` are local: Stripe never writes them.
    """

    STRIPE_OBJECT = "customer"
    DASHBOARD_PATH = "customers"

    subscriber = models.ForeignKey(
        subscriber_model_label(),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="stripe_customers",
        help_text="The subscriber (by default the user) this customer bills.",
    )
    is_active = models.BooleanField(
        default=True, help_text="False once the customer is deleted (in Stripe or locally)."
    )
    date_purged = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the customer was soft-deleted."
    )

    address = models.JSONField(null=True, blank=True)
    balance = models.BigIntegerField(
        null=True, blank=True, help_text="In the minor unit of `currency` (e.g. cents)."
    )
    cash_balance = models.JSONField(null=True, blank=True)
    currency = models.CharField(max_length=3, null=True, blank=True)
    default_payment_method = stripe_fk(
        "stripe_integrations.PaymentMethod",
        "+",
        help_text="invoice_settings.default_payment_method",
    )
    default_source = stripe_fk("stripe_integrations.PaymentMethod", "+")
    delinquent = models.BooleanField(null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    discount = models.JSONField(null=True, blank=True)
    email = models.CharField(max_length=512, null=True, blank=True, db_index=True)
    invoice_credit_balance = models.JSONField(null=True, blank=True)
    invoice_prefix = models.CharField(max_length=255, null=True, blank=True)
    invoice_settings = models.JSONField(null=True, blank=True)
    name = models.CharField(max_length=256, null=True, blank=True)
    next_invoice_sequence = models.BigIntegerField(null=True, blank=True)
    phone = models.CharField(max_length=255, null=True, blank=True)
    preferred_locales = models.JSONField(null=True, blank=True)
    shipping = models.JSONField(null=True, blank=True)
    tax = models.JSONField(null=True, blank=True)
    tax_exempt = models.CharField(max_length=64, null=True, blank=True)
    tax_ids = models.JSONField(null=True, blank=True)
    test_clock = models.CharField(max_length=255, null=True, blank=True)

    objects = CustomerQuerySet.as_manager()

    class Meta(StripeModel.Meta):
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "livemode"],
                condition=Q(is_active=True, subscriber__isnull=False),
                name="si_one_active_customer_per_subscriber",
            )
        ]

    def __str__(self) -> str:
        return self.email or self.name or self.stripe_id

    @property
    def default_payment(self) -> PaymentMethod | None:
        """The default payment method, else the default source, when mirrored; else None."""
        from stripe_integrations.models.payment_method import PaymentMethod

        for attr in ("default_payment_method", "default_source"):
            try:
                value = getattr(self, attr)
            except PaymentMethod.DoesNotExist:
                continue
            if value is not None:
                return value
        return None

    # --- the dj-stripe surface: each helper delegates to an action ------------------------

    @classmethod
    def get_or_create(cls, subscriber: models.Model, **fields: Any) -> tuple[Any, bool]:
        """The subscriber's customer, created in Stripe and fully mirrored on first call
        (email and name from the subscriber, the subscriber in metadata); later calls
        return it after checking it still exists in Stripe. Safe under concurrency."""
        from stripe_integrations.actions import StripeCustomer

        email = fields.pop("email", None) or getattr(subscriber, "email", None) or None
        if "name" not in fields:
            full_name = getattr(subscriber, "get_full_name", lambda: "")()
            if full_name:
                fields["name"] = full_name
        return StripeCustomer.get_or_create(subscriber, email, **fields)

    def subscribe(
        self, price: Any = None, items: list[dict[str, Any]] | None = None, **params: Any
    ) -> Subscription:
        """Subscribe to one ``price`` or to ``items``; see ``StripeSubscription.create``."""
        from stripe_integrations.actions import StripeSubscription

        return StripeSubscription.create(self, price=price, items=items, **params)  # type: ignore[arg-type]

    def charge(self, amount: Any, currency: str, **params: Any) -> PaymentIntent:
        """Charge now through a PaymentIntent; see ``StripePaymentIntent.charge``."""
        from stripe_integrations.actions import StripePaymentIntent

        return StripePaymentIntent.charge(self, amount, currency, **params)  # type: ignore[arg-type]

    def add_payment_method(self, payment_method: Any, set_default: bool = True) -> PaymentMethod:
        """Attach a payment method (and make it the default)."""
        from stripe_integrations.actions import StripePaymentMethod

        return StripePaymentMethod.attach(self, payment_method, set_default)  # type: ignore[arg-type]

    def add_invoice_item(
        self, amount: Any, currency: str, description: str | None = None, **params: Any
    ) -> InvoiceItem:
        """Add a one-off line to the next invoice; see ``StripeInvoiceItem.create``."""
        from stripe_integrations.actions import StripeInvoiceItem

        return StripeInvoiceItem.create(self, amount, currency, description, **params)  # type: ignore[arg-type]

    def add_coupon(
        self,
        coupon: Any = None,
        promotion_code: Any = None,
        subscription: Subscription | None = None,
    ) -> Subscription:
        """Apply a coupon or promotion code. Current API versions take discounts on
        subscriptions, not customers: it goes to ``subscription`` or the single valid one."""
        from stripe_integrations.actions import StripeSubscription

        target = subscription or self.subscription
        if target is None:
            from stripe_integrations.exceptions import StripeValidationError

            raise StripeValidationError("subscription", "the customer has no valid subscription")
        return StripeSubscription.apply_discount(target, coupon, promotion_code)

    def send_invoice(self, **params: Any) -> Invoice:
        """Invoice the pending items now and email the invoice; see ``StripeInvoice.send``."""
        from stripe_integrations.actions import StripeInvoice

        return StripeInvoice.send(self, **params)  # type: ignore[arg-type]

    def upcoming_invoice(self, **params: Any) -> Invoice:
        """A preview of the next invoice (not stored); see ``StripeInvoice.preview``."""
        from stripe_integrations.actions import StripeInvoice

        return StripeInvoice.preview(self, **params)  # type: ignore[arg-type]

    def purge(self) -> None:
        """Delete the customer in Stripe and soft-delete it here."""
        from stripe_integrations.actions import StripeCustomer

        StripeCustomer.delete(self)  # type: ignore[arg-type]

    # --- subscriptions, read from the mirror ----------------------------------------------

    @property
    def active_subscriptions(self) -> SubscriptionQuerySet:
        """Subscriptions whose status is ``active`` or ``trialing``."""
        return self.subscriptions.active()  # type: ignore[attr-defined]

    @property
    def valid_subscriptions(self) -> SubscriptionQuerySet:
        """Subscriptions that grant access: ``active``, ``trialing`` or ``past_due``, not
        ended (``VALID_STATUSES``)."""
        return self.subscriptions.valid()  # type: ignore[attr-defined]

    @property
    def subscription(self) -> Subscription | None:
        """The single valid subscription, or None; ``MultipleSubscriptionsError`` if the
        customer has several."""
        found = list(self.valid_subscriptions[:2])
        if len(found) > 1:
            raise MultipleSubscriptionsError(
                f"customer {self.stripe_id} has several valid subscriptions; "
                "use valid_subscriptions"
            )
        return found[0] if found else None

    def has_any_active_subscription(self) -> bool:
        """Whether any subscription is ``active`` or ``trialing``. One query."""
        return bool(self.active_subscriptions.exists())

    def is_subscribed_to(self, product: Any) -> bool:
        """Whether a valid subscription includes ``product`` (a Product or its id). One
        query."""
        from stripe_integrations.models.subscription import VALID_STATUSES, SubscriptionItem

        product_id = getattr(product, "stripe_id", product)
        return SubscriptionItem.objects.filter(
            subscription__customer_id=self.stripe_id,
            subscription__status__in=VALID_STATUSES,
            subscription__ended_at__isnull=True,
            product_stripe_id=product_id,
        ).exists()


class Customer(AbstractCustomer):
    """The concrete customer model."""

    class Meta(AbstractCustomer.Meta):
        verbose_name = "customer"
