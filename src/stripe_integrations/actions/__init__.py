"""The public action API: ``from stripe_integrations.actions import StripeCustomer``."""

from stripe_integrations.actions.customer import StripeCustomer

__all__ = ["StripeCustomer"]
