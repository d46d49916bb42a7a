"""A stand-in for api.stripe.com at Stripe's pace, for ``bench/events.py`` (stdlib only).

Answers ``GET /v1/<customers|invoices|payment_intents|charges|subscriptions>/<id>`` after
``--latency`` seconds (Stripe answers a retrieve in 100-300 ms) with an object of the pinned
API version built from the id (``cus_b12``, ``in_b12``... belong to customer 12), and
enforces an account rate limit of ``--rate`` requests/s (25 in test mode, 100 live): a
request beyond it gets Stripe's ``429 rate_limit`` error at once. ``GET /__stats`` returns
the counts (not counted itself). Binds 127.0.0.1, prints its port on the first line, and
stops on SIGTERM or after ``--max-seconds``.

    python bench/_events_stripe.py --rate 25 --latency 0.2
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CREATED = 1764547200
PREFIX = {
    "customers": "cus_b",
    "invoices": "in_b",
    "payment_intents": "pi_b",
    "charges": "ch_b",
    "subscriptions": "sub_b",
}


def build(kind: str, n: int) -> dict:
    """The object ``kind`` of customer ``n``, as Stripe returns it (the fields we map)."""
    customer = f"cus_b{n}"
    common = {"created": CREATED + n, "livemode": False, "metadata": {}}
    if kind == "customers":
        return {
            "id": customer,
            "object": "customer",
            "email": f"c{n}@bench.invalid",
            "name": f"Customer {n}",
            "balance": 0,
            "currency": "usd",
            "delinquent": False,
            "invoice_settings": {"default_payment_method": None, "custom_fields": None},
            **common,
        }
    if kind == "invoices":
        return {
            "id": f"in_b{n}",
            "object": "invoice",
            "customer": customer,
            "status": "paid",
            "amount_due": 900,
            "amount_paid": 900,
            "amount_remaining": 0,
            "total": 900,
            "subtotal": 900,
            "currency": "usd",
            "collection_method": "charge_automatically",
            "number": f"B-{n:06d}",
            "lines": {"object": "list", "data": [], "has_more": False, "url": "/v1/invoices"},
            **common,
        }
    if kind == "payment_intents":
        return {
            "id": f"pi_b{n}",
            "object": "payment_intent",
            "customer": customer,
            "amount": 900,
            "amount_received": 900,
            "currency": "usd",
            "status": "succeeded",
            "latest_charge": f"ch_b{n}",
            "client_secret": f"pi_b{n}_secret_bench",
            **common,
        }
    if kind == "charges":
        return {
            "id": f"ch_b{n}",
            "object": "charge",
            "customer": customer,
            "amount": 900,
            "amount_captured": 900,
            "amount_refunded": 0,
            "currency": "usd",
            "status": "succeeded",
            "paid": True,
            "captured": True,
            "refunded": False,
            "payment_intent": f"pi_b{n}",
            **common,
        }
    return {
        "id": f"sub_b{n}",
        "object": "subscription",
        "customer": customer,
        "status": "active",
        "currency": "usd",
        "collection_method": "charge_automatically",
        "cancel_at_period_end": False,
        "start_date": CREATED + n,
        "items": {"object": "list", "data": [], "has_more": False, "url": "/v1/subscription_items"},
        **common,
    }


RATE_LIMITED = json.dumps(
    {
        "error": {
            "code": "rate_limit",
            "message": "Request rate limit exceeded. Learn more about rate limits here "
            "https://stripe.com/docs/rate-limits.",
            "type": "invalid_request_error",
        }
    }
).encode()


class Bucket:
    """Stripe's account limit as a token bucket: ``rate`` per second, a second's burst."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--max-seconds", type=float, default=7200)
    args = parser.parse_args()
    bucket = Bucket(args.rate)
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *a: object) -> None:  # quiet
            return

        def send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Request-Id", "req_bench")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/__stats":
                with lock:
                    self.send(200, json.dumps(dict(counts)).encode())
                return
            if not bucket.take():
                with lock:
                    counts["429"] += 1
                self.send(429, RATE_LIMITED)
                return
            time.sleep(args.latency)
            parts = path.strip("/").split("/")
            kind = parts[1] if len(parts) == 3 else ""
            prefix = PREFIX.get(kind)
            if prefix is None or not parts[2].startswith(prefix):
                with lock:
                    counts["404"] += 1
                self.send(
                    404,
                    b'{"error": {"type": "invalid_request_error", "code": '
                    b'"resource_missing", "message": "No such object"}}',
                )
                return
            with lock:
                counts[kind] += 1
                counts["ok"] += 1
            self.send(200, json.dumps(build(kind, int(parts[2][len(prefix) :]))).encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
    timer = threading.Timer(args.max_seconds, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
