"""Slices of the ``created`` range and how one is split while its chain of pages runs.

Stripe lists newest first with a cursor, so one chain of pages is serial. The range is cut
into half-open slices ``[gte, lt)`` fetched concurrently. A chain that has reached
``position`` (the ``created`` of its last object) has seen everything in
``(position, lt)`` and part of second ``position``; it can give away ``[gte, cut)`` for any
``gte < cut <= position`` and continue with ``gte = cut``, keeping its cursor: what is left
of second ``position`` stays in the chain, so nothing is fetched twice or skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

#: Stripe's page size limit.
PAGE_SIZE = 100
#: Pages a chain keeps for itself when it splits a range it has not explored (the next
#: pieces double in width).
KEEP_PAGES = 4
#: A range wider than this many times what the chain has seen is unexplored.
EXPLORE_FACTOR = 64
#: Smallest piece (in estimated pages) worth a slice of its own: each slice ends with a
#: partial page, so small pieces cost requests.
MIN_PIECE_PAGES = 3


@dataclass
class Slice:
    """The state of one slice's chain of pages."""

    resource: str
    livemode: bool
    gte: int
    lt: int
    cursor: str | None = None
    position: int | None = None
    done: bool = False
    objects: int = 0
    pages: int = 0
    #: Listed items seen by this process's chain (customers for a per-customer resource),
    #: and the ``created`` of the first one: the density estimate (not checkpointed).
    listed: int = 0
    top: int | None = None

    @property
    def key(self) -> tuple[str, bool, int]:
        """What identifies the slice in the checkpoint table (``lt`` never changes)."""
        return (self.resource, self.livemode, self.lt)

    def copy(self) -> Slice:
        """A snapshot of the current state."""
        return replace(self)

    def splittable(self) -> bool:
        """Whether part of the range not reached yet can be given away."""
        return not self.done and self.position is not None and self.position > self.gte

    def density(self) -> float:
        """Listed items per second seen so far by this chain (0 before the first page)."""
        if self.position is None:
            return 0.0
        if self.listed and self.top is not None:
            return self.listed / max(1, self.top - self.position + 1)
        return self.objects / max(1, self.lt - self.position)

    def advance(
        self,
        listed: int,
        objects: int,
        last_id: str | None,
        last_created: int | None,
        first_created: int | None,
        has_more: bool,
    ) -> None:
        """Record a page: ``listed`` items walked, ``objects`` to write, the last one."""
        self.pages += 1
        self.objects += objects
        self.listed += listed
        if self.top is None and first_created is not None:
            self.top = first_created
        if last_id is not None:
            self.cursor = last_id
            self.position = last_created
        self.done = not has_more

    def split(self, parts: int, page_size: int = PAGE_SIZE, min_pages: float = 0) -> list[Slice]:
        """Give away up to ``parts`` new slices below the chain; returns them.

        While the range left is much wider than what the chain has seen (the first pages of
        an account-wide slice), the chain keeps about :data:`KEEP_PAGES` pages' worth of
        seconds at the density seen so far and the new slices, going back in time, double
        in width, the last one reaching down to ``gte``. Otherwise the range left is cut in
        pieces of equal estimated size, none smaller than ``min_pages`` pages
        (:data:`MIN_PIECE_PAGES` by default; less at the end of a run, when workers are idle
        and a partial page costs less than waiting).
        """
        if parts < 1 or not self.splittable():
            return []
        assert self.position is not None
        cuts = split_points(
            self.gte,
            self.position,
            parts,
            self.density(),
            self.seen_span(),
            page_size,
            min_pages or MIN_PIECE_PAGES,
        )
        if not cuts:
            return []
        pieces = []
        upper = cuts[0]
        for lower in [*cuts[1:], self.gte]:
            pieces.append(Slice(self.resource, self.livemode, gte=lower, lt=upper))
            upper = lower
        self.gte = cuts[0]
        return pieces

    def remaining_pages(self, page_size: int = PAGE_SIZE) -> float:
        """Pages estimated below the chain's position (infinite while unexplored)."""
        if self.done or self.position is None:
            return 0.0
        span = self.position - self.gte + 1
        density = self.density()
        if density <= 0 or span > EXPLORE_FACTOR * self.seen_span():
            return math.inf
        return density * span / page_size

    def seen_span(self) -> int:
        """Seconds the chain's density was measured over."""
        if self.position is None:
            return 0
        if self.listed and self.top is not None:
            return max(1, self.top - self.position + 1)
        return max(1, self.lt - self.position)


def split_points(
    gte: int,
    position: int,
    parts: int,
    density: float,
    seen: int = 0,
    page_size: int = PAGE_SIZE,
    min_pages: float = MIN_PIECE_PAGES,
) -> list[int]:
    """Descending cut points in ``(gte, position]``, at most ``parts`` of them (see
    :meth:`Slice.split`)."""
    span = position - gte
    if span < 1 or parts < 1:
        return []
    if density <= 0:
        return _even_cuts(gte, position, parts + 1)
    if span > EXPLORE_FACTOR * max(1, seen):
        return _doubling_cuts(gte, position, parts, math.ceil(KEEP_PAGES * page_size / density))
    remaining_pages = density * (span + 1) / page_size
    pieces = min(parts + 1, int(remaining_pages // min_pages))
    return _even_cuts(gte, position, pieces) if pieces >= 2 else []


def _even_cuts(gte: int, position: int, pieces: int) -> list[int]:
    """Cuts dividing ``[gte, position]`` in ``pieces`` parts of (nearly) equal width."""
    width = (position + 1 - gte) / pieces
    cuts = {position + 1 - round(width * i) for i in range(1, pieces)}
    return sorted((c for c in cuts if gte < c <= position), reverse=True)


def _doubling_cuts(gte: int, position: int, parts: int, width: int) -> list[int]:
    cuts: list[int] = []
    edge = position + 1
    width = max(1, width)
    for _ in range(parts):
        cut = edge - width
        if cut <= gte:
            break
        cuts.append(cut)
        edge = cut
        width *= 2
    return cuts
