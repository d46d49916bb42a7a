from django.apps import AppConfig


class StripeIntegrationsConfig(AppConfig):
    """Registers the models, system checks and signal receivers."""

    name = "stripe_integrations"
    label = "stripe_integrations"
    verbose_name = "Stripe"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from stripe_integrations import checks  # noqa: F401  (registers the checks)
        from stripe_integrations.webhooks import handlers  # noqa: F401  (built-in handlers)
