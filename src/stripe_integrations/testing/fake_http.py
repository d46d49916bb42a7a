"""HTTP-level pieces of :class:`~.fake.FakeStripe`: headers, recorded requests, queued
failures and stored idempotent responses."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Default code and message of an injected failure, by status.
INJECTED_ERRORS: dict[int, tuple[str | None, str]] = {
    400: (None, "Invalid request."),
    401: (None, "Invalid API Key provided."),
    402: ("card_declined", "Your card was declined."),
    404: ("resource_missing", "No such resource."),
    409: (
        "lock_timeout",
        "This object cannot be accessed right now because another API request or Stripe "
        "process is currently accessing it.",
    ),
    429: (
        "rate_limit",
        "Request rate limit exceeded. Learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
    ),
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received (``status`` 0: an injected connection error)."""

    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    stripe_version: str | None
    replayed: bool = False
    status: int = 200
    request_id: str | None = None


class Headers(Mapping[str, str]):
    """HTTP headers with case-insensitive look-ups (the SDK reads both spellings)."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for key, value in (items or {}).items():
            self[key] = value

    def __setitem__(self, key: str, value: str) -> None:
        self._items[key.lower()] = (key, value)

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass
class Failure:
    """A failure queued by :meth:`FakeStripe.fail_next`."""

    status: int
    remaining: int
    path: str | None
    method: str | None
    code: str | None
    message: str | None
    connection_error: bool
    should_retry: bool | None
    retry_after: float | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether this failure applies to ``method path`` and is not used up."""
        return (
            self.remaining > 0
            and (self.method is None or self.method.upper() == method)
            and (self.path is None or fnmatch.fnmatchcase(path, self.path))
        )


@dataclass(frozen=True)
class SavedResponse:
    """The first response to an idempotency key."""

    method: str
    path: str
    params: dict[str, Any]
    body: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
