"""Signals sent while events are processed.

- ``event_received(sender=Event, event)``: a new event was stored by the webhook view.
- ``event_processed(sender=Event, event)``: every handler succeeded.
- ``event_failed(sender=Event, event, exception, will_retry)``: a handler raised.
- ``event_skipped(sender=Event, event, reason)``: the event is stored but not applied (an
  event of a Connect account, which the mirror does not hold); ``reason`` says why.
- :func:`for_type` gives one signal per event type and outcome, e.g.
  ``for_type("customer.updated").connect(receiver)`` (outcome ``"succeeded"`` by default,
  or ``"failed"``).
"""

from __future__ import annotations

import threading

from django.dispatch import Signal

event_received = Signal()
event_processed = Signal()
event_failed = Signal()
event_skipped = Signal()

OUTCOMES = ("succeeded", "failed")

_typed: dict[tuple[str, str], Signal] = {}
_lock = threading.Lock()


def for_type(event_type: str, outcome: str = "succeeded") -> Signal:
    """The signal sent for events of ``event_type`` ending with ``outcome``."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    key = (event_type, outcome)
    with _lock:
        signal = _typed.get(key)
        if signal is None:
            signal = _typed[key] = Signal()
    return signal


def existing_for_type(event_type: str, outcome: str) -> Signal | None:
    """The per-type signal if anyone asked for it (nothing to send otherwise)."""
    return _typed.get((event_type, outcome))
