"""``stripe_sync --backend celery`` with real Celery workers on Redis (PostgreSQL only).

The fake Stripe is served over HTTP from the test process so that worker processes reach it.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import stripe
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum

from stripe_integrations.backfill.celery_backend import send
from stripe_integrations.backfill.registry import get_resource
from stripe_integrations.backfill.run import SyncSettings, plan
from stripe_integrations.models import Customer, SyncCheckpoint
from stripe_integrations.testing import FakeStripe

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
BASE = 1_700_000_000


def wait_for(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture
def served_fake() -> Iterator[tuple[FakeStripe, str]]:
    """A FakeStripe answering HTTP on 127.0.0.1 (50 ms a request)."""
    fake = FakeStripe(latency=0.05)

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            try:
                text, status, headers = fake.request(
                    self.command, "http://fake" + self.path, dict(self.headers.items()), body
                )
            except stripe.APIConnectionError:
                self.close_connection = True
                return
            payload = text.encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def start_worker(api_base: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DB": "postgres",
        "SI_USE_TEST_DATABASE": "1",
        "PGTESTDATABASE": connection.settings_dict["NAME"],
        "SI_STRIPE_API_BASE": api_base,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.celery_app",
            "worker",
            "--include",
            "stripe_integrations.backfill.tasks",
            "--pool",
            "threads",
            "--concurrency",
            "3",
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),  # a file: a pipe nobody reads would block the worker
    )
    from tests.celery_app import app

    wait_for(lambda: app.control.ping(timeout=0.5) or worker.poll() is not None, 30)
    if worker.poll() is not None:
        raise AssertionError(log.read_text())
    return worker


def stop(worker: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if worker.poll() is None:
        os.kill(worker.pid, sig)
    try:
        worker.wait(15)
    except subprocess.TimeoutExpired:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()


@pytest.fixture
def celery_ready() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("Celery workers share the test database: run with DB=postgres")
    from tests.celery_app import app

    try:
        app.control.purge()
    except Exception as exc:  # pragma: no cover - no broker
        pytest.skip(f"no Redis broker: {exc}")


def test_slices_fan_out_to_workers_and_survive_a_killed_worker(
    celery_ready: None, served_fake: tuple[FakeStripe, str], settings: Any, tmp_path: Path
) -> None:
    fake, api_base = served_fake
    ids = [
        fake.add("customer", email=f"w{i}@example.com", created=BASE + i // 4)["id"]
        for i in range(3000)
    ]
    settings.STRIPE_CONFIG = {**settings.STRIPE_CONFIG, "API_BASE": api_base}
    worker = start_worker(api_base, tmp_path / "worker.log")
    try:
        # Plan and send without waiting, then kill the worker with -9 halfway.
        run = SyncSettings(workers=3, rate=60)
        planned = plan(get_resource("customers"), run)
        send(planned.slices, 3, 60.0)
        synced = SyncCheckpoint.objects.filter(resource="customers")
        wait_for(lambda: (synced.aggregate(n=Sum("objects_synced"))["n"] or 0) >= 600)
        stop(worker, signal.SIGKILL)
        assert synced.filter(done=False).exists()
        assert synced.count() > 1  # the first task split its slice for the others
        before = Customer.objects.count()
        assert 600 <= before < 3000

        worker = start_worker(api_base, tmp_path / "worker.log")
        out = io.StringIO()
        call_command(
            "stripe_sync",
            "customers",
            "--backend",
            "celery",
            "--resume",
            "--workers",
            "3",
            "--rate",
            "60",
            "--no-progress",
            stdout=out,
        )
    finally:
        stop(worker)
    assert Customer.objects.count() == 3000
    assert set(Customer.objects.values_list("stripe_id", flat=True)) == set(ids)
    assert not synced.filter(done=False).exists()
    assert "customers:" in out.getvalue()
