"""The demo in a real browser: ``example/demo.py`` (what ``make demo`` runs) serves the example
project against localstripe, and Chromium, driven by Playwright, uses its admin and its
"my billing" page the way a person would.

Needs Debian's ``chromium`` at /usr/bin/chromium and the ``playwright`` package (``make
browser-test-deps``); it is skipped, saying which is missing, only when one of them is.
Screenshots go to ``.ci/artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stripe

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"Debian's chromium is not installed at {CHROMIUM}: run `make browser-test-deps`",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the playwright package is not installed: run `make browser-test-deps`",
)

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / ".ci" / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN = "/admin/stripe_integrations"
LOCALSTRIPE_KEY = "sk_test_localstripe"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g}s")
        time.sleep(0.1)


@dataclass
class Demo:
    """A running ``example/demo.py`` and what the test needs to reach it."""

    proc: subprocess.Popen[bytes]
    port: int
    localstripe_port: int
    db: Path
    password: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stripe(self) -> stripe.StripeClient:
        """A client of the demo's localstripe (the "Stripe" the test changes things in)."""
        base = f"http://127.0.0.1:{self.localstripe_port}"
        return stripe.StripeClient(LOCALSTRIPE_KEY, base_addresses={"api": base})

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of the demo's SQLite database, read-only."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10) as db:
            return db.execute(query, params).fetchall()

    def stop(self) -> int:
        """SIGTERM by PID, as a service manager would; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """``example/demo.py`` on free ports, with a fresh database, a known admin password, no
    webhook registration (a change then reaches the mirror only through a sync) and one
    attempt per event (failed events wait for the admin's retry)."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET")
    }
    env["EXAMPLE_EVENT_MAX_ATTEMPTS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    log = tmp_path / "demo.log"
    port, localstripe_port = free_port(), free_port()
    password = secrets.token_urlsafe(12)
    command = [
        sys.executable,
        str(ROOT / "example" / "demo.py"),
        *("--port", str(port), "--localstripe-port", str(localstripe_port)),
        # "=": a password may start with "-", which argparse would take for an option.
        *("--db", str(tmp_path / "demo.sqlite3"), f"--admin-password={password}"),
        "--no-webhook",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
    running = Demo(proc, port, localstripe_port, tmp_path / "demo.sqlite3", password, log)
    try:
        wait_for(
            lambda: proc.poll() is not None or answers(f"{running.url}/admin/login/"),
            90,
            "the demo answering",
        )
        if proc.poll() is not None:
            pytest.fail(f"example/demo.py exited ({proc.returncode}):\n{running.output()}")
        yield running
    finally:
        running.stop()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"browser-{name}.png"), full_page=True)


def run_action(page: Any, pk: int, label: str) -> None:
    """On a changelist, select row ``pk`` and run the admin action whose label matches the
    regular expression ``label`` ("Go")."""
    page.check(f'input[name="_selected_action"][value="{pk}"]')
    labels = page.locator('select[name="action"] option').all_text_contents()
    matching = [text for text in labels if re.search(label, text, re.IGNORECASE)]
    assert matching, f"no admin action matching {label!r} among {labels}"
    page.select_option('select[name="action"]', label=matching[0])
    with page.expect_navigation():
        page.click('button[name="index"]')


def readonly(page: Any, field: str) -> str:
    """The text the change page shows for a read-only field."""
    return str(page.locator(f".field-{field} .readonly").first.inner_text()).strip()


