"""Where events are processed once stored (``STRIPE_CONFIG["EVENT_BACKEND"]``).

- ``thread`` (default): an in-process worker thread, after the request's commit; needs no
  other service. Retries wait in the worker. Events still queued when the process exits stay
  pending in the database for ``manage.py stripe_process_events``.
- ``immediate``: in the caller's thread right after commit, retries included (tests, scripts).
- ``manual``: nothing runs; ``manage.py stripe_process_events`` processes pending events.
- ``celery``: a Celery task (``acks_late``), retried with a countdown.
- ``django_tasks``: Django's task framework (Django 6.0+), deferred retries where the task
  backend supports them.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Any, Protocol

from django.db import close_old_connections, connection, transaction

from stripe_integrations.conf import get_config
from stripe_integrations.models import Event
from stripe_integrations.webhooks.processing import (
    Outcome,
    process_batch,
    process_event,
    store_event,
)

log = logging.getLogger("stripe_integrations.webhooks")


class EventBackend(Protocol):
    """Runs :func:`process_event` for stored events."""

    def enqueue(self, event_id: int, delay: float = 0.0) -> None:
        """Process event ``event_id`` after ``delay`` seconds."""


class ManualBackend:
    """Leaves events pending."""

    def enqueue(self, event_id: int, delay: float = 0.0) -> None:
        return None


class ImmediateBackend:
    """Processes in the calling thread, sleeping between retries."""

    def enqueue(self, event_id: int, delay: float = 0.0) -> None:
        if delay:
            time.sleep(delay)
        outcome = process_event(event_id)
        while outcome.retry_in is not None:
            time.sleep(outcome.retry_in)
            outcome = process_event(event_id)


class ThreadBackend:
    """A small pool of daemon threads fed from a time-ordered queue. A worker takes every
    event due at once, up to ``EVENT_BATCH_SIZE``, and processes them as one batch
    (coalesced by object, see :func:`~stripe_integrations.webhooks.processing.process_batch`)."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = max(1, threads)
        self._heap: list[tuple[float, int, int]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._workers: list[threading.Thread] = []
        self._busy = 0

    def enqueue(self, event_id: int, delay: float = 0.0) -> None:
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), event_id))
            self._start()
            self._cv.notify()

    def _start(self) -> None:
        self._workers = [w for w in self._workers if w.is_alive()]
        while len(self._workers) < self.threads:
            worker = threading.Thread(target=self._run, name="stripe-events", daemon=True)
            worker.start()
            self._workers.append(worker)

    def _next(self) -> list[int]:
        """The events due now, up to a batch (waits until at least one is due)."""
        limit = max(1, get_config().event_batch_size)
        with self._cv:
            while True:
                if self._heap:
                    due = self._heap[0][0] - time.monotonic()
                    if due <= 0:
                        batch: list[int] = []
                        now = time.monotonic()
                        while self._heap and self._heap[0][0] <= now and len(batch) < limit:
                            event_id = heapq.heappop(self._heap)[2]
                            if event_id not in batch:
                                batch.append(event_id)
                        self._busy += len(batch)
                        return batch
                    self._cv.wait(due)
                else:
                    self._cv.wait()

    def _run(self) -> None:
        while True:
            batch = self._next()
            outcomes: list[Outcome] = []
            try:
                close_old_connections()
                outcomes = process_batch(batch)
            except Exception:
                log.exception("stripe events %s: processing crashed", batch)
            finally:
                connection.close()
                with self._cv:
                    self._busy -= len(batch)
                    self._cv.notify_all()
            for outcome in outcomes:
                if outcome.retry_in is not None:
                    self.enqueue(outcome.event_id, outcome.retry_in)

    def pending(self) -> int:
        """Events queued or running."""
        with self._cv:
            return len(self._heap) + self._busy

    def join(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or running (tests, the demo). False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._heap or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(min(remaining, 0.05))
        return True


class CeleryBackend:
    """Sends a ``stripe_integrations.drain_events`` Celery task, which processes the due
    events in batches (a burst of deliveries is drained by a few tasks, coalesced)."""

    def enqueue(self, event_id: int, delay: float = 0.0) -> None:
        from stripe_integrations.tasks import drain_events_task

        options: dict[str, object] = {"countdown": delay} if delay else {}
        queue = get_config().celery_queue
        if queue:
            options["queue"] = queue
        drain_events_task.apply_async(**options)


class DjangoTasksBackend:
    """Enqueues a drain of the due events on Django's task framework (Django 6.0+)."""

    def enqueue(self, event_id: int, delay: float = 0.0) -> None:
        from stripe_integrations.webhooks.django_tasks import enqueue

        enqueue(delay)


def receive(data: dict[str, Any], *, source: str = "webhook") -> tuple[Event | None, bool]:
    """Store a verified event once (:func:`~.processing.store_event`) and, when it is new,
    hand it to the configured backend once the surrounding transaction commits."""
    event, created = store_event(data, source=source)
    if event is not None:
        backend = get_backend()
        pk = event.pk
        transaction.on_commit(lambda: backend.enqueue(pk))
    return event, created


_thread_backend: ThreadBackend | None = None
_thread_lock = threading.Lock()


def thread_backend() -> ThreadBackend:
    """The process-wide thread backend."""
    global _thread_backend
    with _thread_lock:
        if _thread_backend is None:
            _thread_backend = ThreadBackend(get_config().event_worker_threads)
        return _thread_backend


def get_backend() -> EventBackend:
    """The backend named by ``STRIPE_CONFIG["EVENT_BACKEND"]``."""
    name = get_config().event_backend
    if name == "thread":
        return thread_backend()
    if name == "immediate":
        return ImmediateBackend()
    if name == "manual":
        return ManualBackend()
    if name == "celery":
        return CeleryBackend()
    if name == "django_tasks":
        return DjangoTasksBackend()
    raise ValueError(f"unknown EVENT_BACKEND {name!r}")
