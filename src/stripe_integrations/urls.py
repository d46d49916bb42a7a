"""``path("stripe/", include("stripe_integrations.urls"))`` exposes ``stripe/webhook/``."""

from django.urls import path

from stripe_integrations.webhooks.views import WebhookView

app_name = "stripe_integrations"

urlpatterns = [path("webhook/", WebhookView.as_view(), name="webhook")]
