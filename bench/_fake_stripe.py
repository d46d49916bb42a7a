"""A tiny stand-in for api.stripe.com on 127.0.0.1, for the webhook benchmark (stdlib only).

Serves, instantly and from memory, what a webhook handler may ask Stripe for while it
processes ``customer.*`` events:

* ``GET /v1/account`` and ``GET /v1/accounts/<id>``: one test-mode account;
* ``GET /v1/customers/<id>``: the customer's latest state from the generated events
  (``sources`` is included as an empty list when ``expand[]=sources`` is asked for);

and counts every request by route. Anything else is answered 404 in Stripe's error shape
and counted under ``unhandled``. ``GET /__stats`` returns the counts (not counted itself),
``POST /__reset`` zeroes them.

It binds to 127.0.0.1 only, prints its port on the first line of stdout, and stops on
SIGTERM, when its parent process goes away, or after ``--max-seconds``.

    python bench/_fake_stripe.py --customers customers.json [--max-seconds 3600]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ACCOUNT_ID = "acct_1BenchFakeAcct00"

ACCOUNT = {
    "id": ACCOUNT_ID,
    "object": "account",
    "business_profile": {"name": "Bench Co", "url": None, "support_email": None},
    "business_type": None,
    "capabilities": {},
    "charges_enabled": True,
    "controller": {"type": "account"},
    "country": "US",
    "created": 1700000000,
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

CUSTOMER_RE = re.compile(r"^/v1/customers/(cus_[A-Za-z0-9]+)$")
ACCOUNT_RE = re.compile(r"^/v1/accounts/(acct_[A-Za-z0-9]+)$")


class State:
    def __init__(self, customers: dict[str, dict]) -> None:
        self.customers = customers
        self.counts: Counter[str] = Counter()
        self.unhandled: Counter[str] = Counter()
        self.lock = threading.Lock()


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as with the real API

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _send(self, status: int, payload: object) -> None:
            body = json.dumps(payload).encode()
            reason = {200: "OK", 404: "Not Found"}.get(status, "Error")
            # One write for headers and body: no Nagle/delayed-ACK stall on loopback.
            head = (
                f"HTTP/1.1 {status} {reason}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
                "Request-Id: req_bench\r\n"
                "Stripe-Version: 2026-10-28.endive\r\n"
                "Connection: keep-alive\r\n\r\n"
            ).encode()
            self.wfile.write(head + body)

        def _count(self, key: str) -> None:
            with state.lock:
                state.counts[key] += 1

        def _drain(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            path = url.path
            if path == "/__stats":
                with state.lock:
                    self._send(
                        200,
                        {"counts": dict(state.counts), "unhandled": dict(state.unhandled)},
                    )
                return
            if path == "/v1/account":
                self._count("GET /v1/account")
                self._send(200, ACCOUNT)
                return
            m = ACCOUNT_RE.match(path)
            if m:
                self._count("GET /v1/accounts/:id")
                self._send(200, {**ACCOUNT, "id": m.group(1)})
                return
            m = CUSTOMER_RE.match(path)
            if m:
                self._count("GET /v1/customers/:id")
                customer = state.customers.get(m.group(1))
                if customer is None:
                    self._missing(m.group(1))
                    return
                # stripe-python sends expand=[...] as expand[0]=...&expand[1]=...
                query = parse_qs(url.query)
                expand = {v for k, vs in query.items() if k.startswith("expand") for v in vs}
                if "sources" in expand:
                    customer = {
                        **customer,
                        "sources": {
                            "object": "list",
                            "data": [],
                            "has_more": False,
                            "total_count": 0,
                            "url": f"/v1/customers/{customer['id']}/sources",
                        },
                    }
                self._send(200, customer)
                return
            self._unhandled()

        def do_POST(self) -> None:
            self._drain()
            if urlsplit(self.path).path == "/__reset":
                with state.lock:
                    state.counts.clear()
                    state.unhandled.clear()
                self._send(200, {"ok": True})
                return
            self._unhandled()

        def do_DELETE(self) -> None:
            self._drain()
            self._unhandled()

        def _missing(self, obj_id: str) -> None:
            self._send(
                404,
                {
                    "error": {
                        "code": "resource_missing",
                        "message": f"No such customer: '{obj_id}'",
                        "param": "id",
                        "type": "invalid_request_error",
                    }
                },
            )

        def _unhandled(self) -> None:
            with state.lock:
                state.unhandled[f"{self.command} {urlsplit(self.path).path}"] += 1
            self._send(
                404,
                {
                    "error": {
                        "message": f"Unrecognized request URL ({self.command}: {self.path}).",
                        "type": "invalid_request_error",
                    }
                },
            )

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", required=True, help="JSON object: customer id -> object")
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    args = parser.parse_args()

    with open(args.customers, encoding="utf-8") as fh:
        customers = json.load(fh)
    state = State(customers)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True

    parent = os.getppid()
    deadline = time.monotonic() + args.max_seconds

    def watchdog() -> None:
        while time.monotonic() < deadline and os.getppid() == parent:
            time.sleep(0.5)
        server.shutdown()

    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    threading.Thread(target=watchdog, daemon=True).start()

    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
