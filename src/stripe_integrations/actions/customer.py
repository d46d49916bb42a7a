"""``StripeCustomer``: the customer actions (create, get, sync, link, soft delete, ...)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, cast

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from stripe_integrations import validation as v
from stripe_integrations.client import get_client
from stripe_integrations.conf import get_config
from stripe_integrations.exceptions import StripeAPIError, stripe_errors
from stripe_integrations.idempotency import fingerprint, idempotency_key
from stripe_integrations.models import Customer, Event
from stripe_integrations.sync import mapping, sync_customers, sync_events
from stripe_integrations.sync.fetch import CUSTOMER_EXPAND, is_missing, refresh_customer
from stripe_integrations.sync.upsert import (
    mark_customers_deleted,
    sync_payment_methods,
    sync_subscriptions,
)
from stripe_integrations.webhooks import mirror

log = logging.getLogger("stripe_integrations")

#: Local columns Stripe never writes; a sync leaves them alone, the caller may not pass them.
FORBIDDEN_FIELDS = frozenset({"date_purged", "is_active", "livemode"})

#: Mirrored columns that are not Stripe parameters (Stripe computes them).
READ_ONLY_FIELDS = frozenset(
    {
        "id",
        "stripe_id",
        "created",
        "currency",
        "delinquent",
        "discount",
        "invoice_credit_balance",
        "tax_ids",
        "raw",
        "synced_at",
        "subscriber",
    }
)

#: Stripe customer parameters with no column of their own.
EXTRA_CREATE_PARAMS = frozenset({"payment_method", "source", "tax_id_data"})

#: Local column -> Stripe parameter, for columns that are written to Stripe.
WRITABLE_FIELDS: dict[str, str] = {
    "address": "address",
    "balance": "balance",
    "cash_balance": "cash_balance",
    "default_payment_method": "invoice_settings.default_payment_method",
    "default_source": "default_source",
    "description": "description",
    "email": "email",
    "invoice_prefix": "invoice_prefix",
    "invoice_settings": "invoice_settings",
    "metadata": "metadata",
    "name": "name",
    "next_invoice_sequence": "next_invoice_sequence",
    "phone": "phone",
    "preferred_locales": "preferred_locales",
    "shipping": "shipping",
    "tax": "tax",
    "tax_exempt": "tax_exempt",
    "test_clock": "test_clock",
}

#: Parameters that may be changed after creation.
UPDATE_ONLY = frozenset({"default_source"})
CREATE_ONLY = frozenset({"test_clock", "tax_id_data", "payment_method"})


def _check_field(name: str, value: Any, *, updating: bool) -> Any:
    """Validate one customer parameter against Stripe's documented limits."""
    if value is None and updating and name in ("description", "email", "name", "phone"):
        return ""  # an empty string clears the attribute in Stripe
    if name in ("email",):
        return v.check_email(name, value)
    if name == "name":
        return v.check_string(name, value, v.NAME_MAX_LENGTH)
    if name == "description":
        return v.check_string(name, value, 350)
    if name == "phone":
        return v.check_string(name, value, 20)
    if name == "metadata":
        return v.check_metadata(name, value, allow_unset=updating)
    if name in ("address", "shipping", "invoice_settings", "cash_balance", "tax"):
        return v.check_dict(name, value)
    if name == "balance":
        return v.check_int(name, value)
    if name == "next_invoice_sequence":
        return v.check_int(name, value, minimum=1)
    if name == "invoice_prefix":
        v.check_string(name, value)
        if not v.INVOICE_PREFIX_RE.match(value):
            raise v.StripeValidationError(name, "must be 3-12 uppercase letters or digits")
        return value
    if name == "preferred_locales":
        return v.check_string_list(name, value)
    if name == "tax_exempt":
        return v.check_choice(name, value, v.TAX_EXEMPT_VALUES)
    if name in ("default_payment_method", "payment_method"):
        return v.check_stripe_id(name, value, ("pm_", "card_", "src_"))
    if name in ("default_source", "source"):
        return v.check_stripe_id(name, value)
    if name == "test_clock":
        return v.check_stripe_id(name, value, ("clock_",))
    if name == "tax_id_data":
        if not isinstance(value, list) or not all(isinstance(i, Mapping) for i in value):
            raise v.StripeValidationError(name, "must be a list of dicts")
        return value
    return value


