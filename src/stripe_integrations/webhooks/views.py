"""The webhook endpoint: verify, store once, answer; processing happens after commit."""

from __future__ import annotations

import json
import logging
import math
import threading
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables

from stripe_integrations.conf import StripeConfig, get_config
from stripe_integrations.webhooks.backends import receive
from stripe_integrations.webhooks.processing import event_problem
from stripe_integrations.webhooks.signature import SignatureError, verify

log = logging.getLogger("stripe_integrations.webhooks")

_no_secret_reported = threading.Event()


def report_missing_secret() -> None:
    """Log the empty ``WEBHOOK_SECRETS`` as an error once per process (the system check
    ``W003`` reports it at start-up); each refused delivery is then a warning like any other.
    Unauthenticated requests cannot make it mail the admins more than once."""
    if not _no_secret_reported.is_set():
        _no_secret_reported.set()
        log.error('STRIPE_CONFIG["WEBHOOK_SECRETS"] is empty: refusing every delivery')


class WebhookRejected(Exception):
    """A delivery refused with a 400; ``reason`` is sent back and logged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: Deepest nesting of a delivery's JSON. Stripe's events nest about ten levels; a deeper body
#: is refused before any code walks it.
MAX_JSON_DEPTH = 64


def _refuse_constant(name: str) -> Any:
    raise WebhookRejected(f"body is not standard JSON ({name})")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise WebhookRejected("body is not standard JSON (a number out of range)")
    return value


def json_depth(value: Any) -> int:
    """How deep containers nest in ``value`` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if depth > MAX_JSON_DEPTH:
                break
        stack.extend((child, depth) for child in children)
    return deepest


def parse_event(body: bytes) -> dict[str, Any]:
    """The event object of a verified body, or :class:`WebhookRejected`.

    Only standard JSON (RFC 8259) is accepted: ``NaN``, ``Infinity`` and numbers beyond a
    double's range are refused, as is nesting deeper than :data:`MAX_JSON_DEPTH`.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookRejected("body is not UTF-8") from exc
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise WebhookRejected(f"body nests deeper than {MAX_JSON_DEPTH} levels") from exc
    except ValueError as exc:  # JSONDecodeError, or an integer of over 4,300 digits
        raise WebhookRejected("body is not valid JSON") from exc
    if json_depth(data) > MAX_JSON_DEPTH:
        raise WebhookRejected(f"body nests deeper than {MAX_JSON_DEPTH} levels")
    problem = event_problem(data)
    if problem is not None:
        raise WebhookRejected(problem)
    return data


@method_decorator(csrf_exempt, name="dispatch")
class WebhookView(View):
    """Receives Stripe's deliveries.

    Every check runs before anything is written: body size, signature against every secret of
    ``STRIPE_CONFIG["WEBHOOK_SECRETS"]`` (rotation), timestamp within the tolerance in either
    direction, JSON, event shape, and the event's mode against the key's. A bad delivery gets
    a 400 with a short reason; a new or duplicate event gets a 200.
    """

    http_method_names = ["post"]

    @sensitive_variables("config")
    def post(self, request: HttpRequest) -> HttpResponse:
        config = get_config()
        try:
            data = self.verify(request, config)
        except WebhookRejected as exc:
            log.warning(
                "stripe webhook rejected: %s",
                exc.reason,
                extra={"remote_addr": request.META.get("REMOTE_ADDR")},
            )
            return JsonResponse({"error": exc.reason}, status=400)
        _event, created = receive(data, source="webhook")
        return JsonResponse({"received": True, "id": data["id"], "duplicate": not created})

    @sensitive_variables("config")
    def verify(self, request: HttpRequest, config: StripeConfig) -> dict[str, Any]:
        """The verified event, or :class:`WebhookRejected`. Nothing an unauthenticated
        request sends can raise anything else before its signature has been verified."""
        limit = config.webhook_max_body_bytes
        length = str(request.META.get("CONTENT_LENGTH") or "0").strip()
        # ASCII digits only: int() also takes "٣" and "-1", and refuses 5,000 digits.
        if not (length.isascii() and length.isdigit() and len(length) <= 20):
            raise WebhookRejected("invalid Content-Length")
        declared = int(length)
        if declared > limit:
            raise WebhookRejected("body too large")
        body = request.body
        if len(body) > limit:
            raise WebhookRejected("body too large")
        if not body:
            raise WebhookRejected("empty body")
        if not config.webhook_secrets:
            report_missing_secret()
            raise WebhookRejected("no webhook secret configured")
        try:
            verify(
                body,
                request.headers.get("Stripe-Signature"),
                config.webhook_secrets,
                tolerance=config.webhook_tolerance,
            )
        except SignatureError as exc:
            raise WebhookRejected(str(exc)) from exc
        except Exception as exc:  # a parsing defect must not turn a forgery into a 500
            log.warning("stripe webhook signature check failed", exc_info=True)
            raise WebhookRejected("malformed Stripe-Signature header") from exc
        data = parse_event(body)
        if data["livemode"] != config.livemode:
            mode = "live" if data["livemode"] else "test"
            raise WebhookRejected(
                f"{mode}-mode event sent to a {'live' if config.livemode else 'test'}-mode endpoint"
            )
        return data
