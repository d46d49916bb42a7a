from django.apps import AppConfig


class StripeIntegrationsConfig(AppConfig):
    """Registers the models, system checks and signal receivers, and redacts secrets from
    the records of the ``stripe`` and ``stripe_integrations`` loggers."""

    name = "stripe_integrations"
    label = "stripe_integrations"
    verbose_name = "Stripe"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from stripe_integrations import (
            checks,  # noqa: F401  (registers the checks)
            logs,
        )

        logs.install()
