"""System checks for ``settings.STRIPE_CONFIG`` (``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks

from stripe_integrations.conf import API_VERSION_RE, EVENT_BACKENDS, get_config, raw_settings


@checks.register("stripe_integrations")
def check_stripe_config(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report a missing or malformed ``STRIPE_CONFIG``."""
    errors: list[checks.CheckMessage] = []
    if not isinstance(getattr(settings, "STRIPE_CONFIG", None), dict):
        return [
            checks.Error(
                "settings.STRIPE_CONFIG is missing or not a dict.",
                hint='Add STRIPE_CONFIG = {"API_KEY": "sk_test_..."} to your settings.',
                id="stripe_integrations.E001",
            )
        ]
    raw = raw_settings()
    config = get_config()
    if not raw.get("API_KEY"):
        errors.append(
            checks.Error(
                'STRIPE_CONFIG["API_KEY"] is missing.',
                hint="Use a secret (sk_) or restricted (rk_) key from the Stripe dashboard.",
                id="stripe_integrations.E002",
            )
        )
    elif not config.api_key.startswith(("sk_test_", "sk_live_", "rk_test_", "rk_live_")):
        errors.append(
            checks.Error(
                'STRIPE_CONFIG["API_KEY"] is not a secret or restricted key.',
                hint="It must start with sk_test_, sk_live_, rk_test_ or rk_live_ "
                "(a publishable pk_ key cannot call the API).",
                id="stripe_integrations.E003",
            )
        )
    if config.livemode and settings.DEBUG:
        errors.append(
            checks.Warning(
                'STRIPE_CONFIG["API_KEY"] is a live key while DEBUG is on.',
                hint="Use a test key in development.",
                id="stripe_integrations.W001",
            )
        )
    if not API_VERSION_RE.match(config.api_version):
        errors.append(
            checks.Error(
                f'STRIPE_CONFIG["API_VERSION"] {config.api_version!r} is not a Stripe API version.',
                hint="Leave it unset to use the pinned version, or use e.g. '2026-10-28.endive'.",
                id="stripe_integrations.E004",
            )
        )
    secrets = raw.get("WEBHOOK_SECRETS")
    if secrets is not None and (
        isinstance(secrets, str)
        or not all(isinstance(s, str) and s.startswith("whsec_") for s in secrets)
    ):
        errors.append(
            checks.Error(
                'STRIPE_CONFIG["WEBHOOK_SECRETS"] must be a list of whsec_ secrets.',
                id="stripe_integrations.E005",
            )
        )
    try:
        apps.get_model(config.subscriber_model)
    except (LookupError, ValueError):
        errors.append(
            checks.Error(
                f'STRIPE_CONFIG["SUBSCRIBER_MODEL"] {config.subscriber_model!r} is not an '
                "installed model.",
                id="stripe_integrations.E006",
            )
        )
    if not config.webhook_secrets:
        errors.append(
            checks.Warning(
                'STRIPE_CONFIG["WEBHOOK_SECRETS"] is empty: the webhook endpoint refuses every '
                "delivery.",
                hint="Add the signing secret (whsec_...) of your endpoint from the dashboard "
                "or the Stripe CLI.",
                id="stripe_integrations.W003",
            )
        )
    if config.event_backend not in EVENT_BACKENDS:
        errors.append(
            checks.Error(
                f'STRIPE_CONFIG["EVENT_BACKEND"] {config.event_backend!r} is unknown.',
                hint=f"Use one of {', '.join(EVENT_BACKENDS)}.",
                id="stripe_integrations.E007",
            )
        )
    elif config.event_backend == "celery":
        try:
            import celery  # noqa: F401
        except ImportError:
            errors.append(
                checks.Error(
                    'STRIPE_CONFIG["EVENT_BACKEND"] is "celery" but Celery is not installed.',
                    hint="pip install 'django-stripe-integrations[celery]'",
                    id="stripe_integrations.E008",
                )
            )
    elif config.event_backend == "django_tasks":
        try:
            import django.tasks  # noqa: F401
        except ImportError:
            errors.append(
                checks.Error(
                    'STRIPE_CONFIG["EVENT_BACKEND"] is "django_tasks", which needs Django 6.0+.',
                    id="stripe_integrations.E009",
                )
            )
    if config.event_max_attempts < 1:
        errors.append(
            checks.Error(
                'STRIPE_CONFIG["EVENT_MAX_ATTEMPTS"] must be at least 1.',
                id="stripe_integrations.E010",
            )
        )
    if config.event_lease_seconds < 1:
        errors.append(
            checks.Error(
                'STRIPE_CONFIG["EVENT_LEASE_SECONDS"] must be at least 1.',
                hint="It is how long a worker holds an event before another may take it over.",
                id="stripe_integrations.E011",
            )
        )
    for key, value in (
        ("EVENT_BATCH_SIZE", config.event_batch_size),
        ("EVENT_FETCH_CONCURRENCY", config.event_fetch_concurrency),
    ):
        if value < 1:
            errors.append(
                checks.Error(
                    f'STRIPE_CONFIG["{key}"] must be at least 1.',
                    id="stripe_integrations.E012",
                )
            )
    errors.extend(_rate_limit_errors(config.livemode, config.rate_limit_reserved_share))
    for key in config.unknown_keys:
        errors.append(
            checks.Warning(
                f"STRIPE_CONFIG has an unknown key {key!r}.",
                hint="Check its spelling against the settings page of the docs.",
                id="stripe_integrations.W002",
            )
        )
    return errors


def _rate_limit_errors(livemode: bool, share: float) -> list[checks.CheckMessage]:
    from stripe_integrations.ratelimit import configured_rate

    errors: list[checks.CheckMessage] = []
    try:
        configured_rate(livemode)
    except ValueError as exc:
        errors.append(
            checks.Error(
                str(exc),
                hint='A number of requests per second, or {"live": 90, "test": 22}.',
                id="stripe_integrations.E013",
            )
        )
    if not 0 <= share < 1:
        errors.append(
            checks.Error(
                'STRIPE_CONFIG["RATE_LIMIT_RESERVED_SHARE"] must be at least 0 and below 1.',
                hint="It is the share of the rate background work leaves to interactive calls.",
                id="stripe_integrations.E014",
            )
        )
    return errors
