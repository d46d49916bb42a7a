"""How the admin shows mirrored values: money, JSON, links, and text with secrets redacted."""

from __future__ import annotations

import json
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString

from stripe_integrations.money import to_major_units
from stripe_integrations.redaction import REDACTED, SECRET_PATTERN, redact
from stripe_integrations.sync.mapping import scrubbed

__all__ = [
    "REDACTED",
    "SECRET_PATTERN",
    "external_link",
    "money",
    "preformatted",
    "pretty_json",
    "redact",
]


def money(minor: int | None, currency: str | None) -> str | None:
    """An amount in minor units as ``"15.00 USD"`` (``"500 JPY"``); None when unknown."""
    if minor is None:
        return None
    if not currency:
        return str(minor)
    code = currency.lower()
    return f"{to_major_units(minor, code)} {code.upper()}"


def pretty_json(value: Any) -> SafeString:
    """``value`` as indented JSON in a ``<pre>``, escaped, client secrets and keys removed."""
    text = json.dumps(scrubbed(value), indent=2, ensure_ascii=False, default=str)
    return format_html('<pre class="si-json">{}</pre>', redact(text))


def preformatted(text: str | None) -> SafeString | None:
    """Multi-line text (a traceback) in a ``<pre>``, escaped and redacted."""
    if not text:
        return None
    return format_html('<pre class="si-text">{}</pre>', redact(text))


def external_link(url: str | None, label: str = "open in Stripe") -> SafeString | None:
    """A link that opens in a new tab without giving it a handle on the admin."""
    if not url:
        return None
    return format_html('<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', url, label)
