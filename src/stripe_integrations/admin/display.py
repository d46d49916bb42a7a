"""How the admin shows mirrored values: money, JSON, links, and text with secrets redacted."""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString

from stripe_integrations.conf import get_config
from stripe_integrations.money import to_major_units
from stripe_integrations.sync.mapping import scrubbed

#: Shapes of Stripe secrets: API keys, webhook signing secrets, client secrets of intents.
SECRET_PATTERN = re.compile(
    r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]+|whsec_[0-9A-Za-z]+|[0-9A-Za-z]+_secret_[0-9A-Za-z]+"
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with the configured API key and webhook secrets, and anything shaped like a
    Stripe secret, replaced by ``[redacted]``."""
    config = get_config()
    for secret in (config.api_key, *config.webhook_secrets):
        if secret:
            text = text.replace(secret, REDACTED)
    return SECRET_PATTERN.sub(REDACTED, text)


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
