"""The generated Stripe of ``_backfill_data.py`` behind an HTTP server on 127.0.0.1, in its
own process, for ``bench/ingest.py --server process``: as with Stripe itself, producing the
JSON costs the syncing process nothing (only the HTTP request and the decoding).

    python _backfill_server.py --scale 0.1 --start 1700000000 [--invoices]

Prints ``port N`` once listening, then serves (HTTP/1.1 keep-alive, one thread per
connection) until terminated; prints the request count on SIGTERM.

Every object's JSON is rendered once before listening (about a minute and 1 GB for the full
account, in this process), so a list page costs the join of its objects' JSON: Stripe's own
CPU is not on the benchmark's machine either.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from _backfill_common import dataset_for
from _backfill_data import API_VERSION, PATHS, ConnectionReset, GeneratedStripe, _decode


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, required=True)
    parser.add_argument("--start", type=int, required=True)
    parser.add_argument("--invoices", action="store_true")
    args = parser.parse_args()
    stripe = GeneratedStripe(dataset_for(args.scale, invoices=args.invoices, start=args.start))
    dataset = stripe.dataset
    rendered = {
        kind: [json.dumps(dataset.build(kind, i)) for i in range(count)]
        for kind, count in dataset.counts.items()
    }
    requests = 0
    lock = threading.Lock()

    def list_body(path: str, query: str) -> str | None:
        """The page from the rendered objects, or None when not a plain list of them."""
        segments = path.strip("/").split("/")
        kind = PATHS.get(segments[1]) if len(segments) == 2 else None
        if kind not in rendered:
            return None
        try:
            indices, has_more = dataset.list_indices(kind, _decode(query))
        except KeyError:
            return None
        objects = ",".join(rendered[kind][i] for i in indices)
        more = "true" if has_more else "false"
        return f'{{"object":"list","data":[{objects}],"has_more":{more},"url":"/v1/{kind}s"}}'

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            nonlocal requests
            path, _, query = self.path.partition("?")
            rendered_body = list_body(path, query)
            if rendered_body is not None:
                body, status = rendered_body, 200
                headers = {"Content-Type": "application/json", "Stripe-Version": API_VERSION}
                with lock:
                    requests += 1
            else:
                try:
                    body, status, headers = stripe.serve("GET", f"http://127.0.0.1{self.path}")
                except ConnectionReset:
                    self.close_connection = True
                    return
            data = body.encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True

    def stop(*_: Any) -> None:
        print(f"requests {stripe.counts['requests'] + requests}", flush=True)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
