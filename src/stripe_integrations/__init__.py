"""Mirror a Stripe account into Django models, with a small, safe API over it."""

__version__ = "0.1.0"
