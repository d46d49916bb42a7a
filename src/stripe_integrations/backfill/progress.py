"""Progress of a backfill: a redrawn line per resource on a terminal, a plain line every
``interval`` seconds otherwise (log files, CI, cron)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

from stripe_integrations.backfill.engine import ResourceStats
from stripe_integrations.backfill.slices import Slice


def estimate_remaining(slices: Iterable[Slice]) -> float:
    """Objects still to come, assuming each slice continues at the density it has shown
    (slices not started yet at the average density seen so far)."""
    items = list(slices)
    seen = sum(s.objects for s in items)
    covered = 0
    for s in items:
        if s.done:
            covered += s.lt - s.gte
        elif s.position is not None:
            covered += s.lt - s.position
    average = seen / covered if covered > 0 else 0.0
    remaining = 0.0
    for s in items:
        if s.done:
            continue
        if s.position is None:
            remaining += average * (s.lt - s.gte)
        else:
            density = s.objects / max(1, s.lt - s.position)
            remaining += density * max(0, s.position - s.gte)
    return remaining


def eta(stats: ResourceStats, remaining: float) -> str:
    """``~1:23`` from the rate so far, ``?`` while the estimate means little (no rate yet, or
    a range not explored enough to guess from)."""
    if stats.rate <= 0 or remaining > 100 * max(stats.objects, 1000):
        return "?"
    return "~" + format_duration(remaining / stats.rate)


def format_duration(seconds: float) -> str:
    """``1:02:03`` or ``2:03``."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe(stats: ResourceStats, slices: dict[Any, Slice] | None = None) -> str:
    """One line about a resource's run."""
    text = (
        f"{stats.resource}: {stats.objects:,} objects, {stats.rate:,.0f}/s, "
        f"{stats.requests:,} requests"
    )
    if stats.retries:
        text += f" ({stats.retries:,} retried, {stats.throttled:,} rate-limited)"
    text += f", slices {stats.slices_done}/{stats.slices}"
    if slices is not None:
        text += f", ETA {eta(stats, estimate_remaining(slices.values()))}"
    return text


class ConsoleProgress:
    """Draws progress on ``stream``: a redrawn bar when it is a terminal, else a line every
    ``interval`` seconds and one at the end of each resource."""

    def __init__(
        self, stream: TextIO | None = None, *, tty: bool | None = None, interval: float = 30.0
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = 0.2 if self.tty else interval
        self._last = 0.0

    def start(self, resource: str) -> None:
        """A resource begins."""
        self._last = time.monotonic()
        if not self.tty:
            self._write(f"{resource}: started\n")

    def update(self, stats: ResourceStats, slices: dict[Any, Slice]) -> None:
        """Redraw (terminal) or log (otherwise) when ``interval`` has passed."""
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        if self.tty:
            self._write("\r" + self._bar(stats, slices) + "\x1b[K")
        else:
            self._write(describe(stats, slices) + "\n")

    def finish(self, stats: ResourceStats) -> None:
        """The resource's last line."""
        state = " (interrupted)" if stats.interrupted else ""
        line = f"{describe(stats)} in {format_duration(stats.seconds)}{state}"
        self._write(("\r" + line + "\x1b[K\n") if self.tty else line + "\n")

    def _bar(self, stats: ResourceStats, slices: dict[Any, Slice]) -> str:
        remaining = estimate_remaining(slices.values())
        total = stats.objects + remaining
        fraction = stats.objects / total if total > 0 else 0.0
        width = 24
        filled = round(fraction * width)
        return (
            f"{stats.resource:<16} [{'#' * filled}{'.' * (width - filled)}] "
            f"{stats.objects:>10,} {stats.rate:>8,.0f}/s  ETA {eta(stats, remaining):<9} "
            f"slices {stats.slices_done}/{stats.slices}"
        )

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


class SilentProgress:
    """Shows nothing."""

    def start(self, resource: str) -> None:
        """Nothing."""

    def update(self, stats: ResourceStats, slices: dict[Any, Slice]) -> None:
        """Nothing."""

    def finish(self, stats: ResourceStats) -> None:
        """Nothing."""
