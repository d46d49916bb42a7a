"""In-memory object store, errors, events, lists and expansion for :class:`~.fake.FakeStripe`.

Nothing here locks: :class:`~.fake.FakeStripe` holds its lock around every call.
"""

from __future__ import annotations

import copy
import itertools
import random
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stripe_integrations.testing.fake_errors import FakeError, missing
from stripe_integrations.testing.fake_params import as_int

JsonDict = dict[str, Any]

#: Id prefix of each object type the fake stores (and the length of the random part).
ID_PREFIXES: dict[str, tuple[str, int]] = {
    "customer": ("cus", 14),
    "payment_method": ("pm", 24),
    "card": ("card", 24),
    "product": ("prod", 14),
    "price": ("price", 24),
    "subscription": ("sub", 24),
    "subscription_item": ("si", 14),
    "event": ("evt", 24),
    "coupon": ("", 8),
    "promotion_code": ("promo", 24),
    "discount": ("di", 24),
    "tax_rate": ("txr", 24),
    "invoiceitem": ("ii", 24),
    "invoice": ("in", 24),
    "line_item": ("il", 24),
    "invoice_payment": ("inpay", 24),
    "payment_intent": ("pi", 24),
    "charge": ("ch", 24),
    "refund": ("re", 24),
    "setup_intent": ("seti", 24),
}

_ALPHANUMERIC = string.ascii_letters + string.digits

#: Expanders for fields that are absent unless expanded (``customer.sources``, ...).
Includer = Callable[["Store", JsonDict], Any]


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> JsonDict:
    """``previous_attributes``: the old values of what changed (nested for plain hashes)."""
    previous: JsonDict = {}
    for key in old.keys() | new.keys():
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict) and before.get("object") != "list":
            previous[key] = changes(before, after)
        else:
            previous[key] = copy.deepcopy(before)
    return previous


