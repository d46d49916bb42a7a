"""Build Stripe events and deliver them, signed, to the webhook endpoint in tests."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from django.test import Client
from django.urls import reverse

from stripe_integrations.conf import get_config
from stripe_integrations.webhooks.signature import sign


def build_event(
    event_type: str,
    obj: Mapping[str, Any],
    *,
    previous_attributes: Mapping[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An event of the pinned API version carrying ``obj`` (``fields`` override any key)."""
    data: dict[str, Any] = {"object": dict(obj)}
    if previous_attributes is not None:
        data["previous_attributes"] = dict(previous_attributes)
    event: dict[str, Any] = {
        "id": f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": get_config().api_version,
        "created": int(time.time()),
        "data": data,
        "livemode": get_config().livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    event.update(fields)
    return event


def post_event(
    client: Client,
    event: Mapping[str, Any] | bytes | str,
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    path: str | None = None,
    signature: str | None = None,
) -> Any:
    """POST ``event`` to the webhook endpoint, signed with ``secret`` (default: the first of
    ``WEBHOOK_SECRETS``) unless a ready ``signature`` header is given. Returns the response."""
    if isinstance(event, Mapping):
        body = json.dumps(event).encode()
    elif isinstance(event, str):
        body = event.encode()
    else:
        body = event
    if signature is None:
        key = secret if secret is not None else get_config().webhook_secrets[0]
        signature = sign(body, key, timestamp)
    return client.generic(
        "POST",
        path or reverse("stripe_integrations:webhook"),
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )
