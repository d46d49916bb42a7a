"""A generated Stripe account served from memory, for the backfill benchmarks (stdlib only).

Object ``i`` of a kind is computed from ``i`` alone (no list of objects is kept), created at
``start + i // per_second``: several objects share each second, as in busy accounts. Lists
answer Stripe's way: newest first, ``created[gte|gt|lt|lte]``, ``limit`` up to 100,
``starting_after``, ``has_more``. :class:`GeneratedStripe` answers requests as an HTTP client
would (body, status, headers) and can add latency, a server-side rate limit (429) and random
failures (429, 500, connection reset). Imported by both sides of ``bench/ingest.py`` (our
``.venv`` and ``bench/.venv-djstripe``), each wrapping it in its own stripe-python client.
"""

from __future__ import annotations

import collections
import json
import random
import re
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_VERSION = "2026-10-28.endive"
PRODUCTS = 5
PRICES_PER_PRODUCT = 2

PREFIX = {
    "customer": "cus",
    "subscription": "sub",
    "invoice": "in",
    "product": "prod",
    "price": "price",
}
PATHS = {
    "customers": "customer",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "products": "product",
    "prices": "price",
}


ACCOUNT = {
    "id": "acct_1BenchBackfill00",
    "object": "account",
    "business_profile": {"name": "Bench Co", "url": None, "support_email": None},
    "business_type": None,
    "capabilities": {},
    "charges_enabled": True,
    "controller": {"type": "account"},
    "country": "US",
    "created": 1600000000,
    "default_currency": "usd",
    "details_submitted": True,
    "email": "owner@bench.invalid",
    "payouts_enabled": True,
    "settings": {
        "branding": {"icon": None, "logo": None, "primary_color": None},
        "dashboard": {"display_name": "Bench Co", "timezone": "Etc/UTC"},
    },
    "type": "standard",
    "metadata": {},
}


class ConnectionReset(Exception):
    """The simulated server dropped the connection."""


class Dataset:
    """``counts`` objects per kind, created from ``start``, ``per_second`` a second."""

    def __init__(self, counts: dict[str, int], start: int, per_second: int = 4) -> None:
        self.counts = {
            "product": PRODUCTS,
            "price": PRODUCTS * PRICES_PER_PRODUCT,
            **counts,
        }
        self.start = start
        self.per_second = per_second

    @property
    def end(self) -> int:
        """A second after the newest object."""
        newest = max(self.counts.values())
        return self.start + newest // self.per_second + 1

    # -- identity ---------------------------------------------------------------------------

    def object_id(self, kind: str, index: int) -> str:
        return f"{PREFIX[kind]}_B{index:012d}"

    def index_of(self, kind: str, object_id: str) -> int | None:
        match = re.fullmatch(PREFIX[kind] + r"_B(\d{12})", object_id)
        if not match:
            return None
        index = int(match.group(1))
        return index if index < self.counts.get(kind, 0) else None

    def created(self, index: int) -> int:
        return self.start + index // self.per_second

    # -- objects ----------------------------------------------------------------------------

    def build(self, kind: str, index: int) -> dict[str, Any]:
        return getattr(self, kind)(index)

    def product(self, i: int) -> dict[str, Any]:
        return {
            "id": self.object_id("product", i),
            "object": "product",
            "active": True,
            "created": self.start - 86400,
            "default_price": self.object_id("price", i * PRICES_PER_PRODUCT),
            "description": None,
            "images": [],
            "livemode": False,
            "marketing_features": [],
            "metadata": {},
            "name": f"Plan {i}",
            "package_dimensions": None,
            "shippable": None,
            "statement_descriptor": None,
            "tax_code": None,
            "type": "service",
            "unit_label": None,
            "updated": self.start - 86400,
            "url": None,
        }

    def price(self, i: int) -> dict[str, Any]:
        return {
            "id": self.object_id("price", i),
            "object": "price",
            "active": True,
            "billing_scheme": "per_unit",
            "created": self.start - 86400,
            "currency": "usd",
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": self.object_id("product", i // PRICES_PER_PRODUCT),
            "recurring": {
                "interval": "month" if i % 2 == 0 else "year",
                "interval_count": 1,
                "meter": None,
                "trial_period_days": None,
                "usage_type": "licensed",
            },
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "recurring",
            "unit_amount": 1000 + 500 * i,
            "unit_amount_decimal": str(1000 + 500 * i),
        }

    def customer(self, i: int) -> dict[str, Any]:
        created = self.created(i)
        return {
            "id": self.object_id("customer", i),
            "object": "customer",
            "address": {
                "city": "Berlin",
                "country": "DE",
                "line1": f"Street {i}",
                "line2": None,
                "postal_code": "10115",
                "state": None,
            },
            "balance": 0,
            "created": created,
            "currency": "usd",
            "default_source": None,
            "delinquent": i % 17 == 0,
            "description": None,
            "discount": None,
            "email": f"customer{i}@example.com",
            "invoice_credit_balance": {},
            "invoice_prefix": f"B{i:07X}",
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": {"user_id": str(i)},
            "name": f"Customer {i}",
            "next_invoice_sequence": 3,
            "phone": None,
            "preferred_locales": ["en"],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }

    def _customer_of(self, i: int) -> str:
        customers = max(1, self.counts.get("customer", 1))
        return self.object_id("customer", (i * 7919) % customers)

    def subscription(self, i: int) -> dict[str, Any]:
        created = self.created(i)
        sub_id = self.object_id("subscription", i)
        n_items = 1 + i % 2
        period_end = created + 30 * 86400
        items = []
        for k in range(n_items):
            price_index = (i + k) % (PRODUCTS * PRICES_PER_PRODUCT)
            items.append(
                {
                    "id": f"si_B{i:012d}{k}",
                    "object": "subscription_item",
                    "billing_thresholds": None,
                    "created": created,
                    "current_period_end": period_end,
                    "current_period_start": created,
                    "discounts": [],
                    "metadata": {},
                    "price": self.price(price_index),
                    "quantity": 1 + k,
                    "subscription": sub_id,
                    "tax_rates": [],
                }
            )
        status = ("active", "active", "trialing", "past_due", "canceled")[i % 5]
        return {
            "id": sub_id,
            "object": "subscription",
            "application": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": created,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": created + 86400 if status == "canceled" else None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "created": created,
            "currency": "usd",
            "customer": self._customer_of(i),
            "days_until_due": None,
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "discounts": [],
            "ended_at": created + 86400 if status == "canceled" else None,
            "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "items": {
                "object": "list",
                "data": items,
                "has_more": False,
                "total_count": n_items,
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
            "latest_invoice": None,
            "livemode": False,
            "metadata": {},
            "next_pending_invoice_item_invoice": None,
            "on_behalf_of": None,
            "pause_collection": None,
            "payment_settings": {
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": "off",
            },
            "pending_invoice_item_interval": None,
            "pending_setup_intent": None,
            "pending_update": None,
            "schedule": None,
            "start_date": created,
            "status": status,
            "test_clock": None,
            "transfer_data": None,
            "trial_end": created + 14 * 86400 if status == "trialing" else None,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": created if status == "trialing" else None,
        }

    def invoice(self, i: int) -> dict[str, Any]:
        created = self.created(i)
        invoice_id = self.object_id("invoice", i)
        subs = max(1, self.counts.get("subscription", 1))
        sub_id = self.object_id("subscription", i % subs)
        lines = []
        for k in range(1 + i % 2):
            price_index = (i + k) % (PRODUCTS * PRICES_PER_PRODUCT)
            lines.append(
                {
                    "id": f"il_B{i:012d}{k}",
                    "object": "line_item",
                    "amount": 1000 + 500 * price_index,
                    "currency": "usd",
                    "description": f"1 x Plan {price_index // PRICES_PER_PRODUCT}",
                    "discount_amounts": [],
                    "discountable": True,
                    "discounts": [],
                    "invoice": invoice_id,
                    "livemode": False,
                    "metadata": {},
                    "parent": {
                        "invoice_item_details": None,
                        "subscription_item_details": {
                            "invoice_item": None,
                            "proration": False,
                            "proration_details": {"credited_items": None},
                            "subscription": sub_id,
                            "subscription_item": f"si_B{i % subs:012d}{k}",
                        },
                        "type": "subscription_item_details",
                    },
                    "period": {"end": created + 30 * 86400, "start": created},
                    "pricing": {
                        "price_details": {
                            "price": self.object_id("price", price_index),
                            "product": self.object_id("product", price_index // 2),
                        },
                        "type": "price_details",
                        "unit_amount_decimal": str(1000 + 500 * price_index),
                    },
                    "quantity": 1,
                    "taxes": [],
                }
            )
        total = sum(line["amount"] for line in lines)
        paid = i % 4 != 0
        return {
            "id": invoice_id,
            "object": "invoice",
            "account_country": "DE",
            "account_name": "Bench Inc.",
            "amount_due": total,
            "amount_overpaid": 0,
            "amount_paid": total if paid else 0,
            "amount_remaining": 0 if paid else total,
            "attempt_count": 1,
            "attempted": True,
            "auto_advance": not paid,
            "billing_reason": "subscription_cycle",
            "collection_method": "charge_automatically",
            "created": created,
            "currency": "usd",
            "customer": self._customer_of(i),
            "customer_email": None,
            "default_payment_method": None,
            "description": None,
            "discounts": [],
            "due_date": None,
            "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice_id}",
            "invoice_pdf": f"https://pay.stripe.com/invoice/{invoice_id}/pdf",
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "metadata": {},
            "number": f"B{i:07X}-0001",
            "parent": {
                "quote_details": None,
                "subscription_details": {"metadata": {}, "subscription": sub_id},
                "type": "subscription_details",
            },
            "period_end": created,
            "period_start": created - 30 * 86400,
            "status": "paid" if paid else "open",
            "status_transitions": {
                "finalized_at": created,
                "marked_uncollectible_at": None,
                "paid_at": created if paid else None,
                "voided_at": None,
            },
            "subtotal": total,
            "total": total,
        }

    # -- lists ------------------------------------------------------------------------------

    def list_page(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        indices, has_more = self.list_indices(kind, params)
        return {
            "object": "list",
            "data": [self.build(kind, i) for i in indices],
            "has_more": has_more,
            "url": f"/v1/{kind}s",
        }

    def list_indices(self, kind: str, params: dict[str, Any]) -> tuple[range, bool]:
        """The indices of a list page's objects, newest first, and ``has_more``."""
        count = self.counts.get(kind, 0)
        if kind in ("product", "price"):
            lo, hi = 0, count
        else:
            lo, hi = 0, count
            created = params.get("created") or {}
            ps = self.per_second
            if "gte" in created:
                lo = max(lo, (int(created["gte"]) - self.start) * ps)
            if "gt" in created:
                lo = max(lo, (int(created["gt"]) + 1 - self.start) * ps)
            if "lt" in created:
                hi = min(hi, (int(created["lt"]) - self.start) * ps)
            if "lte" in created:
                hi = min(hi, (int(created["lte"]) + 1 - self.start) * ps)
        limit = max(1, min(100, int(params.get("limit", 10))))
        top = hi - 1
        after = params.get("starting_after")
        if after:
            index = self.index_of(kind, str(after))
            if index is None:
                raise KeyError(after)
            top = min(top, index - 1)
        first = max(lo, top - limit + 1)
        indices = range(top, first - 1, -1) if top >= lo else range(0)
        return indices, bool(indices) and first > max(lo, 0)


def _decode(query: str) -> dict[str, Any]:
    """``created[gte]=1&expand[0]=x`` -> ``{"created": {"gte": "1"}, "expand": ["x"]}``."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        match = re.fullmatch(r"(\w+)\[(\w*)\]", key)
        if not match:
            out[key] = value
        elif match.group(2).isdigit() or match.group(2) == "":
            out.setdefault(match.group(1), []).append(value)
        else:
            out.setdefault(match.group(1), {})[match.group(2)] = value
    return out


def _error(status: int, message: str, type_: str, code: str | None = None) -> str:
    return json.dumps({"error": {"message": message, "type": type_, "code": code}})


class GeneratedStripe:
    """Answers Stripe API requests from a :class:`Dataset`.

    ``latency``: seconds per request (slept outside any lock). ``rate_limit``: requests per
    second beyond which it answers 429, over a sliding one-second window. ``failure_rate``:
    share of requests failing at random, evenly 429, 500 and connection reset.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        latency: float = 0.0,
        rate_limit: float | None = None,
        failure_rate: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.dataset = dataset
        self.latency = latency
        self.rate_limit = rate_limit
        self.failure_rate = failure_rate
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._window: collections.deque[float] = collections.deque()
        self.counts: collections.Counter[str] = collections.Counter()

    def serve(self, method: str, url: str) -> tuple[str, int, dict[str, str]]:
        """One request: ``(body, status, headers)``; raises :class:`ConnectionReset`."""
        headers = {"Content-Type": "application/json", "Stripe-Version": API_VERSION}
        with self._lock:
            self.counts["requests"] += 1
            now = time.monotonic()
            limited = False
            if self.rate_limit:
                while self._window and self._window[0] <= now - 1.0:
                    self._window.popleft()
                limited = len(self._window) >= self.rate_limit
                if not limited:
                    self._window.append(now)
            roll = self._rng.random()
        if self.latency:
            time.sleep(self.latency)
        if limited:
            self.counts["429_rate_limit"] += 1
            return (
                _error(429, "Too many requests", "invalid_request_error", "rate_limit"),
                429,
                headers,
            )
        if roll < self.failure_rate:
            kind = int(roll / self.failure_rate * 3)
            if kind == 0:
                self.counts["injected_429"] += 1
                return (
                    _error(429, "Too many requests", "invalid_request_error", "rate_limit"),
                    429,
                    headers,
                )
            if kind == 1:
                self.counts["injected_500"] += 1
                return _error(500, "Internal error", "api_error"), 500, headers
            self.counts["injected_reset"] += 1
            raise ConnectionReset("connection reset by peer")
        parts = urlsplit(url)
        if parts.path in ("/v1/account", f"/v1/accounts/{ACCOUNT['id']}"):
            self.counts["account"] += 1
            return json.dumps(ACCOUNT), 200, headers
        segments = parts.path.strip("/").split("/")
        if method.lower() != "get" or len(segments) < 2 or segments[1] not in PATHS:
            return (
                _error(
                    404,
                    f"Unrecognized request URL ({method} {parts.path})",
                    "invalid_request_error",
                    "url_invalid",
                ),
                404,
                headers,
            )
        kind = PATHS[segments[1]]
        if len(segments) > 3:  # sub-lists (product features...): empty
            body = {"object": "list", "data": [], "has_more": False, "url": parts.path}
            return json.dumps(body), 200, headers
        try:
            if len(segments) == 2:
                self.counts["list_pages"] += 1
                body = self.dataset.list_page(kind, _decode(parts.query))
            else:
                index = self.dataset.index_of(kind, segments[2])
                if index is None:
                    raise KeyError(segments[2])
                self.counts["retrieves"] += 1
                body = self.dataset.build(kind, index)
        except KeyError as missing:
            message = f"No such {kind}: '{missing.args[0]}'"
            return _error(404, message, "invalid_request_error", "resource_missing"), 404, headers
        return json.dumps(body), 200, headers
