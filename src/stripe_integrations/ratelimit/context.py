"""Which class of work the current request belongs to: interactive (the default) or
background. A :class:`contextvars.ContextVar`, so it follows the code that set it, crosses
into ``asyncio`` tasks, and reaches a new thread only when the thread is started in a copy of
the context (``contextvars.copy_context().run``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone

_background: ContextVar[bool] = ContextVar("stripe_integrations_background", default=False)
_caller_retries: ContextVar[bool] = ContextVar("stripe_integrations_caller_retries", default=False)
_sent_at: ContextVar[datetime | None] = ContextVar("stripe_integrations_sent_at", default=None)


def mark_sent() -> None:
    """Record that the current code's request is being sent now (the limiter let it through)."""
    _sent_at.set(timezone.now())


def sent_at(since: datetime) -> datetime:
    """When the current code's last request was sent, if after ``since`` (taken just before
    it was asked for), else ``since``. The limiter and 429 pauses may hold a request for
    seconds: the object Stripe returns is as of its sending, which is what the freshness rule
    must compare."""
    sent = _sent_at.get()
    return sent if sent is not None and sent >= since else since


@contextmanager
def background() -> Iterator[None]:
    """Mark the Stripe requests sent inside the block as background work: they use the
    account's rate minus the reserved share, so interactive calls never wait behind them."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def in_background() -> bool:
    """Whether the current code runs inside :func:`background`."""
    return _background.get()


@contextmanager
def caller_retries() -> Iterator[None]:
    """The caller retries 429s itself (the backfill's fetcher, which counts and paces its
    retries): the HTTP client only takes a token per request and returns a 429 as it is."""
    token = _caller_retries.set(True)
    try:
        yield
    finally:
        _caller_retries.reset(token)


def retries_by_caller() -> bool:
    """Whether the current code runs inside :func:`caller_retries`."""
    return _caller_retries.get()
