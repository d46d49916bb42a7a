"""Celery tasks of the backfill: one slice of ``stripe_sync``, and a periodic reconcile.

Celery's ``autodiscover_tasks()`` only imports ``stripe_integrations.tasks``; list this module
in ``CELERY_IMPORTS`` (or start workers with ``--include stripe_integrations.backfill.tasks``)
until that module imports it.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from stripe_integrations.exceptions import StripeAPIError


@shared_task(
    name="stripe_integrations.sync_slice",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(StripeAPIError,),
    retry_backoff=True,
    max_retries=5,
)
def sync_slice_task(
    resource: str, livemode: bool, created_lt: int, workers: int, rate: float
) -> int:
    """Backfill one slice from its checkpoint to its end; returns the objects written."""
    from stripe_integrations.backfill.celery_backend import run_slice

    return run_slice(resource, livemode, created_lt, workers, rate)


@shared_task(name="stripe_integrations.reconcile", acks_late=True)
def reconcile_task(
    resources: list[str] | None = None, fix: bool = False, since_days: int | None = None
) -> list[dict[str, Any]]:
    """Compare the mirror with Stripe (and repair it with ``fix``); returns the report."""
    import time

    from stripe_integrations.backfill.reconcile import reconcile

    since = int(time.time()) - since_days * 86400 if since_days else None
    return [d.as_dict() for d in reconcile(resources or (), fix=fix, since=since)]
