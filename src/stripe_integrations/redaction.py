"""Secrets out of text: the configured API key and webhook secrets, and anything shaped like a
Stripe secret (secret and restricted keys, webhook signing secrets, client secrets of
intents and Checkout sessions), replaced by ``[redacted]``. Used by the admin and the logs."""

from __future__ import annotations

import json
import re

from django.utils.html import escape

REDACTED = "[redacted]"

#: Shapes of Stripe secrets: API keys (``sk_``/``rk_``, and ephemeral ``ek_``), webhook
#: signing secrets, client secrets (``pi_..._secret_...``, ``seti_...``, ``cs_...``).
SECRET_PATTERN = re.compile(
    r"(?:sk|rk|ek)_(?:live|test)_[0-9A-Za-z_]+"
    r"|whsec_[0-9A-Za-z_+/=]+"
    r"|[0-9A-Za-z]+_secret_[0-9A-Za-z_]+"
)

#: The value of a ``client_secret`` however it is written: JSON (``"client_secret": "..."``,
#: also with escaped quotes), a form parameter (``client_secret=...``) or a repr.
CLIENT_SECRET_VALUE = re.compile(
    r"""(client_secret\\?["']?\s*[:=]\s*\\?["']?)(?!null\b|None\b)[^"'\\\s,&}]+"""
)


def configured_secrets() -> tuple[str, ...]:
    """The API key and webhook secrets of ``STRIPE_CONFIG`` (none before settings load)."""
    from django.core.exceptions import ImproperlyConfigured

    from stripe_integrations.conf import get_config

    try:
        config = get_config()
    except (ImproperlyConfigured, ValueError, TypeError):
        return ()
    return tuple(s for s in (config.api_key, *config.webhook_secrets) if s)


def redact(text: str) -> str:
    """``text`` with the configured secrets and every Stripe secret shape replaced by
    ``[redacted]``."""
    for secret in configured_secrets():
        value = str(secret)
        # As written, and as HTML or JSON would escape it.
        for form in dict.fromkeys((value, str(escape(value)), json.dumps(value)[1:-1])):
            text = text.replace(form, REDACTED)
    text = CLIENT_SECRET_VALUE.sub(lambda m: m.group(1) + REDACTED, text)
    return SECRET_PATTERN.sub(REDACTED, text)


def redacted_form(secret: str) -> str:
    """How a secret is shown: its kind kept (``sk_test_[redacted]``), its value not."""
    if not secret:
        return ""
    match = re.match(r"(?:(?:sk|rk|pk)_(?:live|test)_|whsec_)", secret)
    return (match.group(0) if match else "") + REDACTED
