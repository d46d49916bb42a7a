"""Backfill and reconcile: mirror a whole Stripe account, and find what drifted.

- :func:`run_sync` (``manage.py stripe_sync``) lists every registered :class:`Resource`
  in dependency order, in ``created`` slices fetched concurrently within a rate limit, and
  writes each page in bulk with its :class:`~stripe_integrations.models.SyncCheckpoint`.
- :func:`reconcile` (``manage.py stripe_reconcile``) compares the mirror with Stripe and
  reports (or fixes) missing, stale and extra rows.
- :func:`register` adds a resource (see :mod:`.resources` for the built-in ones).
"""

from stripe_integrations.backfill.engine import ResourceStats
from stripe_integrations.backfill.reconcile import Drift, reconcile
from stripe_integrations.backfill.registry import (
    Resource,
    all_resources,
    get_resource,
    register,
    resource_names,
    unregister,
)
from stripe_integrations.backfill.run import SyncSettings, run_sync

__all__ = [
    "Drift",
    "Resource",
    "ResourceStats",
    "SyncSettings",
    "all_resources",
    "get_resource",
    "reconcile",
    "register",
    "resource_names",
    "run_sync",
    "unregister",
]
