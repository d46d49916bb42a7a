"""pytest fixture ``fake_stripe``: enable with
``pytest_plugins = ["stripe_integrations.testing.fixtures"]``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stripe_integrations import testing
from stripe_integrations.testing.fake import FakeStripe

__all__ = ["fake_stripe"]


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """A fresh :class:`FakeStripe` that ``get_client()`` talks to for the test's duration."""
    with testing.fake_stripe() as fake:
        yield fake
