"""Tests of the localstripe launcher, and probes recording what localstripe 1.15 really does.

Plain pytest functions (no Django): run with
``.venv/bin/pytest tests/test_localstripe_launcher.py -p no:django``.

The probe tests pin localstripe's behaviour as observed with stripe-python 16.1.0, including
where it differs from real Stripe (those assertions say "Stripe: ..." in a comment), so that an
upgrade which changes it is noticed.
"""

from __future__ import annotations

import http.server
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from stripe_integrations.testing.localstripe import LocalStripe

SRC = str(Path(__file__).resolve().parents[1] / "src")


def card(number: str = "4242424242424242") -> Any:
    """Raw card details (``Any``: the SDK's TypedDicts do not need to vet test data)."""
    return {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}


# -- helpers and fixtures ----------------------------------------------------------------------


def _gone(pid: int) -> bool:
    """True if ``pid`` no longer runs (absent, or a zombie waiting for a foreign parent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    """Poll until ``pid`` is gone; return whether it went within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return _gone(pid)


def _client(ls: LocalStripe) -> stripe.StripeClient:
    """A StripeClient pointed at ``ls``, without retries (so each call is one request)."""
    return stripe.StripeClient("sk_test_123", base_addresses={"api": ls.url}, max_network_retries=0)


@pytest.fixture(scope="module")
def ls() -> Iterator[LocalStripe]:
    """One localstripe server for the probe tests of this module."""
    with LocalStripe() as server:
        yield server


@pytest.fixture
def client(ls: LocalStripe) -> stripe.StripeClient:
    """A client on an emptied server."""
    ls.reset()
    return _client(ls)


