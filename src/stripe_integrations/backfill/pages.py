"""One page of a slice's chain: the list request(s) and what came back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from stripe_integrations.backfill.fetcher import Fetcher
from stripe_integrations.backfill.registry import Resource
from stripe_integrations.backfill.slices import PAGE_SIZE, Slice
from stripe_integrations.exceptions import StripeAPIError


@dataclass
class Page:
    """Objects of one page, newest first, and where the chain stands after it.

    ``last_id``/``last_created`` are the cursor after this page (the last customer for a
    per-customer resource). ``parents`` lists the customers whose objects the page holds
    completely (per-customer resources only).
    """

    objects: list[dict[str, Any]]
    has_more: bool
    last_id: str | None
    last_created: int | None
    first_created: int | None = None
    listed: int = 0
    parents: list[str] | None = None
    fetched_at: datetime = field(default_factory=timezone.now)


def fetch_page(fetcher: Fetcher, resource: Resource, slc: Slice) -> Page:
    """The page after ``slc.cursor`` in ``[slc.gte, slc.lt)``."""
    fetched_at = timezone.now()
    if resource.per_customer:
        return _per_customer_page(fetcher, resource, slc, fetched_at)
    data = _list(fetcher, resource.list_path, dict(resource.list_params), slc, PAGE_SIZE)
    objects = [o for o in data.get("data") or [] if isinstance(o, dict)]
    return _page(objects, objects, bool(data.get("has_more")), fetched_at)


def _list(
    fetcher: Fetcher, path: str, params: dict[str, Any], slc: Slice, limit: int
) -> dict[str, Any]:
    if not fetcher.lists_by_created(path):
        return _list_unfiltered(fetcher, path, params, slc, limit)
    params.update(limit=limit, created={"gte": slc.gte, "lt": slc.lt})
    try:
        if slc.cursor is None:
            return fetcher.get(path, params)
        return fetcher.get(path, {**params, "starting_after": slc.cursor})
    except StripeAPIError as exc:
        if _created_refused(exc):
            fetcher.unfiltered_paths.add(path)
            params.pop("created")
            return _list_unfiltered(fetcher, path, params, slc, limit)
        if slc.cursor is None or (exc.param != "starting_after" and exc.code != "resource_missing"):
            raise
    # The cursor object is gone (deleted since): start again at its second. Objects of that
    # second already written come again and are upserted again; none is skipped.
    params["created"] = {"gte": slc.gte, "lte": slc.position}
    return fetcher.get(path, params)


def _created_refused(exc: StripeAPIError) -> bool:
    """True when the server does not take ``created`` filters on lists (localstripe answers
    400 "Unexpected created"); Stripe itself takes them on every list the backfill uses."""
    if exc.http_status != 400:
        return False
    return exc.param == "created" or "created" in str(exc)


def _list_unfiltered(
    fetcher: Fetcher, path: str, params: dict[str, Any], slc: Slice, limit: int
) -> dict[str, Any]:
    """The page of ``[slc.gte, slc.lt)`` after ``slc.cursor`` from a server that lists
    without ``created`` filters: pages newest first, keeping the objects of the slice's range
    (newer ones are skipped, the first older one ends the chain). Correct, but every slice
    reads from the newest object: for servers such as localstripe, not for an account."""
    params = {key: value for key, value in params.items() if key != "created"}
    params["limit"] = limit
    if slc.cursor is not None:
        params["starting_after"] = slc.cursor
    while True:
        data = fetcher.get(path, params)
        listed = [o for o in data.get("data") or [] if isinstance(o, dict)]
        kept = [o for o in listed if slc.gte <= int(o.get("created") or 0) < slc.lt]
        older = any(int(o.get("created") or 0) < slc.gte for o in listed)
        has_more = bool(data.get("has_more")) and bool(listed) and not older
        if kept or not has_more:
            return {"object": "list", "data": kept, "has_more": has_more}
        params["starting_after"] = listed[-1]["id"]


def _page(
    cursor_objects: list[dict[str, Any]],
    objects: list[dict[str, Any]],
    has_more: bool,
    fetched_at: datetime,
    parents: list[str] | None = None,
) -> Page:
    last = cursor_objects[-1] if cursor_objects else None
    first = cursor_objects[0] if cursor_objects else None
    return Page(
        objects=objects,
        has_more=has_more and last is not None,
        last_id=str(last["id"]) if last else None,
        last_created=_created(last),
        first_created=_created(first),
        listed=len(cursor_objects),
        parents=parents,
        fetched_at=fetched_at,
    )


def _created(obj: dict[str, Any] | None) -> int | None:
    value = obj.get("created") if obj else None
    return int(value) if isinstance(value, int | float) else None


def _per_customer_page(
    fetcher: Fetcher, resource: Resource, slc: Slice, fetched_at: datetime
) -> Page:
    assert resource.per_customer is not None
    customers_page = _list(
        fetcher, resource.list_path, {}, slc, max(1, min(PAGE_SIZE, resource.customer_page_size))
    )
    customers = [c for c in customers_page.get("data") or [] if isinstance(c, dict)]
    objects: list[dict[str, Any]] = []
    for customer in customers:
        path = resource.per_customer.format(id=customer["id"])
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        while True:
            try:
                data = fetcher.get(path, params)
            except StripeAPIError as exc:
                if exc.code != "resource_missing" and exc.http_status != 404:
                    raise
                break  # deleted since it was listed: nothing of it to mirror
            batch = [o for o in data.get("data") or [] if isinstance(o, dict)]
            objects.extend(batch)
            if not data.get("has_more") or not batch:
                break
            params = {"limit": PAGE_SIZE, "starting_after": batch[-1]["id"]}
    parents = [str(c["id"]) for c in customers]
    return _page(
        customers, objects, bool(customers_page.get("has_more")), fetched_at, parents=parents
    )
