"""Deterministic idempotency keys: the same logical operation always sends the same key, so
a retry or a concurrent duplicate cannot create a second object in Stripe."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from stripe_integrations.conf import get_config

MAX_LENGTH = 255


def fingerprint(value: Any) -> str:
    """A short stable hash of JSON-like data (key order does not matter)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def idempotency_key(purpose: str, *parts: Any) -> str:
    """``<prefix>:<purpose>:<part>:<part>...``; hashed down when longer than Stripe allows."""
    prefix = get_config().idempotency_key_prefix
    key = ":".join([prefix, purpose, *(str(p) for p in parts)])
    if len(key) > MAX_LENGTH:
        key = f"{prefix}:{purpose}:{hashlib.sha256(key.encode()).hexdigest()}"
    return key