def customer_params(fields: Mapping[str, Any], *, updating: bool, caller: str) -> dict[str, Any]:
    """Turn keyword arguments into validated Stripe parameters.

    Unknown names raise ``TypeError`` and bad values ``ValueError``, both naming the field,
    before anything is sent.
    """
    params: dict[str, Any] = {}
    for name, value in fields.items():
        if name in FORBIDDEN_FIELDS:
            raise TypeError(f"{caller}() cannot set {name!r}: it is managed by the library")
        if name in READ_ONLY_FIELDS:
            raise TypeError(f"{caller}() cannot set {name!r}: Stripe computes it")
        if name not in WRITABLE_FIELDS and name not in EXTRA_CREATE_PARAMS:
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}")
        if updating and name in CREATE_ONLY:
            raise TypeError(f"{caller}() cannot change {name!r} after creation")
        if not updating and name in UPDATE_ONLY:
            raise TypeError(f"{caller}() cannot set {name!r}; pass 'source' instead")
        checked = _check_field(name, value, updating=updating)
        target = WRITABLE_FIELDS.get(name, name)
        if "." in target:
            parent, child = target.split(".", 1)
            params.setdefault(parent, {})[child] = checked
        elif isinstance(params.get(target), dict) and isinstance(checked, dict):
            params[target] = {**checked, **params[target]}
        else:
            params[target] = checked
    if not updating and "default_payment_method" in fields and "payment_method" not in fields:
        # A payment method must be attached before it can be the default.
        params["payment_method"] = params["invoice_settings"]["default_payment_method"]
    return v.check_text("", params)  # nested text too: address, shipping, tax_id_data...


def _copy_mirrored(target: models.Model, source: models.Model) -> None:
    """Copy the mirrored (non-local) attributes of ``source`` onto ``target``."""
    local = {"id", "subscriber_id", "is_active", "date_purged"}
    for field in source._meta.concrete_fields:
        if field.attname not in local and field.attname in source.__dict__:
            setattr(target, field.attname, getattr(source, field.attname))


def _subscriber_key(user: models.Model) -> str:
    return f"{user._meta.label_lower}:{user.pk}"


