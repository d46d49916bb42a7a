"""What every mirrored Stripe object has in common."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models


class StripeObjectQuerySet(models.QuerySet["StripeModel"]):
    """Queryset of mirrored rows."""

    def by_stripe_id(self, stripe_id: str) -> StripeModel | None:
        """The row mirroring ``stripe_id``, or None."""
        return self.filter(stripe_id=stripe_id).first()


class StripeModel(models.Model):
    """Abstract base of every mirrored Stripe object.

    ``raw`` keeps the whole object as Stripe sent it, so nothing is lost when the typed columns
    do not cover a field or a new API version adds one. ``synced_at`` is when the object the
    row holds was fetched from Stripe: the write path never replaces a row with an object
    fetched earlier (see :mod:`stripe_integrations.sync.fresh`).
    """

    #: Stripe's ``object`` value this model mirrors (``"customer"``...).
    STRIPE_OBJECT: ClassVar[str] = ""
    #: Dashboard path segment used to link a row to the Stripe dashboard.
    DASHBOARD_PATH: ClassVar[str] = ""

    stripe_id = models.CharField(max_length=255, unique=True, help_text="Stripe's id.")
    livemode = models.BooleanField(
        default=False, help_text="True for an object of the live account, False for test mode."
    )
    created = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="When Stripe created it."
    )
    metadata = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True, help_text="The full object as last synced.")
    synced_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the object this row holds was fetched from Stripe.",
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.stripe_id

    @property
    def dashboard_url(self) -> str:
        """Link to this object in the Stripe dashboard."""
        return self._dashboard(self.DASHBOARD_PATH, self.stripe_id)

    def _dashboard(self, path: str, stripe_id: str) -> str:
        mode = "" if self.livemode else "test/"
        return f"https://dashboard.stripe.com/{mode}{path}/{stripe_id}"

    def raw_get(self, key: str, default: Any = None) -> Any:
        """A field of the raw object (for attributes without a typed column)."""
        return (self.raw or {}).get(key, default)


def stripe_fk(
    to: str, related_name: str, *, on_delete: Any = models.DO_NOTHING, **kwargs: Any
) -> models.ForeignKey[Any, Any]:
    """A link to another mirrored object by its Stripe id.

    The column holds the Stripe id itself, so the sync path links rows without a query and in
    any order (no database constraint; the target may arrive later).
    """
    return models.ForeignKey(
        to,
        to_field="stripe_id",
        db_constraint=False,
        on_delete=on_delete,
        null=True,
        blank=True,
        related_name=related_name,
        **kwargs,
    )
