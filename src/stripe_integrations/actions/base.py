"""Helpers shared by the action classes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from django.db import models
from django.utils import timezone

from stripe_integrations import validation as v
from stripe_integrations.client import get_client
from stripe_integrations.exceptions import StripeAPIError, stripe_errors
from stripe_integrations.idempotency import fingerprint, idempotency_key
from stripe_integrations.sync import mapping, sync_objects
from stripe_integrations.sync.fetch import is_missing, refresh_object


def stripe_id_of(value: Any, field: str, prefixes: tuple[str, ...] = ()) -> str:
    """The Stripe id of a mirrored row or an id string, validated."""
    return v.check_stripe_id(field, value, prefixes)


def checked_metadata(params: dict[str, Any], *, updating: bool = False) -> dict[str, Any]:
    """``params`` with its ``metadata`` validated against Stripe's limits."""
    if "metadata" in params:
        params = {
            **params,
            "metadata": v.check_metadata("metadata", params["metadata"], allow_unset=updating),
        }
    return params


def service(name: str) -> Any:
    """A v1 service of the shared client (``service("invoices").create(...)``)."""
    return getattr(get_client().v1, name)


def call(method: Any, *args: Any, key: str | None = None, **params: Any) -> Any:
    """Call a service method, with ``params`` and an idempotency ``key``, turning SDK errors
    into :class:`~stripe_integrations.exceptions.StripeAPIError`. Text Stripe or the database
    would refuse (U+0000, lone surrogates) anywhere in ``args`` or ``params`` is a
    :class:`~stripe_integrations.exceptions.StripeValidationError` naming the parameter,
    raised before the request."""
    for arg in args:
        v.check_text("stripe_id", arg)
    v.check_text("", params)
    kwargs: dict[str, Any] = {}
    if params:
        kwargs["params"] = cast(Any, params)
    if key:
        kwargs["options"] = {"idempotency_key": key}
    with stripe_errors():
        return method(*args, **kwargs)


def mirror(obj: Any, fetched_at: datetime | None = None) -> Any:
    """Mirror a Stripe object through the sync path and return its row (the stored row when
    it holds a later fetch). ``fetched_at``: when the request that returned ``obj`` was
    sent (default: now)."""
    rows = sync_objects([obj], fetched_at=fetched_at)
    return rows[0] if rows else None


def call_and_mirror(method: Any, *args: Any, key: str | None = None, **params: Any) -> Any:
    """:func:`call`, then :func:`mirror` of the object Stripe returned, written with the
    time taken before the request."""
    fetched_at = timezone.now()
    return mirror(call(method, *args, key=key, **params), fetched_at)


def op_key(purpose: str, subject: str, params: Mapping[str, Any], *state: Any) -> str:
    """A deterministic idempotency key for one logical operation on ``subject``."""
    return idempotency_key(purpose, subject, fingerprint([dict(params), *state]))


class CatalogActions:
    """create / retrieve / update / list for objects that stand alone (products, prices,
    coupons, promotion codes): each mirrors what Stripe returns."""

    #: The v1 service name (``"products"``) and Stripe ``object`` kind (``"product"``).
    SERVICE = ""
    KIND = ""

    @classmethod
    def create(cls, **params: Any) -> Any:
        """Create the object in Stripe and mirror it. The same parameters within 24 hours
        create one object (the idempotency key derives from them)."""
        params = checked_metadata(cls.validate(params))
        key = op_key(f"{cls.KIND}.create", "account", params)
        return call_and_mirror(service(cls.SERVICE).create, key=key, **params)

    @classmethod
    def retrieve(cls, stripe_id: str) -> Any:
        """Fetch the object from Stripe and mirror it; None if Stripe does not have it."""
        return refresh_object(cls.KIND, stripe_id_of(stripe_id, "stripe_id"))

    @classmethod
    def update(cls, obj: Any, **params: Any) -> Any:
        """Update the object in Stripe and mirror the result."""
        stripe_id = stripe_id_of(obj, cls.KIND)
        params = checked_metadata(params, updating=True)
        raw = getattr(obj, "raw", None) or {}
        key = op_key(f"{cls.KIND}.update", stripe_id, params, fingerprint(raw))
        return call_and_mirror(service(cls.SERVICE).update, stripe_id, key=key, **params)

    @classmethod
    def list(cls, **params: Any) -> list[Any]:
        """Every object Stripe lists with ``params``, mirrored page by page."""
        fetched_at = timezone.now()
        page = call(service(cls.SERVICE).list, **{"limit": 100, **params})
        rows: list[Any] = []
        while True:
            rows += sync_objects(page.data, fetched_at=fetched_at)
            if not page.has_more or not page.data:
                return rows
            fetched_at = timezone.now()
            with stripe_errors():
                page = page.next_page()

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        """Resource-specific checks before a create (override)."""
        return params


def missing_ok(exc: StripeAPIError) -> bool:
    """True when an error means the object is already gone."""
    return is_missing(exc)


def model_row(model: type[models.Model], stripe_id: str) -> Any:
    """The mirrored row of ``stripe_id`` or None."""
    return model._default_manager.filter(stripe_id=stripe_id).first()


__all__ = [
    "CatalogActions",
    "call",
    "call_and_mirror",
    "checked_metadata",
    "mapping",
    "mirror",
    "missing_ok",
    "model_row",
    "op_key",
    "service",
    "stripe_id_of",
]
