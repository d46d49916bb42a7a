"""Runs the slices of one resource: fetcher threads, one writer.

``workers`` threads each follow one slice's chain of pages (HTTP only, no database) and put
every page on a bounded queue; the calling thread takes pages off the queue and hands them to
a :class:`Sink` in batches (several pages in one transaction when they wait in the queue).
A chain that still has pages while a worker is idle splits its slice (see
:mod:`.slices`). Memory is bounded by the queue, whatever the account size.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from stripe_integrations.backfill import collector
from stripe_integrations.backfill.fetcher import Fetcher
from stripe_integrations.backfill.pages import Page, fetch_page
from stripe_integrations.backfill.registry import Resource
from stripe_integrations.backfill.slices import PAGE_SIZE, Slice
from stripe_integrations.sync.upsert import Plan


@dataclass
class PageResult:
    """A fetched page with the state of its slice after it, and slices split off by it."""

    slice: Slice
    page: Page
    new_slices: list[Slice] = field(default_factory=list)
    #: The page's writes, mapped in the fetcher thread when the sink wants them.
    plan: Plan | None = None


class Sink(Protocol):
    """Where pages go: the database (sync), nowhere (dry run), a comparison (reconcile).

    A sink with a true ``wants_plans`` attribute receives each page with its
    :class:`~stripe_integrations.sync.upsert.Plan`, mapped by the fetcher thread while the
    writer waits for the database.
    """

    def write(self, resource: Resource, results: list[PageResult]) -> None:
        """Handle pages in fetch order (those of one slice in chain order)."""


@dataclass
class ResourceStats:
    """The outcome of one resource's run."""

    resource: str
    objects: int = 0
    pages: int = 0
    slices: int = 0
    slices_done: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    skipped: str | None = None

    @property
    def rate(self) -> float:
        """Objects per second."""
        return self.objects / self.seconds if self.seconds > 0 else 0.0


class Progress(Protocol):
    """Receives the state of a run after every batch written."""

    def start(self, resource: str) -> None:
        """A resource begins."""

    def update(self, stats: ResourceStats, slices: dict[Any, Slice]) -> None:
        """A batch was written."""

    def finish(self, stats: ResourceStats) -> None:
        """A resource ended (done, interrupted, or failed)."""


class _Error:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


