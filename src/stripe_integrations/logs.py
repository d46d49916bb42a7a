"""Secrets out of log records: :class:`RedactSecrets`, and :func:`install`, which the app's
``ready()`` runs so that every record of the ``stripe`` SDK's logger and of the library's
loggers (``stripe_integrations`` and its children) is redacted when it is created."""

from __future__ import annotations

import logging
from typing import Any

from stripe_integrations.redaction import redact

#: Loggers whose records are redacted by :func:`install`, with their children.
LOGGER_NAMES = ("stripe", "stripe_integrations")


def redact_record(record: logging.LogRecord) -> None:
    """Redact ``record`` in place: its message (formatted with its arguments), the text of
    its exception and its stack. A record without a secret is left as it is."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging itself reports it
        return
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        if redact(text) != text:
            record.exc_text = redact(text)
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactSecrets(logging.Filter):
    """A logging filter that replaces the configured API key and webhook secrets, API keys
    (``sk_``/``rk_``), webhook secrets (``whsec_``) and client secrets (``pi_..._secret_...``,
    ``"client_secret": "..."``) by ``[redacted]``. It never drops a record.

    Put it on a handler to cover every record that handler writes, whatever its logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def _covered(name: str) -> bool:
    return any(name == n or name.startswith(f"{n}.") for n in LOGGER_NAMES)


def install() -> None:
    """Redact every record of :data:`LOGGER_NAMES` and their children as it is created.

    A filter on a logger only sees the records created on that very logger, not those of its
    children that propagate through it, and handlers belong to the project. So the library
    wraps the log record factory instead (once; the factory in place is kept and called)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_stripe_secrets", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _covered(record.name):
            redact_record(record)
        return record

    factory.redacts_stripe_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
