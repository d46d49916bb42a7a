"""A stateful, in-process fake of the Stripe API, plugged into stripe-python as its HTTP client.

::

    fake = FakeStripe()
    client = stripe.StripeClient("sk_test_x", http_client=fake)
    customer = client.v1.customers.create(params={"email": "a@b.c"})
    assert fake.request_count == 1

Objects are shaped like API version ``2026-10-28.endive``. Every request is served under one
lock, so concurrent callers see a consistent store and idempotent replays are atomic.

Besides customers, payment methods, products, prices and subscriptions, the fake serves
coupons, promotion codes, discounts, tax rates, invoice items, invoices (finalize, pay, send,
void, previews), payment and setup intents, charges and refunds: see :meth:`routes`. Payments
follow Stripe's test cards (``pm_card_visa``, ``pm_card_chargeDeclined``,
``pm_card_authenticationRequired``...); :meth:`authenticate` completes a 3D Secure step.
"""

from __future__ import annotations

import asyncio
import copy
import fnmatch
import io
import json
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import stripe

from stripe_integrations.testing import (
    fake_charges,
    fake_customers,
    fake_invoice_payments,
    fake_payment_intents,
    fake_routes,
    fake_setup_intents,
)
from stripe_integrations.testing.fake_errors import FakeError
from stripe_integrations.testing.fake_http import (
    INJECTED_ERRORS,
    Failure,
    Headers,
    RecordedRequest,
    SavedResponse,
)
from stripe_integrations.testing.fake_params import decode_params, expand_paths
from stripe_integrations.testing.fake_store import Ctx, JsonDict, Store, expand

__all__ = ["API_VERSION", "FakeStripe", "Headers", "RecordedRequest"]

#: The API version the fake's objects are shaped like (the one stripe-python 16.1 pins).
API_VERSION = "2026-10-28.endive"

_ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

#: Create parameters :meth:`FakeStripe.add` fills in when they are not given.
_ADD_DEFAULTS: dict[str, dict[str, Any]] = {
    "payment_method": {"type": "card", "card": {"token": "tok_visa"}},
    "card": {"source": "tok_visa"},
}


