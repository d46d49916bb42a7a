"""The backfill's rate limit is the account's: see :mod:`stripe_integrations.ratelimit`.

Kept for the names it used to hold.
"""

from __future__ import annotations

from stripe_integrations.ratelimit import DEFAULT_RATES, TokenBucket, configured_rate

__all__ = ["DEFAULT_RATES", "TokenBucket", "configured_rate"]
