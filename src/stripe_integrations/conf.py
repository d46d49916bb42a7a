"""Typed access to ``settings.STRIPE_CONFIG``.

Every other module reads settings through :func:`get_config`; nothing else touches
``settings.STRIPE_CONFIG`` directly. The parsed value is cached and dropped whenever a test
changes settings (``setting_changed``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from stripe_integrations.redaction import redacted_form

#: The Stripe API version this release of the library maps. Sent on every request.
PINNED_API_VERSION = "2026-10-28.endive"

#: ``YYYY-MM-DD`` optionally followed by ``.name`` (Stripe's release train names).
API_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")

KNOWN_KEYS = frozenset(
    {
        "API_KEY",
        "API_VERSION",
        "API_BASE",
        "WEBHOOK_SECRETS",
        "SUBSCRIBER_MODEL",
        "MAX_NETWORK_RETRIES",
        "TIMEOUT",
        "IDEMPOTENCY_KEY_PREFIX",
        "WEBHOOK_TOLERANCE",
        "WEBHOOK_MAX_BODY_BYTES",
        "EVENT_BACKEND",
        "EVENT_MAX_ATTEMPTS",
        "EVENT_RETRY_DELAY",
        "EVENT_RETRY_MAX_DELAY",
        "EVENT_WORKER_THREADS",
        "EVENT_LEASE_SECONDS",
        "EVENT_BATCH_SIZE",
        "EVENT_FETCH_CONCURRENCY",
        "CELERY_QUEUE",
        "RATE_LIMIT",
        "RATE_LIMIT_RESERVED_SHARE",
        "RATE_LIMIT_REDIS_URL",
        "SYNC_RATE_LIMIT",
        "SYNC_GC_THRESHOLD",
    }
)

#: Where events are processed after the webhook view stored them.
EVENT_BACKENDS = ("thread", "immediate", "manual", "celery", "django_tasks")


class Secret(str):
    """A ``str`` whose ``repr`` hides it (``'sk_test_[redacted]'``): a secret held in a local
    variable or an attribute stays out of error pages, even with ``DEBUG = True``, and out of
    logged reprs. ``str()``, formatting and comparisons give the value itself."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(redacted_form(self))


@dataclass(frozen=True)
class StripeConfig:
    """The validated content of ``settings.STRIPE_CONFIG``. Its ``repr`` shows the API key
    and the webhook secrets redacted; the values themselves are :class:`Secret` strings."""

    api_key: str = ""
    api_version: str = PINNED_API_VERSION
    api_base: str | None = None
    webhook_secrets: tuple[str, ...] = ()
    subscriber_model: str = "auth.User"
    max_network_retries: int = 2
    timeout: float = 30.0
    idempotency_key_prefix: str = "si"
    webhook_tolerance: int = 300
    webhook_max_body_bytes: int = 1024 * 1024
    event_backend: str = "thread"
    event_max_attempts: int = 5
    event_retry_delay: float = 10.0
    event_retry_max_delay: float = 3600.0
    event_worker_threads: int = 1
    event_lease_seconds: float = 60.0
    event_batch_size: int = 100
    event_fetch_concurrency: int = 32
    celery_queue: str | None = None
    rate_limit_reserved_share: float = 0.2
    rate_limit_redis_url: str | None = field(default=None, repr=False)  # may hold a password
    unknown_keys: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_key", Secret(self.api_key))
        object.__setattr__(self, "webhook_secrets", tuple(Secret(s) for s in self.webhook_secrets))

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return f"{type(self).__name__}({shown})"

    @property
    def livemode(self) -> bool:
        """True for a live key (``sk_live_``/``rk_live_``), False otherwise."""
        return self.api_key.startswith(("sk_live_", "rk_live_"))


def raw_settings() -> dict[str, Any]:
    """The user's ``STRIPE_CONFIG`` dict as written (empty when unset)."""
    value = getattr(settings, "STRIPE_CONFIG", None)
    return dict(value) if isinstance(value, dict) else {}


def _as_secrets(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(str(v) for v in value if v)


@lru_cache(maxsize=1)
def get_config() -> StripeConfig:
    """Parse ``settings.STRIPE_CONFIG`` once; system checks report what is wrong with it."""
    raw = raw_settings()
    return StripeConfig(
        api_key=str(raw.get("API_KEY") or ""),
        api_version=str(raw.get("API_VERSION") or PINNED_API_VERSION),
        api_base=(str(raw["API_BASE"]).rstrip("/") if raw.get("API_BASE") else None),
        webhook_secrets=_as_secrets(raw.get("WEBHOOK_SECRETS")),
        subscriber_model=str(
            raw.get("SUBSCRIBER_MODEL") or getattr(settings, "AUTH_USER_MODEL", "auth.User")
        ),
        max_network_retries=int(raw.get("MAX_NETWORK_RETRIES", 2)),
        timeout=float(raw.get("TIMEOUT", 30.0)),
        idempotency_key_prefix=str(raw.get("IDEMPOTENCY_KEY_PREFIX") or "si"),
        webhook_tolerance=int(raw.get("WEBHOOK_TOLERANCE", 300)),
        webhook_max_body_bytes=int(raw.get("WEBHOOK_MAX_BODY_BYTES", 1024 * 1024)),
        event_backend=str(raw.get("EVENT_BACKEND") or "thread"),
        event_max_attempts=int(raw.get("EVENT_MAX_ATTEMPTS", 5)),
        event_retry_delay=float(raw.get("EVENT_RETRY_DELAY", 10.0)),
        event_retry_max_delay=float(raw.get("EVENT_RETRY_MAX_DELAY", 3600.0)),
        event_worker_threads=int(raw.get("EVENT_WORKER_THREADS", 1)),
        event_lease_seconds=float(raw.get("EVENT_LEASE_SECONDS", 60.0)),
        event_batch_size=int(raw.get("EVENT_BATCH_SIZE", 100)),
        event_fetch_concurrency=int(raw.get("EVENT_FETCH_CONCURRENCY", 32)),
        celery_queue=(str(raw["CELERY_QUEUE"]) if raw.get("CELERY_QUEUE") else None),
        rate_limit_reserved_share=float(raw.get("RATE_LIMIT_RESERVED_SHARE", 0.2)),
        rate_limit_redis_url=(
            str(raw["RATE_LIMIT_REDIS_URL"]) if raw.get("RATE_LIMIT_REDIS_URL") else None
        ),
        unknown_keys=tuple(sorted(set(raw) - KNOWN_KEYS)),
    )


def subscriber_model_label() -> str:
    """``app_label.ModelName`` of the model customers belong to (default ``AUTH_USER_MODEL``)."""
    raw = raw_settings()
    return str(raw.get("SUBSCRIBER_MODEL") or settings.AUTH_USER_MODEL)


@receiver(setting_changed)
def _reset_config(*, setting: str, **kwargs: Any) -> None:
    if setting == "STRIPE_CONFIG":
        get_config.cache_clear()
        from stripe_integrations import client, ratelimit

        client.reset_client()
        ratelimit.reset_limiter()