def test_demo_admin_sync_retry_and_billing_in_a_browser(demo: Demo) -> None:
    [(jenny_pk, jenny_id, old_name)] = demo.rows(
        "SELECT id, stripe_id, name FROM stripe_integrations_customer WHERE email = ?",
        "jenny@example.com",
    )
    [(event_pk, event_id, event_status, attempts, error)] = demo.rows(
        "SELECT id, stripe_id, status, attempts, last_error FROM stripe_integrations_event"
    )
    assert (event_status, attempts) == ("failed", 1)
    assert "crm=down" in error
    new_name = f"Jenny Synced {secrets.token_hex(3)}"

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)

            # Log into the admin with the demo superuser.
            page.goto(f"{demo.url}/admin/")
            shot(page, "01-admin-login")
            page.fill("#id_username", "admin")
            page.fill("#id_password", demo.password)
            with page.expect_navigation():
                page.click('input[type="submit"]')
            assert page.url.rstrip("/").endswith("/admin"), page.url
            shot(page, "02-admin-index")

            # A customer, changed in Stripe: the mirror shows it only after a sync.
            page.goto(f"{demo.url}{ADMIN}/customer/")
            assert jenny_id in page.content()
            shot(page, "03-customers")
            page.goto(f"{demo.url}{ADMIN}/customer/{jenny_pk}/change/")
            assert readonly(page, "name") == old_name
            demo.stripe.v1.customers.update(jenny_id, params={"name": new_name})
            page.reload()
            assert readonly(page, "name") == old_name  # no webhook: nothing flowed back
            shot(page, "04-customer-changed-in-stripe")

            page.goto(f"{demo.url}{ADMIN}/customer/")
            run_action(page, jenny_pk, r"sync.*from stripe")
            assert page.locator(".messagelist .error").count() == 0, page.content()
            shot(page, "05-customers-after-sync-action")
            page.goto(f"{demo.url}{ADMIN}/customer/{jenny_pk}/change/")
            assert readonly(page, "name") == new_name
            assert demo.rows(
                "SELECT name FROM stripe_integrations_customer WHERE id = ?", jenny_pk
            ) == [(new_name,)]
            shot(page, "06-customer-after-sync")

            # A failed event: retried while its cause remains it fails again; fixed, it passes.
            page.goto(f"{demo.url}{ADMIN}/event/?status__exact=failed")
            assert event_id in page.content()
            assert "CRMUnavailable" in page.content()  # its last error
            shot(page, "07-failed-events")

            def event_state() -> tuple[str, int]:
                [(status, tries)] = demo.rows(
                    "SELECT status, attempts FROM stripe_integrations_event WHERE id = ?",
                    event_pk,
                )
                return status, tries

            run_action(page, event_pk, r"retry")
            wait_for(lambda: event_state() == ("failed", 2), 20, "the retry to fail again")
            page.goto(f"{demo.url}{ADMIN}/event/?status__exact=failed")
            assert event_id in page.content()

            [(grace_id,)] = demo.rows(
                "SELECT stripe_id FROM stripe_integrations_customer WHERE email = ?",
                "grace@example.com",
            )
            demo.stripe.v1.customers.update(grace_id, params={"metadata": {"crm": ""}})
            run_action(page, event_pk, r"retry")
            wait_for(lambda: event_state() == ("succeeded", 3), 20, "the retry to succeed")
            page.goto(f"{demo.url}{ADMIN}/event/{event_pk}/change/")
            assert readonly(page, "status") == "succeeded"
            shot(page, "08-event-retried-succeeded")
            page.goto(f"{demo.url}{ADMIN}/event/?status__exact=failed")
            assert event_id not in page.content()

            # "My billing" for the logged-in admin, read from the mirror.
            page.goto(f"{demo.url}/billing/")
            text = page.inner_text("body")
            assert "admin@example.com" in text
            assert re.search(r"ending 4242", text)
            subscriptions = page.inner_text("#subscriptions")
            assert "active" in subscriptions
            assert "Pro" in subscriptions and "29.00 USD / month" in subscriptions
            invoices = page.locator("#invoices tr").count() - 1
            assert invoices == 3, page.inner_text("#invoices")
            assert "29.00 USD" in page.inner_text("#invoices")
            shot(page, "09-my-billing")
        finally:
            browser.close()

    # SIGTERM stops the server and localstripe: nothing is left listening.
    assert demo.stop() == 0, demo.output()
    assert not port_open(demo.port)
    assert not port_open(demo.localstripe_port)
    assert "stopped localstripe" in demo.output()
