"""The generated Stripe of ``_backfill_data.py`` behind an HTTP server on 127.0.0.1, in its
own process, for ``bench/ingest.py --server process``: as with Stripe itself, producing the
JSON costs the syncing process nothing (only the HTTP request and the decoding).

    python _backfill_server.py --scale 0.1 --start 1700000000 [--invoices]

Prints ``port N`` once listening, then serves (HTTP/1.1 keep-alive, one thread per
connection) until terminated; prints the request count on SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from _backfill_common import dataset_for
from _backfill_data import ConnectionReset, GeneratedStripe


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, required=True)
    parser.add_argument("--start", type=int, required=True)
    parser.add_argument("--invoices", action="store_true")
    args = parser.parse_args()
    stripe = GeneratedStripe(dataset_for(args.scale, invoices=args.invoices, start=args.start))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
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
        print(f"requests {stripe.counts['requests']}", flush=True)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
