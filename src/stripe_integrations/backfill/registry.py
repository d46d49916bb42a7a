"""The resources ``stripe_sync`` and ``stripe_reconcile`` know, in dependency order.

A :class:`Resource` says how to list one kind of Stripe object, how to write it (a function
of :mod:`stripe_integrations.sync.upsert`), and how to compare it with the mirror. Register
one with :func:`register`; the built-in ones are in :mod:`.resources`.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import models

if TYPE_CHECKING:
    from stripe_integrations.sync.upsert import Plan

#: A sync function of :mod:`stripe_integrations.sync.upsert`: objects in, rows out. The
#: backfill passes ``returning=False`` (it needs no rows back) and ``fetched_at`` (when the
#: objects were fetched, for the freshness rule) to a function that accepts them.
SyncFunction = Callable[..., Any]
#: A mapping function of :mod:`stripe_integrations.sync.mapping` (object in, columns out).
FieldsFunction = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Resource:
    """One kind of Stripe object the backfill lists and mirrors.

    - ``name``: what the command line calls it (``"customers"``).
    - ``object``: Stripe's ``object`` value (``"customer"``).
    - ``model``: the mirror model, or its ``"app_label.Model"`` label.
    - ``sync``: writes a batch of objects (one bulk upsert per model, never per object).
    - ``fields``: the mapping function, used by reconcile to compare ``markers``.
    - ``list_path``: the list endpoint, which must accept ``created[gte|lt]`` filters.
    - ``list_params``: extra list parameters (``{"status": "all"}``, expansions).
    - ``per_customer``: when set (``"/v1/customers/{id}/payment_methods"``), objects are
      listed per customer: ``list_path`` then lists the customers, sliced by their
      ``created``, and each page holds the objects of one page of customers.
    - ``retrieve_path``: ``"/v1/customers/{id}"``; reconcile fetches extra rows by it.
    - ``order``: dependency order (lower runs first).
    - ``markers``: columns compared by reconcile to find stale rows.
    - ``gone``: rows already known deleted in Stripe (reconcile does not count them as
      extra); ``None`` when the model has no such flag.
    - ``customer_page_size``: customers per page when ``per_customer`` is set.
    """

    name: str
    object: str
    model: type[models.Model] | str
    sync: SyncFunction
    fields: FieldsFunction
    list_path: str
    retrieve_path: str
    order: float
    list_params: Mapping[str, Any] = field(default_factory=dict)
    per_customer: str | None = None
    markers: Sequence[str] = ()
    gone: models.Q | None = None
    customer_page_size: int = 20

    @property
    def model_class(self) -> type[models.Model]:
        """The mirror model (resolved from its label on first use)."""
        if isinstance(self.model, str):
            return apps.get_model(self.model)
        return self.model

    @property
    def planner(self) -> Callable[..., Plan] | None:
        """The plan function matching ``sync`` when ``sync`` is a built-in sync function
        (the backfill then maps pages in its fetcher threads, with the pages' fetch time:
        ``planner(objects, fetched_at=...)``), else None."""
        from stripe_integrations.sync.upsert import PLANNERS, SYNCERS

        if SYNCERS.get(self.object) is self.sync:
            return PLANNERS[self.object]
        return None

    def write(self, objects: list[dict[str, Any]], *, fetched_at: datetime | None = None) -> None:
        """Mirror ``objects`` (fetched at ``fetched_at``) through ``sync``, asking for no
        rows back when it can. A ``sync`` without a ``fetched_at`` parameter writes its rows
        as fetched when written."""
        kwargs: dict[str, Any] = {}
        if _accepts(self.sync, "returning"):
            kwargs["returning"] = False
        if fetched_at is not None and _accepts(self.sync, "fetched_at"):
            kwargs["fetched_at"] = fetched_at
        self.sync(objects, **kwargs)

    @property
    def marker_columns(self) -> list[str]:
        """The ``markers`` that are concrete columns of the model."""
        names = {f.attname for f in self.model_class._meta.concrete_fields}
        return [m for m in self.markers if m in names]


@functools.cache
def _accepts(function: SyncFunction, name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


_lock = threading.RLock()
_registry: dict[str, Resource] = {}


def register(resource: Resource, *, replace: bool = False) -> Resource:
    """Add ``resource`` to the registry (``replace=True`` to override one by name)."""
    with _lock:
        if resource.name in _registry and not replace:
            raise ValueError(f"a resource named {resource.name!r} is already registered")
        _registry[resource.name] = resource
    return resource


def unregister(name: str) -> None:
    """Remove a resource (no error when absent)."""
    with _lock:
        _registry.pop(name, None)


def normalize(name: str) -> str:
    """``payment-methods``, ``payment methods`` and ``PaymentMethods`` -> ``payment_methods``."""
    text = name.strip().replace("-", "_").replace(" ", "_")
    out = []
    for i, ch in enumerate(text):
        if ch.isupper() and i and text[i - 1] != "_":
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def get_resource(name: str) -> Resource:
    """The registered resource called ``name`` (singular and dashed forms accepted)."""
    _load_builtins()
    key = normalize(name)
    with _lock:
        found = _registry.get(key) or _registry.get(key + "s")
    if found is None:
        raise KeyError(f"unknown resource {name!r} (known: {', '.join(resource_names())})")
    return found


def all_resources() -> list[Resource]:
    """Every registered resource, in dependency order."""
    _load_builtins()
    with _lock:
        return sorted(_registry.values(), key=lambda r: (r.order, r.name))


def resource_names() -> list[str]:
    """Names of :func:`all_resources`, in dependency order."""
    return [r.name for r in all_resources()]


def select(names: Iterable[str] = ()) -> list[Resource]:
    """The resources called ``names`` (all when empty), in dependency order, once each."""
    wanted = [get_resource(n) for n in names]
    chosen = wanted or all_resources()
    unique = {r.name: r for r in chosen}
    return sorted(unique.values(), key=lambda r: (r.order, r.name))


_builtins_loaded = False


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    with _lock:
        if _builtins_loaded:
            return
        from stripe_integrations.backfill import resources

        for resource in resources.builtin_resources():
            _registry.setdefault(resource.name, resource)
        _builtins_loaded = True
