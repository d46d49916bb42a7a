"""Which handlers run for which event types.

Handlers are plain callables taking the local :class:`~stripe_integrations.models.Event`.
Patterns are exact types (``customer.updated``) or globs (``customer.*``, ``*``); several
handlers may share a type and run in registration order (built-in handlers first).
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], None]


class Registry:
    """Maps event type patterns to handlers."""

    def __init__(self) -> None:
        self._entries: list[tuple[str, Handler]] = []
        self._lock = threading.Lock()

    def register(self, pattern: str, func: Handler) -> Handler:
        """Run ``func`` for events whose type matches ``pattern``."""
        if not pattern or not isinstance(pattern, str):
            raise ValueError("an event type or pattern is required")
        with self._lock:
            if (pattern, func) not in self._entries:
                self._entries.append((pattern, func))
        return func

    def unregister(self, func: Handler, pattern: str | None = None) -> None:
        """Remove ``func`` (for ``pattern`` only, if given)."""
        with self._lock:
            self._entries = [
                (p, f)
                for p, f in self._entries
                if not (f is func and (pattern is None or p == pattern))
            ]

    def handlers_for(self, event_type: str) -> list[Handler]:
        """Handlers matching ``event_type``, in registration order, each once."""
        seen: list[Handler] = []
        for pattern, func in list(self._entries):
            if (pattern == event_type or fnmatch.fnmatchcase(event_type, pattern)) and (
                func not in seen
            ):
                seen.append(func)
        return seen


registry = Registry()


def handler(*event_types: str) -> Callable[[Handler], Handler]:
    """Decorator: run the function for events of the given types or patterns.

    ``@handler("customer.subscription.created", "customer.subscription.updated")``
    """
    if not event_types:
        raise ValueError("handler() needs at least one event type")

    def decorate(func: Handler) -> Handler:
        for event_type in event_types:
            registry.register(event_type, func)
        return func

    return decorate