class FakeStripe(stripe.HTTPClient):
    """An in-memory Stripe API: give it to ``stripe.StripeClient(http_client=...)``."""

    name = "fake_stripe"

    def __init__(
        self,
        *,
        api_version: str = API_VERSION,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
        retry_delay: float = 0.0,
        latency: float = 0.0,
    ) -> None:
        """``seed`` makes ids reproducible; ``clock`` supplies ``created`` times;
        ``retry_delay`` replaces the SDK's back-off between retries and ``latency`` is how
        long each executed request takes (seconds, spent holding the store lock)."""
        super().__init__()
        self.api_version = api_version
        self.retry_delay = retry_delay
        self.latency = latency
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._clock = clock
        self._requests: list[RecordedRequest] = []
        self._failures: list[Failure] = []
        self._saved: dict[str, SavedResponse] = {}
        self._store = self._new_store()

    def _new_store(self) -> Store:
        store = Store(rng=self._rng, clock=self._clock, api_version=self.api_version)
        fake_customers.register_includers(store)
        fake_charges.register_includers(store)
        fake_invoice_payments.register_includers(store)
        return store

    # -- stripe.HTTPClient ------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        """Serve one API call: ``(body, status, headers)``."""
        return self._serve(method, url, headers, post_data)

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[io.BytesIO, int, Mapping[str, str]]:
        """Serve one API call with the body as a readable stream."""
        body, status, response_headers = self._serve(method, url, headers, post_data)
        return io.BytesIO(body.encode()), status, response_headers

    def close(self) -> None:
        """Nothing to release."""

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        """Serve one API call for the SDK's ``*_async`` methods."""
        body, status, response_headers = self._serve(method, url, headers, post_data)
        return body.encode(), status, response_headers

    async def request_stream_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[AsyncIterator[bytes], int, Mapping[str, str]]:
        """Serve one API call for the SDK's async streaming methods."""
        body, status, response_headers = self._serve(method, url, headers, post_data)

        async def chunks() -> AsyncIterator[bytes]:
            yield body.encode()

        return chunks(), status, response_headers

    async def close_async(self) -> None:
        """Nothing to release."""

    def sleep_async(self, secs: float) -> Awaitable[None]:
        """Wait ``retry_delay`` between async retries."""
        return asyncio.sleep(self.retry_delay)

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return self.retry_delay

    # -- serving ----------------------------------------------------------------------------

    def _serve(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any
    ) -> tuple[str, int, Headers]:
        method = method.upper()
        parts = urlsplit(url)
        request_headers = Headers(headers or {})
        if method == "POST":
            raw = post_data.decode() if isinstance(post_data, bytes) else str(post_data or "")
            params = decode_params(raw)
        else:
            params = decode_params(parts.query)
        key = request_headers.get("Idempotency-Key") if method == "POST" else None
        version = request_headers.get("Stripe-Version")
        with self._lock:
            request_id = "req_" + "".join(self._rng.choices(_ALPHANUMERIC, k=14))

            def record(status: int, *, replayed: bool = False) -> None:
                self._requests.append(
                    RecordedRequest(
                        method, parts.path, params, key, version, replayed, status, request_id
                    )
                )

            failure = self._take_failure(method, parts.path)
            if failure is not None:
                record(0 if failure.connection_error else failure.status)
                return self._fail(failure, request_id, key)
            saved = self._saved.get(key) if key else None
            if saved is not None:
                if (saved.method, saved.path, saved.params) != (method, parts.path, params):
                    record(400)
                    error = FakeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters "
                        f"they were first used with. Try using a key other than '{key}' if you "
                        "meant to execute a different request.",
                        type="idempotency_error",
                    )
                    return self._respond(error.body(), 400, request_id, key)
                record(saved.status, replayed=True)
                replay = Headers(saved.headers)
                replay["Idempotent-Replayed"] = "true"
                return saved.body, saved.status, replay
            if self.latency:
                time.sleep(self.latency)
            body, status = self._execute(
                method, parts.path, params, request_headers, request_id, key
            )
            text, status, response_headers = self._respond(body, status, request_id, key, version)
            if key and (status < 400 or status == 402):
                self._saved[key] = SavedResponse(
                    method, parts.path, params, text, status, dict(response_headers.items())
                )
            record(status)
            return text, status, response_headers

    def _execute(
        self,
        method: str,
        path: str,
        params: JsonDict,
        headers: Mapping[str, str],
        request_id: str,
        key: str | None,
    ) -> tuple[JsonDict, int]:
        authorization = headers.get("Authorization", "")
        if not authorization.removeprefix("Bearer ").strip():
            error = FakeError(401, "You did not provide an API key.")
            return error.body(), 401
        ctx = Ctx(self._store, request_id=request_id, idempotency_key=key)
        try:
            result = fake_routes.dispatch(ctx, method, path, params)
            return expand(self._store, copy.deepcopy(result), expand_paths(params)), 200
        except FakeError as error:
            return error.body(), error.status

    def _respond(
        self,
        body: JsonDict,
        status: int,
        request_id: str,
        key: str | None,
        version: str | None = None,
    ) -> tuple[str, int, Headers]:
        headers = Headers(
            {
                "Content-Type": "application/json",
                "Request-Id": request_id,
                "Stripe-Version": version or self.api_version,
            }
        )
        if key:
            headers["Idempotency-Key"] = key
        return json.dumps(body, indent=2), status, headers

    def _take_failure(self, method: str, path: str) -> Failure | None:
        for failure in self._failures:
            if failure.matches(method, path):
                failure.remaining -= 1
                return failure
        return None

    def _fail(self, failure: Failure, request_id: str, key: str | None) -> tuple[str, int, Headers]:
        self._failures = [rule for rule in self._failures if rule.remaining > 0]
        if failure.connection_error:
            raise stripe.APIConnectionError(
                "Unexpected error communicating with Stripe (injected by FakeStripe).",
                should_retry=True,
            )
        code, message = INJECTED_ERRORS.get(failure.status, (None, "An unknown error occurred."))
        error = FakeError(
            failure.status,
            failure.message or message,
            code=failure.code or code,
            decline_code="generic_decline" if failure.status == 402 else None,
        )
        text, status, headers = self._respond(error.body(), failure.status, request_id, key)
        if failure.should_retry is not None:
            headers["Stripe-Should-Retry"] = "true" if failure.should_retry else "false"
        if failure.retry_after is not None:
            headers["Retry-After"] = f"{failure.retry_after:g}"
        return text, status, headers

    # -- test controls ----------------------------------------------------------------------

    def fail_next(
        self,
        status: int | None = None,
        *,
        count: int = 1,
        path: str | None = None,
        method: str | None = None,
        code: str | None = None,
        message: str | None = None,
        connection_error: bool = False,
        should_retry: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Make the next ``count`` matching requests fail.

        With ``status`` (default 500) they answer with a Stripe error of that status; with
        ``connection_error=True`` :meth:`request` raises ``stripe.APIConnectionError``
        (retryable). ``path`` is an exact path or a glob (``"/v1/customers*"``); ``method``
        limits the match to one HTTP method. ``should_retry`` sets ``Stripe-Should-Retry`` and
        ``retry_after`` (seconds) sets ``Retry-After``, as Stripe may on a 429.
        Failed requests are recorded and never stored as idempotent results.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._failures.append(
                Failure(
                    status=status or 500,
                    remaining=count,
                    path=path,
                    method=method,
                    code=code,
                    message=message,
                    connection_error=connection_error,
                    should_retry=should_retry,
                    retry_after=retry_after,
                )
            )

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since creation or :meth:`reset_requests`, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        """How many requests :attr:`requests` holds."""
        with self._lock:
            return len(self._requests)

    def requests_to(
        self, method: str | None = None, path: str | None = None
    ) -> list[RecordedRequest]:
        """The recorded requests with this method and path (``path`` may be a glob)."""
        return [
            request
            for request in self.requests
            if (method is None or request.method == method.upper())
            and (path is None or fnmatch.fnmatchcase(request.path, path))
        ]

    def reset_requests(self) -> None:
        """Forget the recorded requests (objects, events and idempotency keys stay)."""
        with self._lock:
            self._requests.clear()

    def reset(self) -> None:
        """Forget everything: objects, events, requests, failures and idempotency keys."""
        with self._lock:
            self._requests.clear()
            self._failures.clear()
            self._saved.clear()
            self._store = self._new_store()

    # -- seeding and inspection -------------------------------------------------------------

    def add(self, object_type: str, /, **fields: Any) -> dict[str, Any]:
        """Store an object as the create endpoint would, without a request or an event.

        Fields the endpoint accepts are create parameters (``fake.add("subscription",
        customer=..., items=[{"price": ...}])``); any other field of the object, ``id``
        included, overrides the built value (``status="past_due"``). Returns a copy.
        """
        creator = fake_routes.CREATORS.get(object_type)
        if creator is None:
            known = ", ".join(sorted(fake_routes.CREATORS))
            raise ValueError(f"FakeStripe.add cannot build {object_type!r} (known: {known})")
        accepted = fake_routes.CREATE_PARAMS[object_type]
        defaults = _ADD_DEFAULTS.get(object_type, {})
        params = {key: value for key, value in fields.items() if key in accepted}
        params = {**defaults, **params}
        overrides = {key: value for key, value in fields.items() if key not in accepted}
        with self._lock:
            ctx = Ctx(self._store, seeding=True)
            try:
                obj = creator(ctx, params)
            except FakeError as error:
                reason = error.code or error.type
                raise ValueError(f"{error.status} {reason}: {error.message}") from error
            self._override(obj, overrides)
            return copy.deepcopy(obj)

    def _override(self, obj: JsonDict, overrides: Mapping[str, Any]) -> None:
        unknown = [key for key in overrides if key not in obj]
        if unknown:
            raise ValueError(f"{obj['object']} has no field(s) {', '.join(unknown)}")
        for key, value in overrides.items():
            if key == "id":
                self._rekey(obj, value)
            else:
                obj[key] = copy.deepcopy(value)

    def _rekey(self, obj: JsonDict, new_id: str) -> None:
        old_id = obj["id"]
        self._store.rekey(obj, new_id)
        if old_id in self._store.hidden:
            self._store.hidden[new_id] = self._store.hidden.pop(old_id)
        if obj["object"] == "subscription":
            for item in obj["items"]["data"]:
                item["subscription"] = new_id
            obj["items"]["url"] = f"/v1/subscription_items?subscription={new_id}"
            for invoice in self._store.objects["invoice"].values():
                details = (invoice["parent"] or {}).get("subscription_details") or {}
                if details.get("subscription") == old_id:
                    details["subscription"] = new_id
            for line in self._store.objects["line_item"].values():
                if line["subscription"] == old_id:
                    line["subscription"] = new_id
                for key in ("invoice_item_details", "subscription_item_details"):
                    origin = line["parent"][key]
                    if origin and origin["subscription"] == old_id:
                        origin["subscription"] = new_id
            for discount in self._store.objects["discount"].values():
                if discount["subscription"] == old_id:
                    discount["subscription"] = new_id
        if obj["object"] == "invoice":
            obj["lines"]["url"] = f"/v1/invoices/{new_id}/lines"
            for line in obj["lines"]["data"]:
                line["invoice"] = new_id
            for item in self._store.objects["invoiceitem"].values():
                if item["invoice"] == old_id:
                    item["invoice"] = new_id
            for payment in self._store.objects["invoice_payment"].values():
                if payment["invoice"] == old_id:
                    payment["invoice"] = new_id
            for facts in self._store.hidden.values():
                if facts.get("invoice") == old_id:
                    facts["invoice"] = new_id

    def authenticate(self, intent_id: str, *, succeed: bool = True) -> dict[str, Any]:
        """Complete (or, with ``succeed=False``, fail) the 3D Secure step of a PaymentIntent
        or SetupIntent in ``requires_action``, as the customer would in the browser.

        A PaymentIntent then succeeds (a charge; its invoice is paid) or goes back to
        ``requires_payment_method``; a SetupIntent succeeds (its card is attached) or fails.
        Events are emitted as for an API request. Returns a copy of the intent.
        """
        with self._lock:
            ctx = Ctx(self._store)
            setup = self._store.find("setup_intent", intent_id)
            if setup is not None:
                fake_setup_intents.authenticate(ctx, setup, succeed_=succeed)
                return copy.deepcopy(setup)
            intent = self._store.find("payment_intent", intent_id)
            if intent is None:
                raise KeyError(f"no payment or setup intent {intent_id!r} in FakeStripe")
            fake_payment_intents.authenticate(ctx, intent, succeed_=succeed)
            return copy.deepcopy(intent)

    def get(self, object_type: str, object_id: str) -> dict[str, Any]:
        """A copy of a stored object (a deleted customer's stub); ``KeyError`` when unknown."""
        with self._lock:
            if object_id in self._store.deleted:
                return copy.deepcopy(self._store.deleted[object_id])
            found = self._store.find(object_type, object_id)
            if found is None:
                raise KeyError(f"no {object_type} {object_id!r} in FakeStripe")
            return copy.deepcopy(found)

    def update(self, object_type: str, object_id: str, /, **fields: Any) -> dict[str, Any]:
        """Overwrite fields of a stored object without a request or an event; returns a copy."""
        with self._lock:
            found = self._store.find(object_type, object_id)
            if found is None:
                raise KeyError(f"no {object_type} {object_id!r} in FakeStripe")
            self._override(found, fields)
            return copy.deepcopy(found)

    def objects(self, object_type: str) -> list[dict[str, Any]]:
        """Copies of every stored object of a type, newest first (deleted ones left out)."""
        with self._lock:
            return copy.deepcopy(self._store.newest_first(object_type))

    @property
    def events(self) -> list[dict[str, Any]]:
        """Copies of the events emitted so far, oldest first."""
        with self._lock:
            return copy.deepcopy(self._store.newest_first("event")[::-1])

    @property
    def event_types(self) -> list[str]:
        """The ``type`` of each event in :attr:`events`, oldest first."""
        return [event["type"] for event in self.events]

    def emit_event(
        self,
        event_type: str,
        obj: Mapping[str, Any],
        previous_attributes: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record an event of any type about ``obj`` (served by ``/v1/events``); returns a copy."""
        with self._lock:
            event = self._store.emit(
                event_type,
                dict(obj),
                request=None,
                previous=dict(previous_attributes) if previous_attributes is not None else None,
            )
            return copy.deepcopy(event)

    @staticmethod
    def routes() -> list[str]:
        """The endpoints the fake serves, as ``"METHOD /v1/path/{id}"``."""
        return fake_routes.describe()
