"""Progress of ``stripe_sync``: one row per resource and ``created`` slice."""

from __future__ import annotations

from django.db import models


class SyncCheckpoint(models.Model):
    """How far the backfill of one slice of one resource got.

    A slice is the half-open range ``[created_gte, created_lt)`` of Stripe ``created``
    timestamps (Unix seconds). Its chain of list pages runs newest first; ``cursor`` is the id
    of the last object written (the next page starts after it) and ``position`` that object's
    ``created``. A row is written in the same transaction as the page it records, so a
    resumed run continues exactly where the last committed page stopped.
    """

    resource = models.CharField(max_length=64, help_text="Registered resource name.")
    livemode = models.BooleanField(default=False, help_text="Live or test account data.")
    created_gte = models.BigIntegerField(help_text="Lower bound of the slice (inclusive).")
    created_lt = models.BigIntegerField(help_text="Upper bound of the slice (exclusive).")
    cursor = models.CharField(
        max_length=255, null=True, blank=True, help_text="Id of the last object written."
    )
    position = models.BigIntegerField(
        null=True, blank=True, help_text="`created` of the last object written."
    )
    done = models.BooleanField(default=False)
    objects_synced = models.BigIntegerField(default=0)
    pages = models.IntegerField(default=0)
    run_started = models.DateTimeField(help_text="When the run that planned this slice began.")
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "sync checkpoint"
        constraints = [
            models.UniqueConstraint(
                fields=["resource", "livemode", "created_lt"],
                name="si_sync_checkpoint_slice",
            )
        ]

    def __str__(self) -> str:
        state = "done" if self.done else f"at {self.cursor or 'start'}"
        return f"{self.resource} [{self.created_gte}, {self.created_lt}) {state}"