class Engine:
    """Fetches the slices of ``resource`` concurrently and feeds ``sink`` in one thread.

    ``dispatch``, when given, receives the slices split off instead of running them here
    (after the batch that recorded them was written): the Celery backend sends them as tasks.
    ``idle`` then says how many more slices are wanted.
    """

    def __init__(
        self,
        resource: Resource,
        fetcher: Fetcher,
        sink: Sink,
        *,
        workers: int = 4,
        batch_size: int = 1000,
        progress: Progress | None = None,
        dispatch: Callable[[list[Slice]], None] | None = None,
        idle: Callable[[], int] | None = None,
        stop: threading.Event | None = None,
        gc_threshold: int | None = None,
        writers: int = 1,
    ) -> None:
        self.resource = resource
        self.gc_threshold = gc_threshold
        self.fetcher = fetcher
        self.sink = sink
        self.workers = max(1, workers)
        self.batch_size = max(1, batch_size)
        self.progress = progress
        self.dispatch = dispatch
        self.idle_fn = idle
        self.external_stop = stop
        self._halt = threading.Event()
        self._cond = threading.Condition()
        self._work: deque[Slice] = deque()
        self._open = 0
        self._idle = 0
        self._remote_wanted = 0
        self._reserved = 0
        self._remaining: dict[Any, float] = {}
        # Writers run on their own connections; the Celery backend runs one per task.
        self.writers = 1 if dispatch is not None else max(1, min(writers, self.workers))
        # Each writer has its own queue (its lane). The fetchers keep fetching and mapping
        # while the writers wait for the database; memory stays flat: about three batches of
        # pages in all (two queued and one being written, with one writer), and one batch
        # more per writer beyond the second.
        pages_per_batch = max(1, self.batch_size // PAGE_SIZE)
        queued = max(1, 3 - self.writers) * pages_per_batch
        lane_size = max(
            2 * math.ceil(self.workers / self.writers), math.ceil(queued / self.writers)
        )
        self._lanes: list[queue.Queue[Any]] = [
            queue.Queue(maxsize=lane_size) for _ in range(self.writers)
        ]
        self._account_lock = threading.Lock()
        self._fetch_errors: list[BaseException] = []
        self._stats = ResourceStats(resource.name)
        self._started = 0.0
        self._requests0 = (0, 0, 0)
        self.slices: dict[Any, Slice] = {}
        self.planner = resource.planner if getattr(sink, "wants_plans", False) else None

    # -- fetcher threads ---------------------------------------------------------------------

    def _stopped(self) -> bool:
        return self._halt.is_set() or (
            self.external_stop is not None and self.external_stop.is_set()
        )

    def _next_slice(self) -> Slice | None:
        with self._cond:
            while not self._work and self._open > 0 and not self._stopped():
                self._idle += 1
                self._cond.wait(0.2)
                self._idle -= 1
            if self._stopped() or not self._work:
                return None
            return self._work.popleft()

    def _wanted(self, slc: Slice, page_size: int) -> int:
        """Slices wanted from ``slc`` now; the caller owns them until :meth:`_release`.

        Only chains with at least half the most work left of any chain give work away:
        splitting small chains multiplies slices, each ending with a partial page.
        """
        with self._cond:
            remaining = slc.remaining_pages(page_size)
            if slc.done:
                self._remaining.pop(slc.key, None)
                return 0
            self._remaining[slc.key] = remaining
            if self.idle_fn is not None:
                wanted, self._remote_wanted = self._remote_wanted, 0
                return wanted
            if remaining < 0.5 * max(self._remaining.values(), default=0.0):
                return 0
            spare = self._idle - len(self._work) - self._reserved
            needed = self.fetcher.concurrency_needed()
            if needed:  # more chains than the rate can feed only add partial pages
                busy = self.workers - self._idle
                spare = min(spare, needed - busy - len(self._work) - self._reserved)
            wanted = max(0, spare)
            self._reserved += wanted
            return wanted

    def _min_piece(self) -> float:
        """Smallest piece worth splitting off: a page when most workers are idle (the end of
        a run), else the default."""
        with self._cond:
            tail = self.idle_fn is None and self._idle > self.workers // 2
        return 1.0 if tail else 0.0

    def _release(self, wanted: int) -> None:
        with self._cond:
            if self.idle_fn is None:
                self._reserved -= wanted

    def _refresh_wanted(self) -> None:
        if self.idle_fn is not None:
            wanted = max(0, self.idle_fn())
            with self._cond:
                self._remote_wanted = wanted

    def _put(self, item: Any, lane: queue.Queue[Any]) -> bool:
        while not self._stopped():
            try:
                lane.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _chain(self, slc: Slice, lane: queue.Queue[Any]) -> None:
        page_size = self.resource.customer_page_size if self.resource.per_customer else PAGE_SIZE
        while not self._stopped():
            page = fetch_page(self.fetcher, self.resource, slc)
            slc.advance(
                page.listed,
                len(page.objects),
                page.last_id,
                page.last_created,
                page.first_created,
                page.has_more,
            )
            new: list[Slice] = []
            wanted = self._wanted(slc, page_size)
            if wanted:
                new = slc.split(wanted, page_size, self._min_piece())
                with self._cond:
                    self._remaining[slc.key] = slc.remaining_pages(page_size)
            plan = None
            if self.planner and page.objects:
                plan = self.planner(page.objects, fetched_at=page.fetched_at)
            if not self._put(PageResult(slc.copy(), page, [n.copy() for n in new], plan), lane):
                self._release(wanted)
                return
            with self._cond:
                if new and self.dispatch is None:
                    self._work.extend(new)
                    self._open += len(new)
                if slc.done:
                    self._open -= 1
                self._cond.notify_all()
            self._release(wanted)
            if slc.done:
                return

    def _worker(self, lane: queue.Queue[Any]) -> None:
        """Follow slices, one at a time, to their end. All the pages of a slice go to one
        lane, in chain order: its writer commits them (and the slice's checkpoints) in order."""
        try:
            while True:
                slc = self._next_slice()
                if slc is None:
                    break
                self._chain(slc, lane)
        except BaseException as exc:  # raised by the run, after what was fetched is written
            with self._cond:
                self._fetch_errors.append(exc)
            self._halt.set()
            lane.put(_Error(exc))
        finally:
            lane.put(_DONE)

    # -- the writer (calling thread) ---------------------------------------------------------

    def run(self, slices: list[Slice]) -> ResourceStats:
        """Run every slice to its end; returns the counts. Pages already written stay
        written when a fetch or the sink fails (the error is raised after them) or the run
        is interrupted. The garbage collector is :func:`~.collector.paced` meanwhile."""
        with collector.paced(self.gc_threshold):
            return self._run(slices)

    def _run(self, slices: list[Slice]) -> ResourceStats:
        stats = ResourceStats(self.resource.name, slices=len(slices))
        pending = [s for s in slices if not s.done]
        for s in slices:
            self.slices[s.key] = s.copy()
        stats.slices_done = len(slices) - len(pending)
        requests0 = _snapshot(self.fetcher)
        started = time.monotonic()
        # What the writers update (the calling thread's and the writer threads').
        self._stats, self._started, self._requests0 = stats, started, requests0
        if self.progress:
            self.progress.start(self.resource.name)
        self._work.extend(pending)
        self._open = len(pending)
        fetchers = self.workers if pending else 0
        threads = [
            threading.Thread(
                target=self._worker,
                args=(self._lanes[i % self.writers],),
                name=f"stripe-sync-{i}",
                daemon=True,
            )
            for i in range(fetchers)
        ]
        # How many fetchers feed each lane; lanes without any get no writer.
        feeding = [len(range(lane, fetchers, self.writers)) for lane in range(self.writers)]
        self._refresh_wanted()
        for thread in threads:
            thread.start()
        errors: list[BaseException] = []
        writers = [
            threading.Thread(
                target=self._write_lane_thread,
                args=(lane, feeding[lane], errors),
                name=f"stripe-sync-writer-{lane}",
                daemon=True,
            )
            for lane in range(1, self.writers)
            if feeding[lane]
        ]
        try:
            for writer in writers:
                writer.start()
            error = self._write_lane(0, feeding[0])
            if error is not None:
                errors.insert(0, error)
            for writer in writers:
                while writer.is_alive():
                    writer.join(timeout=0.2)
        except BaseException:
            stats.interrupted = True
            raise
        finally:
            self._halt.set()
            self._join(threads + writers)
            stats.seconds = time.monotonic() - started
            _apply(stats, self.fetcher, requests0)
            errors += [e for e in self._fetch_errors if e not in errors]
            if errors or stats.slices_done < stats.slices:
                stats.interrupted = True
            if self.progress:
                self.progress.finish(stats)
        if errors:
            raise errors[0]
        return stats

    def _write_lane_thread(self, lane: int, running: int, errors: list[BaseException]) -> None:
        """A writer of its own (its own database connection, closed when it ends)."""
        from django.db import connections

        try:
            error = self._write_lane(lane, running)
        except BaseException as exc:
            error = exc
        finally:
            connections.close_all()
        if error is not None:
            self._halt.set()
            errors.append(error)

    def _write_lane(self, lane: int, running: int) -> BaseException | None:
        """Write the pages of one lane in batches until its fetchers are done; the first
        error of a fetcher of the lane, if any (the pages before it are written)."""
        stats, started, requests0 = self._stats, self._started, self._requests0
        error: BaseException | None = None
        try:
            while running:
                batch, running, error = self._collect(running, self._lanes[lane])
                if batch:
                    self.sink.write(self.resource, batch)
                    with self._account_lock:
                        self._account(batch, stats)
                        if self.dispatch is not None:
                            split = [n for result in batch for n in result.new_slices]
                            if split:
                                self.dispatch(split)
                            self._refresh_wanted()
                        stats.seconds = time.monotonic() - started
                        _apply(stats, self.fetcher, requests0)
                        if self.progress:
                            self.progress.update(stats, self.slices)
                if error is not None:
                    self._halt.set()
                    break
        except BaseException:
            self._halt.set()
            raise
        return error

    def _join(self, threads: list[threading.Thread], timeout: float = 5.0) -> None:
        """Wait for the fetchers and writers to leave (draining the lanes so none blocks)."""
        deadline = time.monotonic() + timeout
        for thread in threads:
            while thread.is_alive() and time.monotonic() < deadline:
                for lane in self._lanes:
                    try:
                        while True:
                            lane.get_nowait()
                    except queue.Empty:
                        pass
                thread.join(timeout=0.05)

    def _collect(
        self, running: int, lane: queue.Queue[Any]
    ) -> tuple[list[PageResult], int, BaseException | None]:
        """Wait for a page, then take the pages already queued, up to ``batch_size`` objects.
        Once the run is halted, an empty lane ends the wait: its fetchers are leaving."""
        batch: list[PageResult] = []
        size = 0
        error: BaseException | None = None
        block = True
        while running and size < self.batch_size:
            try:
                item = lane.get(timeout=0.2) if block else lane.get_nowait()
            except queue.Empty:
                if batch or not block:
                    break
                if self._halt.is_set():
                    return batch, 0, error
                continue
            if item is _DONE:
                running -= 1
            elif isinstance(item, _Error):
                error = error or item.exc
            else:
                batch.append(item)
                size += max(1, len(item.page.objects))
                block = False
        return batch, running, error

    def _account(self, batch: list[PageResult], stats: ResourceStats) -> None:
        for result in batch:
            stats.pages += 1
            stats.objects += len(result.page.objects)
            for new in result.new_slices:
                # Another lane may have written pages of the new slice already.
                self.slices.setdefault(new.key, new)
                stats.slices += 1
            self.slices[result.slice.key] = result.slice
            if result.slice.done:
                stats.slices_done += 1


def _snapshot(fetcher: Fetcher) -> tuple[int, int, int]:
    s = fetcher.stats
    return (s.requests, s.retries, s.throttled)


def _apply(stats: ResourceStats, fetcher: Fetcher, base: tuple[int, int, int]) -> None:
    now = _snapshot(fetcher)
    stats.requests, stats.retries, stats.throttled = (a - b for a, b in zip(now, base, strict=True))
