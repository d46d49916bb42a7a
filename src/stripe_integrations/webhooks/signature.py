"""Stripe's webhook signature scheme: ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]``, an
HMAC-SHA256 of ``"{t}.{body}"`` with the endpoint secret."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable


class SignatureError(ValueError):
    """The signature header is missing, malformed, expired or matches no secret."""


def compute_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex ``v1`` signature of ``payload`` at ``timestamp``."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header value for ``payload`` (for tests and tools)."""
    body = payload.encode() if isinstance(payload, str) else payload
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={compute_signature(body, secret, ts)}"


def parse_header(header: str) -> tuple[int, list[str]]:
    """The timestamp and the ``v1`` signatures of a header; ``SignatureError`` if malformed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed Stripe-Signature header")
        if key == "t":
            if not value.isdigit():
                raise SignatureError("malformed timestamp in Stripe-Signature header")
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("no timestamp in Stripe-Signature header")
    if not signatures:
        raise SignatureError("no v1 signature in Stripe-Signature header")
    return timestamp, signatures


def verify(
    payload: bytes,
    header: str | None,
    secrets: Iterable[str],
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> int:
    """Check ``header`` against every secret (rotation) and the timestamp against
    ``tolerance`` seconds in either direction. Returns the signed timestamp."""
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    timestamp, signatures = parse_header(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    for secret in secrets:
        expected = compute_signature(payload, secret, timestamp)
        if any(hmac.compare_digest(expected, given) for given in signatures):
            return timestamp
    raise SignatureError("no signature matches")
