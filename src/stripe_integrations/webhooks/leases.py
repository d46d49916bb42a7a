"""Leases on events being processed.

A worker that claims an event holds it for ``STRIPE_CONFIG["EVENT_LEASE_SECONDS"]``: the
claim sets ``locked_at`` and bumps ``attempts``, whose new value is the lease's token. While
the worker's handlers run, one renewer thread per process moves ``locked_at`` forward every
third of the lease. Once a lease has expired (its worker died or hung), another worker may
claim the event; the first one's final write names its token, matches no row, and rolls its
transaction back, so an event is applied once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from stripe_integrations.conf import get_config
from stripe_integrations.models import Event, EventStatus

log = logging.getLogger("stripe_integrations.webhooks")


def lease_seconds() -> float:
    """The configured lease, at least one second."""
    return max(1.0, get_config().event_lease_seconds)


def expired_before() -> datetime:
    """A ``processing`` event whose ``locked_at`` is older than this has lost its worker."""
    return timezone.now() - timedelta(seconds=lease_seconds())


def abandoned() -> Q:
    """``processing`` events whose lease has expired (or that never had one)."""
    return Q(status=EventStatus.PROCESSING) & (
        Q(locked_at__lt=expired_before()) | Q(locked_at__isnull=True)
    )


class _Renewer:
    """The process's renewer thread and the leases it keeps, each renewed once a third of
    the lease has passed since its claim or its last renewal (a short handler costs no
    renewal at all)."""

    def __init__(self) -> None:
        self._held: dict[tuple[int, int], float] = {}
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextmanager
    def hold_many(self, claims: dict[int, int]) -> Iterator[None]:
        keys = list(claims.items())
        with self._cv:
            now = time.monotonic()
            for key in keys:
                self._held[key] = now
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="stripe-event-leases", daemon=True
                )
                self._thread.start()
            self._cv.notify()
        try:
            yield
        finally:
            with self._cv:
                for key in keys:
                    self._held.pop(key, None)

    def _run(self) -> None:
        with self._cv:
            while True:
                interval = lease_seconds() / 3
                now = time.monotonic()
                due = [key for key, since in self._held.items() if now - since >= interval]
                if not due:
                    waits = [interval - (now - since) for since in self._held.values()]
                    self._cv.wait(min(waits, default=interval))
                    continue
                self._cv.release()
                try:
                    self.renew(due)
                finally:
                    self._cv.acquire()
                renewed = time.monotonic()
                for key in due:
                    if key in self._held:
                        self._held[key] = renewed

    def renew(self, held: list[tuple[int, int]]) -> int:
        """Move the given leases forward; returns how many were still held."""
        try:
            condition = reduce(or_, (Q(pk=pk, attempts=token) for pk, token in held))
            return Event.objects.filter(condition, status=EventStatus.PROCESSING).update(
                locked_at=timezone.now()
            )
        except Exception:  # a locked SQLite file, a dropped connection: try again next round
            log.warning("could not renew the leases of %s events", len(held), exc_info=True)
            return 0
        finally:
            connection.close()


renewer = _Renewer()


def hold(event_pk: int, token: int) -> AbstractContextManager[None]:
    """Keep the lease ``token`` on event ``event_pk`` alive while the block runs."""
    return renewer.hold_many({event_pk: token})


def hold_many(claims: dict[int, int]) -> AbstractContextManager[None]:
    """Keep the leases ``{event pk: token}`` alive while the block runs."""
    return renewer.hold_many(claims)