class StripeCustomer:
    """Actions on Stripe customers; each keeps the local :class:`Customer` mirror in step."""

    @classmethod
    def create(
        cls, user: models.Model, billing_email: str | None = None, **fields: Any
    ) -> Customer:
        """Create the Stripe customer of ``user`` and mirror it, or return the existing one.

        ``billing_email`` becomes the Stripe ``email``; any writable Customer field may be
        passed too. Safe under concurrency: one Stripe customer per user whatever the number
        of simultaneous callers (deterministic idempotency key + unique constraint).
        """
        return cls.get_or_create(user, billing_email, **fields)[0]

    @classmethod
    def get_or_create(
        cls, user: models.Model, billing_email: str | None = None, **fields: Any
    ) -> tuple[Customer, bool]:
        """:meth:`create` that also says whether the customer was created now."""
        if user is None or user.pk is None:
            raise ValueError("user: must be a saved instance")
        if billing_email is not None:
            if "email" in fields:
                raise TypeError("create() got both 'billing_email' and 'email'")
            fields = {"email": billing_email, **fields}
        params = customer_params(fields, updating=False, caller="create")
        livemode = get_config().livemode
        rows = list(Customer.objects.filter(subscriber_id=user.pk, livemode=livemode))
        active = next((c for c in rows if c.is_active), None)
        if active is not None:
            existing = cls._existing_if_alive(active)
            if existing is not None:
                return existing, False
        metadata = params.setdefault("metadata", {})
        metadata.setdefault("subscriber", _subscriber_key(user))
        if len(metadata) > v.METADATA_MAX_KEYS:
            raise v.StripeValidationError(
                "metadata", f"has more than {v.METADATA_MAX_KEYS - 1} keys (one is reserved)"
            )
        # Same user, mode, generation and parameters: one key, so retries and concurrent
        # duplicates create one customer. Other parameters get another key (a declined card
        # does not lock the user out for a day); the unique constraint then keeps one row
        # and the loser deletes the customer it created.
        key = idempotency_key(
            "customer.create",
            _subscriber_key(user),
            "live" if livemode else "test",
            len(rows),
            fingerprint(params),
        )
        fetched_at = timezone.now()
        try:
            with stripe_errors():
                obj = get_client().v1.customers.create(
                    params=cast(Any, params), options={"idempotency_key": key}
                )
        except StripeAPIError as exc:
            # A concurrent create for this user with other parameters holds the key: wait for
            # its row rather than creating a second customer.
            if exc.type != "idempotency_error":
                raise
            winner = wait_for_customer(user)
            if winner is None:
                raise
            return winner, False
        local = {"subscriber_id": user.pk, "is_active": True, "date_purged": None}
        # A replay answers a concurrent caller that lost the race: it did not create.
        response = getattr(obj, "last_response", None)
        replayed = bool(response and response.headers.get("Idempotent-Replayed") == "true")
        try:
            with transaction.atomic():
                row = sync_customers([obj], local=local, fetched_at=fetched_at)[0]
                return row, not replayed
        except IntegrityError:
            # Another active customer for this user was stored meanwhile. When it is this
            # call's own customer (a concurrent caller got the replay and stored it first),
            # this call still created it. Otherwise the other one wins, and the customer this
            # call created in Stripe is deleted so only one remains.
            winner = Customer.objects.filter(
                subscriber_id=user.pk, livemode=livemode, is_active=True
            ).first()
            if winner is None:
                raise
            if winner.stripe_id == obj.id:
                return winner, not replayed
            cls._delete_orphan(obj.id)
            return winner, False

    @staticmethod
    def _delete_orphan(stripe_id: str) -> None:
        """Delete a customer created by a call that lost a race (best effort, logged)."""
        try:
            with stripe_errors():
                get_client().v1.customers.delete(stripe_id)
        except StripeAPIError as exc:
            if not is_missing(exc):
                log.warning("could not delete duplicate Stripe customer %s: %s", stripe_id, exc)

    @classmethod
    def _existing_if_alive(cls, customer: Customer) -> Customer | None:
        """The customer refreshed from Stripe, or None (soft-deleted) if Stripe deleted it."""
        fetched_at = timezone.now()
        try:
            with stripe_errors():
                obj = get_client().v1.customers.retrieve(customer.stripe_id)
        except StripeAPIError as exc:
            if not is_missing(exc):
                raise
            cls.soft_delete(customer)
            return None
        cls.sync_from_stripe_data(customer, obj, fetched_at=fetched_at)
        return customer if customer.is_active else None

    @classmethod
    def get(cls, user: models.Model) -> Customer | None:
        """The active local customer of ``user`` in the key's mode, or None. One query."""
        return Customer.objects.filter(
            subscriber_id=user.pk, livemode=get_config().livemode, is_active=True
        ).first()

    @classmethod
    def sync_from_stripe_data(
        cls, customer: Customer, stripe_customer: Any, *, fetched_at: datetime | None = None
    ) -> Customer:
        """Write ``stripe_customer`` (a Stripe object or dict) into ``customer``'s row.

        ``fetched_at`` is when it was fetched from Stripe (default: now). When the row holds
        a later fetch, the row is kept and ``customer`` gets its values. A deleted customer
        (``deleted: true``) is soft-deleted locally.
        """
        data = mapping.as_dict(stripe_customer)
        if customer.stripe_id and data.get("id") != customer.stripe_id:
            raise ValueError(
                f"stripe_customer: {data.get('id')!r} is not customer {customer.stripe_id!r}"
            )
        if mapping.is_deleted(data):
            row = mark_customers_deleted([data], fetched_at=fetched_at)[0]
            customer.is_active = row.is_active
            customer.date_purged = row.date_purged
            return customer
        row = sync_customers([data], fetched_at=fetched_at)[0]
        _copy_mirrored(customer, row)
        return customer

    @classmethod
    def sync(cls, customer: Customer, stripe_customer: Any = None) -> Customer:
        """Refresh ``customer`` from Stripe with its default payment method (or source) and
        all its subscriptions, canceled ones included. Fetches the customer when
        ``stripe_customer`` is not given. At most 3 Stripe requests for up to 100
        subscriptions; the same number of queries whatever their number.

        Each object is written with the time it was fetched (taken before its request; now
        for a given ``stripe_customer``): a row a later fetch wrote meanwhile (a webhook's)
        is kept."""
        client = get_client()
        fetched_at = timezone.now()
        with stripe_errors():
            if stripe_customer is None:
                stripe_customer = client.v1.customers.retrieve(
                    customer.stripe_id, params={"expand": CUSTOMER_EXPAND}
                )
            data = mapping.as_dict(stripe_customer)
            if mapping.is_deleted(data):
                return cls.sync_from_stripe_data(customer, data, fetched_at=fetched_at)
            default_at = timezone.now()
            default = cls._fetch_default_payment(data)
            listed_at = timezone.now()
            subscriptions = list(
                client.v1.subscriptions.list(
                    params={"customer": customer.stripe_id, "status": "all", "limit": 100}
                ).auto_paging_iter()
            )
        with transaction.atomic():
            cls.sync_from_stripe_data(customer, data, fetched_at=fetched_at)
            if default is not None:
                sync_payment_methods([default], fetched_at=default_at)
            sync_subscriptions(subscriptions, fetched_at=listed_at)
        return customer

    @staticmethod
    def _fetch_default_payment(data: Mapping[str, Any]) -> Any:
        """The default payment method (else default source) when ``data`` only names it."""
        client = get_client()
        settings = data.get("invoice_settings") or {}
        pm = settings.get("default_payment_method") if isinstance(settings, Mapping) else None
        if isinstance(pm, str) and pm:
            return client.v1.payment_methods.retrieve(pm)
        source = data.get("default_source")
        if pm is None and isinstance(source, str) and source:
            return client.v1.customers.payment_sources.retrieve(data["id"], source)
        return None

    @classmethod
    def link_customer(cls, event: Event | Any, *, fetch_missing: bool = True) -> Event:
        """Link ``event`` to the customer it concerns, mirroring that customer if unknown
        (unless ``fetch_missing`` is False).

        Accepts a local :class:`Event` or a Stripe event object (stored first). Never raises
        for an unknown or deleted customer.
        """
        if not isinstance(event, Event):
            event = sync_events([event])[0]
        customer_id = mirror.customer_of(event)
        if not customer_id:
            return event
        if event.type == "customer.deleted":
            mirror.apply_payload(event)
        elif fetch_missing and not Customer.objects.filter(stripe_id=customer_id).exists():
            cls.retrieve(customer_id, missing_ok=True)
        mirror.link(event)
        return event

    @classmethod
    def soft_delete(cls, customer: Customer) -> None:
        """Mark ``customer`` deleted locally (``is_active=False``, ``date_purged=now``)."""
        customer.is_active = False
        customer.date_purged = timezone.now()
        Customer.objects.filter(pk=customer.pk).update(
            is_active=False, date_purged=customer.date_purged
        )

    @classmethod
    def retrieve(cls, stripe_id: str, *, missing_ok: bool = False) -> Customer | None:
        """Fetch customer ``stripe_id`` from Stripe and mirror it (a deleted one inactive).

        With ``missing_ok``, a customer Stripe does not know returns None instead of raising.
        """
        return refresh_customer(stripe_id, missing_ok=missing_ok)

    @classmethod
    def update(cls, customer: Customer, **params: Any) -> Customer:
        """Update the Stripe customer and the mirror. In ``metadata``, an empty string (or
        None) unsets a key and ``metadata=""`` unsets all keys, as Stripe documents."""
        if "billing_email" in params:
            params["email"] = params.pop("billing_email")
        stripe_params = customer_params(params, updating=True, caller="update")
        if not stripe_params:
            return customer
        fetched_at = timezone.now()
        key = idempotency_key(
            "customer.update",
            customer.stripe_id,
            fingerprint([stripe_params, fingerprint(customer.raw)]),
        )
        with stripe_errors():
            obj = get_client().v1.customers.update(
                customer.stripe_id,
                params=cast(Any, stripe_params),
                options={"idempotency_key": key},
            )
        return cls.sync_from_stripe_data(customer, obj, fetched_at=fetched_at)

    @classmethod
    def delete(cls, customer: Customer) -> None:
        """Delete the customer in Stripe (which cancels its subscriptions), then soft-delete
        it locally. A customer Stripe no longer knows is soft-deleted all the same."""
        try:
            with stripe_errors():
                get_client().v1.customers.delete(customer.stripe_id)
        except StripeAPIError as exc:
            if not is_missing(exc):
                raise
        cls.soft_delete(customer)

    @classmethod
    def list(cls, email: str | None = None, **params: Any) -> Iterator[Customer]:
        """Iterate over the account's customers (newest first), mirroring each page of 100
        with one upsert. ``email`` filters by exact address; other list parameters of
        Stripe (``created``, ``limit`` per page...) pass through."""
        query: dict[str, Any] = v.check_text("", {"limit": 100, **params})
        if email is not None:
            query["email"] = v.check_email("email", email)
        fetched_at = timezone.now()
        with stripe_errors():
            page = get_client().v1.customers.list(params=cast(Any, query))
        while True:
            ids = [c.id for c in page.data]
            sync_customers(page.data, fetched_at=fetched_at)
            rows = {c.stripe_id: c for c in Customer.objects.filter(stripe_id__in=ids)}
            yield from (rows[i] for i in ids if i in rows)
            if not page.has_more or not ids:
                return
            fetched_at = timezone.now()
            with stripe_errors():
                page = page.next_page()


def wait_for_customer(
    user: models.Model, attempts: int = 40, delay: float = 0.05
) -> Customer | None:
    """Poll for ``user``'s active customer (used after an idempotency conflict)."""
    for _ in range(attempts):
        found = StripeCustomer.get(user)
        if found is not None:
            return found
        time.sleep(delay)
    return None
