"""A webhook handler of the project's own, run after the library's built-in ones.

It stands for a call to another system (here a pretend CRM) that can be down. While a
customer's metadata says ``crm=down`` the handler raises: the event is stored as failed,
with the error and the traceback, and it is retried (``EVENT_MAX_ATTEMPTS``) or, once the
cause is gone, retried from the admin ("Retry selected events").
"""

from __future__ import annotations

from stripe_integrations.models import Customer, Event
from stripe_integrations.webhooks import handler


class CRMUnavailable(RuntimeError):
    """The pretend CRM could not be reached."""


@handler("customer.updated")
def tell_the_crm(event: Event) -> None:
    """Send the updated customer to the CRM. The built-in handler has already re-fetched the
    customer from Stripe in this transaction, so the row is current."""
    customer_id = event.data_object.get("id")
    customer = Customer.objects.filter(stripe_id=customer_id).first()
    if customer is None:
        return
    if (customer.metadata or {}).get("crm") == "down":
        raise CRMUnavailable(
            f"the CRM is down for {customer_id} (metadata crm=down): "
            "clear it in Stripe, then retry this event"
        )