class _Receiver:
    """A tiny webhook endpoint: an ``http.server`` on loopback, in a thread, queueing POSTs."""

    def __init__(self) -> None:
        self.posts: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        posts = self.posts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                posts.put((dict(self.headers.items()), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/stripe/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next_event(self, timeout: float = 5.0) -> tuple[dict[str, str], bytes, dict[str, Any]]:
        """The next POST received: headers, raw body, decoded JSON."""
        headers, body = self.posts.get(timeout=timeout)
        return headers, body, json.loads(body)

    def close(self) -> None:
        """Stop serving and release the socket."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    """A running webhook receiver."""
    r = _Receiver()
    yield r
    r.close()


# -- the launcher ------------------------------------------------------------------------------


def test_start_stop_lifecycle() -> None:
    server = LocalStripe()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.pid
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url
    assert server.stop() is None  # stopping a never-started launcher is a no-op

    server.start()
    try:
        pid = server.pid
        assert server.running
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert not _gone(pid)
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
        assert _client(server).v1.customers.create().id.startswith("cus_")
    finally:
        status = server.stop()
    assert status is not None and status != -signal.SIGKILL  # ended by SIGTERM, not SIGKILL
    assert _gone(pid)
    assert not server.running
    assert server.stop() is None  # idempotent


def test_context_manager_explicit_port_and_restart() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = LocalStripe(port=port)
    with server as same:
        assert same is server
        assert server.url == f"http://127.0.0.1:{port}"
        first_pid = server.pid
        _client(server).v1.customers.create(params={"email": "x@example.com"})
    assert _gone(first_pid)
    with server:  # restartable, same port, and empty again (nothing persisted to disk)
        assert server.pid != first_pid
        assert _client(server).v1.customers.list().data == []


def test_no_pickle_written_to_tmp(client: stripe.StripeClient) -> None:
    pickle_path = Path("/tmp/localstripe.pickle")
    before = pickle_path.stat().st_mtime_ns if pickle_path.exists() else None
    client.v1.customers.create(params={"email": "a@example.com"})
    after = pickle_path.stat().st_mtime_ns if pickle_path.exists() else None
    assert after == before  # localstripe's dump_to_disk is disabled in the child


def test_start_failure_reports_child_stderr() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = LocalStripe(port=busy.getsockname()[1])
        with pytest.raises(RuntimeError, match=r"(?s)exited during start-up.*[Aa]ddress"):
            server.start(timeout=10)
    assert not server.running


def test_stop_escalates_to_sigkill() -> None:
    server = LocalStripe().start()
    pid = server.pid
    os.kill(pid, signal.SIGSTOP)  # a stopped child ignores SIGTERM until continued
    started = time.monotonic()
    status = server.stop(grace=0.5)
    assert status == -signal.SIGKILL
    assert time.monotonic() - started < 5
    assert _gone(pid)


def test_atexit_stops_child_of_a_finished_interpreter() -> None:
    script = (
        "from stripe_integrations.testing.localstripe import LocalStripe\n"
        "print(LocalStripe().start().pid, flush=True)\n"  # never stopped explicitly
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert _wait_gone(int(done.stdout.strip()), timeout=2)


def test_child_exits_when_parent_is_killed() -> None:
    script = (
        "import os, signal\n"
        "from stripe_integrations.testing.localstripe import LocalStripe\n"
        "print(LocalStripe().start().pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"  # no atexit: the child must notice by itself
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == -signal.SIGKILL
    assert _wait_gone(int(done.stdout.strip()), timeout=5)


def test_command_line_help() -> None:
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run(
        [sys.executable, "-m", "stripe_integrations.testing.localstripe", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert "--port" in done.stdout and "--host" in done.stdout


def test_register_webhook_validates_arguments(ls: LocalStripe) -> None:
    with pytest.raises(ValueError, match="http"):
        ls.register_webhook("bad", "ftp://example.com/", "whsec_x")
    with pytest.raises(ValueError, match="secret"):
        ls.register_webhook("bad", "http://127.0.0.1:9/", "")


def test_reset_wipes_objects(ls: LocalStripe, client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create(params={"email": "gone@example.com"})
    client.v1.products.create(params={"name": "P"})
    ls.reset()
    assert client.v1.customers.list().data == []
    assert client.v1.products.list().data == []
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve(cus.id)


# -- probe 1: customers ------------------------------------------------------------------------


def test_customer_create_retrieve_update(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create(
        params={"email": "ann@example.com", "name": "Ann", "metadata": {"a": "1", "b": "2"}}
    )
    assert cus.id.startswith("cus_")
    assert (cus.email, cus.name, cus.to_dict()["metadata"]) == (
        "ann@example.com",
        "Ann",
        {"a": "1", "b": "2"},
    )
    # Old shapes: account_balance (Stripe: balance), embedded sources/subscriptions lists,
    # a currency even without any billing history ("eur").
    data = cus.to_dict()
    assert data["account_balance"] == 0 and "balance" not in data
    assert data["sources"]["object"] == "list" and data["subscriptions"]["object"] == "list"
    assert data["currency"] == "eur"
    assert data["invoice_settings"] == {"default_payment_method": None}

    got = client.v1.customers.retrieve(cus.id)
    assert got.to_dict() == data

    updated = client.v1.customers.update(cus.id, params={"metadata": {"a": "", "c": "3"}})
    # Stripe: "" unsets the key. localstripe merges keys and stores "" as the value.
    assert updated.to_dict()["metadata"] == {"a": "", "b": "2", "c": "3"}
    # Stripe: metadata="" clears all keys. localstripe ignores it.
    updated = client.v1.customers.update(cus.id, params={"metadata": ""})
    assert updated.to_dict()["metadata"] == {"a": "", "b": "2", "c": "3"}
    # Stripe: name="" unsets (null). localstripe stores "".
    assert client.v1.customers.update(cus.id, params={"name": ""}).name == ""


def test_customer_list_filters_and_pagination(client: stripe.StripeClient) -> None:
    ids = [
        client.v1.customers.create(params={"email": f"{'a' if i % 2 == 0 else 'b'}@example.com"}).id
        for i in range(5)
    ]
    a_ids = [c.id for c in client.v1.customers.list(params={"email": "a@example.com"}).data]
    assert a_ids == [ids[0], ids[2], ids[4]]  # oldest first (Stripe: newest first)

    page1 = client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in page1.data] == ids[:2] and page1.has_more
    page2 = client.v1.customers.list(params={"limit": 2, "starting_after": ids[1]})
    assert [c.id for c in page2.data] == ids[2:4] and page2.has_more
    page3 = client.v1.customers.list(params={"limit": 2, "starting_after": ids[3]})
    assert [c.id for c in page3.data] == ids[4:] and not page3.has_more

    pages = client.v1.customers.list(params={"limit": 2}).auto_paging_iter()
    assert [c.id for c in pages] == ids

    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.customers.list(params={"ending_before": ids[4]})
    assert err.value.http_status == 400


def test_customer_delete_then_retrieve(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create(params={"email": "del@example.com"})
    deleted = client.v1.customers.delete(cus.id)
    assert deleted.to_dict() == {"id": cus.id, "object": "customer", "deleted": True}

    # Stripe: 200 with {"id", "object", "deleted": true}. localstripe: 404, and no error code
    # (Stripe would say code="resource_missing" for a never-existing id).
    for call in (
        lambda: client.v1.customers.retrieve(cus.id),
        lambda: client.v1.customers.update(cus.id, params={"name": "x"}),
        lambda: client.v1.customers.delete(cus.id),
        lambda: client.v1.customers.retrieve("cus_doesnotexist"),
    ):
        with pytest.raises(stripe.InvalidRequestError) as err:
            call()
        assert err.value.http_status == 404
        assert err.value.code is None
        assert err.value.user_message == "Not Found"
        assert err.value.json_body == {
            "error": {"message": "Not Found", "type": "invalid_request_error"}
        }


def test_unknown_route_is_a_generic_api_error(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.APIError) as err:
        client.v1.prices.list()
    assert not isinstance(err.value, stripe.InvalidRequestError)
    assert err.value.http_status == 404
    assert err.value.http_body == "404: Not Found"  # text/plain from aiohttp's router


# -- probe 2: payment methods and card sources -------------------------------------------------


def test_payment_methods(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create(params={"email": "pm@example.com"})

    by_number = client.v1.payment_methods.create(params={"type": "card", "card": card()})
    assert by_number.id.startswith("pm_") and by_number.customer is None
    assert by_number.to_dict()["card"]["brand"] == "visa"
    assert by_number.to_dict()["card"]["last4"] == "4242"
    attached = client.v1.payment_methods.attach(by_number.id, params={"customer": cus.id})
    assert attached.customer == cus.id

    # "pm_card_visa" is a magic id: every use makes a NEW payment method with a random id.
    magic = client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    assert magic.id.startswith("pm_") and magic.id != "pm_card_visa"
    assert client.v1.payment_methods.retrieve("pm_card_visa").id not in (magic.id, "pm_card_visa")
    # ... but it is not accepted as card[token] when creating a payment method.
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_visa"}})

    client.v1.customers.update(
        cus.id, params={"invoice_settings": {"default_payment_method": by_number.id}}
    )
    assert (
        client.v1.customers.retrieve(cus.id).to_dict()["invoice_settings"]["default_payment_method"]
        == by_number.id
    )

    # Listing a customer's payment methods: only /v1/payment_methods?customer=&type=card works.
    listed = client.v1.payment_methods.list(params={"customer": cus.id, "type": "card"})
    assert [pm.id for pm in listed.data] == [by_number.id, magic.id]
    with pytest.raises(stripe.InvalidRequestError) as err:  # type is required
        client.v1.payment_methods.list(params={"customer": cus.id})
    assert err.value.http_status == 400
    with pytest.raises(stripe.APIError) as err2:  # GET /v1/customers/{id}/payment_methods: 404
        client.v1.customers.payment_methods.list(cus.id)
    assert err2.value.http_status == 404

    # Customer create with payment_method= attaches it.
    cus2 = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    assert len(client.v1.payment_methods.list(params={"customer": cus2.id, "type": "card"})) == 1

    # Detach: Stripe also clears the customer's default_payment_method; localstripe does not.
    assert client.v1.payment_methods.detach(by_number.id).customer is None
    assert (
        client.v1.customers.retrieve(cus.id).to_dict()["invoice_settings"]["default_payment_method"]
        == by_number.id
    )


def test_declined_card_on_attach(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create()
    declined = card("4000000000000002")
    pm = client.v1.payment_methods.create(params={"type": "card", "card": declined})
    with pytest.raises(stripe.CardError) as err:
        client.v1.payment_methods.attach(pm.id, params={"customer": cus.id})
    assert err.value.http_status == 402
    assert err.value.code == "card_declined"


def test_card_sources(client: stripe.StripeClient) -> None:
    # Stripe's magic test token "tok_visa" does not exist here: 404.
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.customers.create(params={"source": "tok_visa"})
    assert err.value.http_status == 404

    tok = client.v1.tokens.create(params={"card": card()})
    tok_card = tok.to_dict()["card"]
    assert tok.id.startswith("tok_") and tok_card["id"].startswith("card_")
    assert tok_card["brand"] == "Visa"  # legacy Card object: capitalised brand
    cus = client.v1.customers.create(params={"source": tok.id})
    assert cus.default_source == tok_card["id"]
    assert [s["id"] for s in cus.to_dict()["sources"]["data"]] == [tok_card["id"]]

    tok2 = client.v1.tokens.create(params={"card": card("5555555555554444")})
    card2 = client.v1.customers.payment_sources.create(cus.id, params={"source": tok2.id})
    assert card2.object == "card" and card2.customer == cus.id and card2.last4 == "4444"
    listed = client.v1.customers.payment_sources.list(cus.id)
    assert [s.id for s in listed.data] == [tok_card["id"], card2.id]
    assert client.v1.customers.retrieve(cus.id).default_source == tok_card["id"]  # first stays

    # Card sources are not listed as payment methods.
    assert client.v1.payment_methods.list(params={"customer": cus.id, "type": "card"}).data == []


# -- probe 4: expand ---------------------------------------------------------------------------


def test_expand_default_payment_method_and_default_source(client: stripe.StripeClient) -> None:
    pm = client.v1.payment_methods.create(params={"type": "card", "card": card()})
    cus = client.v1.customers.create(
        params={"payment_method": pm.id, "invoice_settings": {"default_payment_method": pm.id}}
    )
    got = client.v1.customers.retrieve(
        cus.id, params={"expand": ["invoice_settings.default_payment_method"]}
    )
    expanded = got.to_dict()["invoice_settings"]["default_payment_method"]
    assert expanded["object"] == "payment_method" and expanded["id"] == pm.id
    assert expanded["customer"] == cus.id

    tok = client.v1.tokens.create(params={"card": card()})
    cus2 = client.v1.customers.create(params={"source": tok.id})
    got2 = client.v1.customers.retrieve(cus2.id, params={"expand": ["default_source"]})
    source = got2.to_dict()["default_source"]
    assert source["object"] == "card" and source["id"] == tok.to_dict()["card"]["id"]
    # Without expand both stay ids.
    assert client.v1.customers.retrieve(cus2.id).default_source == source["id"]


# -- probe 3: plan-based subscriptions ---------------------------------------------------------


def test_plan_subscription(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    pm_id = client.v1.payment_methods.list(params={"customer": cus.id, "type": "card"}).data[0].id
    client.v1.customers.update(
        cus.id, params={"invoice_settings": {"default_payment_method": pm_id}}
    )
    product = client.v1.products.create(params={"name": "Pro"})
    plan = client.v1.plans.create(
        params={
            "product": product.id,
            "amount": 1000,
            "currency": "usd",
            "interval": "month",
            "nickname": "monthly",
        }
    )
    assert plan.id.startswith("plan_") and plan.product == product.id

    sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"plan": plan.id}]})
    data = sub.to_dict()
    assert data["status"] == "active" and data["customer"] == cus.id
    # Old shape: current_period_* at top level (Stripe today: on the items), plus a top-level
    # plan and quantity; items carry `plan` and no `price`.
    assert data["current_period_end"] > data["current_period_start"] > 0
    assert data["plan"]["id"] == plan.id and data["quantity"] == 1
    (item,) = data["items"]["data"]
    assert item["object"] == "subscription_item" and item["plan"]["id"] == plan.id
    assert "price" not in item and "current_period_start" not in item
    invoice = client.v1.invoices.retrieve(data["latest_invoice"])
    assert (invoice.status, invoice.amount_due) == ("paid", 1000)

    # Not supported: items given as price, or two items.
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": plan.id}]})
    plan2 = client.v1.plans.create(
        params={"product": product.id, "amount": 500, "currency": "usd", "interval": "year"}
    )
    with pytest.raises(stripe.APIError) as err:
        client.v1.subscriptions.create(
            params={"customer": cus.id, "items": [{"plan": plan.id}, {"plan": plan2.id}]}
        )
    assert err.value.http_status == 500 and err.value.user_message == "Not implemented"

    listed = client.v1.subscriptions.list(params={"customer": cus.id, "status": "all"})
    assert [(s.id, s.status) for s in listed.data] == [(sub.id, "active")]

    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled"
    assert canceled.ended_at is not None
    assert canceled.canceled_at is None  # Stripe sets canceled_at too
    assert client.v1.subscriptions.list(params={"customer": cus.id}).data == []
    for status in ("all", "canceled"):
        listed = client.v1.subscriptions.list(params={"customer": cus.id, "status": status})
        assert [(s.id, s.status) for s in listed.data] == [(sub.id, "canceled")]
    assert client.v1.customers.retrieve(cus.id).to_dict()["subscriptions"]["data"] == []


# -- probe 6: idempotency ----------------------------------------------------------------------


def test_idempotency_key_is_not_honoured(client: stripe.StripeClient) -> None:
    opts: Any = {"idempotency_key": "same-key-1"}
    first = client.v1.customers.create(params={"email": "i@example.com"}, options=opts)
    second = client.v1.customers.create(params={"email": "i@example.com"}, options=opts)
    assert first.id != second.id  # Stripe would return the first object again
    assert len(client.v1.customers.list(params={"email": "i@example.com"}).data) == 2


# -- probe 5: webhooks -------------------------------------------------------------------------


def test_webhooks_are_signed_and_accepted(receiver: _Receiver) -> None:
    secret = "whsec_probe"
    with LocalStripe() as server:  # its own server: registrations survive reset()
        server.register_webhook("probe", receiver.url, secret)
        client = _client(server)
        started = time.monotonic()
        cus = client.v1.customers.create(params={"email": "hook@example.com"})

        headers, body, payload = receiver.next_event(timeout=5)
        delay = time.monotonic() - started
        assert 0.8 < delay < 4  # sent ~1 s after the action
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        assert headers["Stripe-Signature"].startswith(f"t={payload['created']},v1=")
        event = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], secret)
        assert event.type == "customer.created" and event.data.object.id == cus.id
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_other")

        assert sorted(payload) == ["api_version", "created", "data", "id", "livemode", "object",
                                   "type"]  # fmt: skip
        assert payload["api_version"] == "2017-08-15"
        assert payload["object"] == "event" and payload["id"].startswith("evt_")
        assert list(payload["data"]) == ["object"]  # no previous_attributes, ever
        assert sorted(payload["data"]["object"]) == sorted(cus.to_dict())

        client.v1.customers.update(cus.id, params={"name": "New"})
        _, _, updated = receiver.next_event()
        assert updated["type"] == "customer.updated"
        assert "previous_attributes" not in updated["data"]  # Stripe sends them
        client.v1.customers.delete(cus.id)
        _, _, deleted = receiver.next_event()
        assert deleted["type"] == "customer.deleted"
        assert "deleted" not in deleted["data"]["object"]  # full customer, no deleted flag

        # Registrations survive reset(); `events` filters the types sent.
        server.reset()
        server.register_webhook("probe", receiver.url, secret, events=["product.created"])
        client.v1.customers.create()
        client.v1.products.create(params={"name": "P"})
        _, _, only = receiver.next_event()
        assert only["type"] == "product.created"
        with pytest.raises(queue.Empty):
            receiver.next_event(timeout=1.5)
