"""Test helpers: :class:`FakeStripe`, an in-process fake of the Stripe API, and
:func:`fake_stripe`, which routes the library's client through one.

pytest users get a ``fake_stripe`` fixture with
``pytest_plugins = ["stripe_integrations.testing.fixtures"]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from stripe_integrations.testing.fake import API_VERSION, FakeStripe, RecordedRequest

__all__ = ["API_VERSION", "FakeStripe", "RecordedRequest", "fake_stripe"]


@contextmanager
def fake_stripe(**options: Any) -> Iterator[FakeStripe]:
    """A new :class:`FakeStripe` serving every request of ``get_client()`` while open.

    ``options`` are passed to :class:`FakeStripe` (``seed``, ``clock``, ...). Requests still
    go through the rate limiter, a fresh one at a rate no test reaches (wrap the block in
    :func:`stripe_integrations.ratelimit.override_limiter` to test pacing).
    """
    from stripe_integrations.client import override_http_client
    from stripe_integrations.ratelimit import TokenBucket, override_limiter

    fake = FakeStripe(**options)
    with override_http_client(fake), override_limiter(TokenBucket(UNLIMITED)):
        yield fake


#: The rate of the limiter :func:`fake_stripe` installs: requests never wait.
UNLIMITED = 1e9
