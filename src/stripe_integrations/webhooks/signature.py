"""Stripe's webhook signature scheme: ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]``, an
HMAC-SHA256 of ``"{t}.{body}"`` with the endpoint secret.

Parsing never trusts the header: whatever its bytes, a header that does not verify ends in
:class:`SignatureError`, in bounded work (the header length, the timestamp's digits and the
number of ``v1`` values tried are capped).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable

from django.views.decorators.debug import sensitive_variables

#: Longest header parsed. Stripe's is about 150 characters (one ``v1`` per active secret).
MAX_HEADER_LENGTH = 1024
#: Most ``v1`` signatures compared; further ones are ignored.
MAX_SIGNATURES = 8
#: A Unix time in seconds: ASCII digits only (``str.isdigit`` accepts ``"²"``), at most 12.
TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
#: A ``v1`` value: the hex of a SHA-256.
SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")


class SignatureError(ValueError):
    """The signature header is missing, malformed, expired or matches no secret."""


@sensitive_variables("secret")
def compute_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex ``v1`` signature of ``payload`` at ``timestamp``."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


@sensitive_variables("secret")
def sign(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header value for ``payload`` (for tests and tools)."""
    body = payload.encode() if isinstance(payload, str) else payload
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={compute_signature(body, secret, ts)}"


def parse_header(header: str) -> tuple[int, list[str]]:
    """The timestamp and the ``v1`` signatures (at most :data:`MAX_SIGNATURES`, lower-case
    hex) of a header; ``SignatureError`` if malformed. Other keys (``v0``) are ignored."""
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError("Stripe-Signature header too long")
    if not header.isascii():
        raise SignatureError("malformed Stripe-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed Stripe-Signature header")
        if key == "t":
            if timestamp is not None or not TIMESTAMP_RE.fullmatch(value):
                raise SignatureError("malformed timestamp in Stripe-Signature header")
            timestamp = int(value)
        elif key == "v1" and len(signatures) < MAX_SIGNATURES and SIGNATURE_RE.fullmatch(value):
            signatures.append(value.lower())
    if timestamp is None:
        raise SignatureError("no timestamp in Stripe-Signature header")
    if not signatures:
        raise SignatureError("no v1 signature in Stripe-Signature header")
    return timestamp, signatures


@sensitive_variables("secrets", "secret", "expected")
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
        expected = compute_signature(payload, secret, timestamp).encode()
        # Both sides are ASCII bytes: compare_digest raises on non-ASCII str.
        if any(hmac.compare_digest(expected, given.encode()) for given in signatures):
            return timestamp
    raise SignatureError("no signature matches")