class Store:
    """Every object of the fake, by type and id, with a monotonic insertion order."""

    def __init__(self, *, rng: random.Random, clock: Callable[[], float], api_version: str):
        self.rng = rng
        self.clock = clock
        self.api_version = api_version
        self.objects: dict[str, dict[str, JsonDict]] = {kind: {} for kind in ID_PREFIXES}
        self.deleted: dict[str, JsonDict] = {}
        #: Hidden behaviour of test cards by payment method / card id ("decline_attach", ...).
        self.card_behaviour: dict[str, str] = {}
        #: Fake-only facts about stored objects, by id (an intent's invoice, a line's tax rates).
        self.hidden: dict[str, JsonDict] = {}
        self.includers: dict[tuple[str, str], Includer] = {}
        self._order: dict[str, int] = {}
        self._counter = itertools.count(1)

    def now(self) -> int:
        """The current Unix time, as Stripe's ``created`` fields hold it."""
        return int(self.clock())

    def new_id(self, object_type: str) -> str:
        """A fresh random id with the type's prefix (``cus_...``)."""
        prefix, length = ID_PREFIXES[object_type]
        while True:
            candidate = prefix + "_" + "".join(self.rng.choices(_ALPHANUMERIC, k=length))
            if not prefix:  # coupons: bare uppercase codes
                candidate = self.random_code(length)
            if candidate not in self._order:
                return candidate

    def hide(self, object_id: str) -> JsonDict:
        """The fake-only facts kept about an object (created empty)."""
        return self.hidden.setdefault(object_id, {})

    def random_code(self, length: int) -> str:
        """Random uppercase letters and digits (coupon ids, promotion codes)."""
        return "".join(self.rng.choices(string.ascii_uppercase + string.digits, k=length))

    def secret(self, object_id: str) -> str:
        """A ``client_secret`` for a payment or setup intent."""
        return object_id + "_secret_" + "".join(self.rng.choices(_ALPHANUMERIC, k=25))

    def random_hex(self, length: int) -> str:
        """Random uppercase hex digits (invoice prefixes)."""
        return "".join(self.rng.choices("0123456789ABCDEF", k=length))

    def insert(self, obj: JsonDict) -> JsonDict:
        """Store a new object under its ``object`` type and id."""
        self.objects[obj["object"]][obj["id"]] = obj
        self._order[obj["id"]] = next(self._counter)
        return obj

    def rekey(self, obj: JsonDict, new_id: str) -> None:
        """Give a stored object another id (seeding with a chosen id)."""
        table = self.objects[obj["object"]]
        old_id = obj["id"]
        table.pop(old_id)
        self._order[new_id] = self._order.pop(old_id)
        obj["id"] = new_id
        table[new_id] = obj

    def order_of(self, object_id: str) -> int | None:
        """The insertion rank of an id, or None when the fake never stored it."""
        return self._order.get(object_id)

    def find(self, object_type: str, object_id: str) -> JsonDict | None:
        """A live stored object, or None."""
        return self.objects[object_type].get(object_id)

    def get(self, object_type: str, object_id: str, *, param: str | None = None) -> JsonDict:
        """A live stored object, or the ``resource_missing`` error."""
        obj = self.find(object_type, object_id) if isinstance(object_id, str) else None
        if obj is None:
            raise missing(object_type, str(object_id), param=param)
        return obj

    def newest_first(
        self, object_type: str, keep: Callable[[JsonDict], bool] | None = None
    ) -> list[JsonDict]:
        """Stored objects of a type, most recently created first."""
        items = [obj for obj in self.objects[object_type].values() if keep is None or keep(obj)]
        items.sort(key=lambda obj: self._order[obj["id"]], reverse=True)
        return items

    def resolve(self, object_id: str) -> JsonDict | None:
        """A copy of whatever object has this id (deleted stubs included)."""
        if object_id in self.deleted:
            return copy.deepcopy(self.deleted[object_id])
        for table in self.objects.values():  # ids may be chosen freely (products)
            if object_id in table:
                return copy.deepcopy(table[object_id])
        return None

    def emit(
        self,
        event_type: str,
        obj: JsonDict,
        *,
        request: JsonDict | None,
        previous: JsonDict | None = None,
    ) -> JsonDict:
        """Record an event whose ``data.object`` is a snapshot of ``obj``."""
        data: JsonDict = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        event = {
            "id": self.new_id("event"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": request or {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        return self.insert(event)


@dataclass
class Ctx:
    """What a handler needs about the request it serves."""

    store: Store
    request_id: str | None = None
    idempotency_key: str | None = None
    #: True for :meth:`FakeStripe.add`: build objects without emitting events.
    seeding: bool = False
    #: Test payment method ids (``pm_card_visa``) already turned into objects by this request.
    materialized: dict[str, JsonDict] = field(default_factory=dict)

    def emit(self, event_type: str, obj: JsonDict, previous: JsonDict | None = None) -> None:
        """Record an event for this request (nothing when seeding)."""
        if self.seeding:
            return
        request = {"id": self.request_id, "idempotency_key": self.idempotency_key}
        self.store.emit(event_type, obj, request=request, previous=previous)

    def emit_update(self, event_type: str, obj: JsonDict, before: JsonDict) -> None:
        """Record an ``*.updated`` event when ``obj`` differs from its copy ``before``."""
        previous = changes(before, obj)
        if previous:
            self.emit(event_type, obj, previous)


def list_object(data: list[JsonDict], url: str, *, has_more: bool = False) -> JsonDict:
    """A Stripe list object around ``data``."""
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def paginate(
    store: Store, items: list[JsonDict], params: Mapping[str, Any], url: str, object_type: str
) -> JsonDict:
    """One page of ``items`` (newest first) per ``limit``/``starting_after``/``ending_before``."""
    limit = as_int(params.get("limit", 10), "limit", minimum=1)
    if limit > 100:
        raise FakeError(
            400,
            "This value must be less than or equal to 100.",
            code="parameter_invalid_integer",
            param="limit",
        )
    after, before = params.get("starting_after"), params.get("ending_before")
    if after:
        rank = _cursor_rank(store, after, "starting_after", object_type)
        older = [obj for obj in items if (store.order_of(obj["id"]) or 0) < rank]
        return list_object(copy.deepcopy(older[:limit]), url, has_more=len(older) > limit)
    if before:
        rank = _cursor_rank(store, before, "ending_before", object_type)
        newer = [obj for obj in items if (store.order_of(obj["id"]) or 0) > rank]
        start = max(0, len(newer) - limit)
        return list_object(copy.deepcopy(newer[start:]), url, has_more=start > 0)
    return list_object(copy.deepcopy(items[:limit]), url, has_more=len(items) > limit)


def _cursor_rank(store: Store, cursor: Any, param: str, object_type: str) -> int:
    rank = store.order_of(str(cursor))
    if rank is None:
        raise missing(object_type, str(cursor), param=param)
    return rank


def expand(store: Store, obj: JsonDict, paths: Iterable[str]) -> JsonDict:
    """Replace ids named by dotted ``paths`` with the objects they refer to (in place)."""
    for path in paths:
        _expand(store, obj, path.split("."), path)
    return obj


def _expand(store: Store, node: Any, parts: list[str], path: str) -> None:
    if not parts or not isinstance(node, dict) or node.get("deleted") is True:
        return
    key, rest = parts[0], parts[1:]
    if key == "data" and node.get("object") == "list":
        for item in node["data"]:
            _expand(store, item, rest, path)
        return
    includer = store.includers.get((str(node.get("object")), key))
    if key not in node and includer is not None:
        node[key] = includer(store, node)
    elif key not in node:
        raise FakeError(400, f"This property cannot be expanded ({path}).", param="expand")
    value = node[key]
    if isinstance(value, str):
        resolved = store.resolve(value)
        if resolved is not None:
            node[key] = value = resolved
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str) and not rest:
                value[index] = store.resolve(item) or item
            else:
                _expand(store, item, rest, path)
    else:
        _expand(store, value, rest, path)
