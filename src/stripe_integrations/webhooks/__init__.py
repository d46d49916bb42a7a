"""Receiving and applying Stripe events.

Register your own handlers with :func:`handler`::

    from stripe_integrations.webhooks import handler

    @handler("invoice.paid")
    def on_invoice_paid(event):
        ...
"""

from stripe_integrations.webhooks.registry import Registry, handler, registry

__all__ = ["Registry", "handler", "registry"]
