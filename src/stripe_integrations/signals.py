"""The webhook signals, importable here as documented (they live in
:mod:`stripe_integrations.webhooks.signals`)."""

from stripe_integrations.webhooks.signals import (
    OUTCOMES,
    event_failed,
    event_processed,
    event_received,
    event_skipped,
    existing_for_type,
    for_type,
)

__all__ = [
    "OUTCOMES",
    "event_failed",
    "event_processed",
    "event_received",
    "event_skipped",
    "existing_for_type",
    "for_type",
]
