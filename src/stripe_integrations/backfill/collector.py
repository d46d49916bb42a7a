"""The pace of Python's cyclic garbage collector while a backfill runs.

A backfill decodes pages of JSON into millions of dicts and lists that live a few seconds (in
the queue between the fetchers and the writer), then die by reference counting. None of them
is in a reference cycle, yet with the default threshold (a collection every 700 net new
container objects) the collector runs after every few objects decoded, and the pages waiting
in the queue are promoted and scanned again by the older generations. Measured on
``bench/ingest.py --scale 0.1``: 1.9 s of a 9.8 s run went to collections, about a quarter of
the process's CPU; with a threshold of 50,000, 0.2 s.

:func:`paced` raises the first generation's threshold for the length of a run, process-wide
(the collector has no other scope), and puts the previous one back when the last concurrent
run ends. Cycles are still collected, 50,000 container objects apart instead of 700: a few
megabytes at most. ``STRIPE_CONFIG["SYNC_GC_THRESHOLD"] = 0`` leaves the collector alone.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: The first generation's threshold during a backfill (Python's default is 700).
DEFAULT_THRESHOLD = 50_000

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None
_applied = 0


def configured_threshold() -> int:
    """``STRIPE_CONFIG["SYNC_GC_THRESHOLD"]``, else :data:`DEFAULT_THRESHOLD` (0: no change)."""
    from stripe_integrations.conf import raw_settings

    value = raw_settings().get("SYNC_GC_THRESHOLD")
    if value is None:
        return DEFAULT_THRESHOLD
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("STRIPE_CONFIG['SYNC_GC_THRESHOLD'] must be an integer >= 0")
    return value


@contextmanager
def paced(threshold: int | None = None) -> Iterator[None]:
    """Within the block, the collector's first threshold is at least ``threshold`` (default
    :func:`configured_threshold`); nothing changes for 0, or when the collector is disabled.
    Blocks may nest and overlap across threads: the threshold found by the first is restored
    when the last ends, unless someone changed it meanwhile."""
    global _active, _saved, _applied
    wanted = configured_threshold() if threshold is None else threshold
    if wanted <= 0 or not gc.isenabled():
        yield
        return
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            _applied = max(wanted, _saved[0])
            gc.set_threshold(_applied, _saved[1], _saved[2])
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                if gc.get_threshold()[0] == _applied:
                    gc.set_threshold(*_saved)
                _saved = None
