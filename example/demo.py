"""``make demo``: the example project, served on http://127.0.0.1:8000 with a demo admin.

Without ``STRIPE_API_KEY``: localstripe (a fake Stripe server) runs on 127.0.0.1 as a child
process, is seeded with customers, cards, products, plans, subscriptions and invoices, the
account is mirrored into a fresh SQLite database, and localstripe's webhooks are sent to the
project's endpoint so changes flow back while you click around.

With ``STRIPE_API_KEY=sk_test_...``: real Stripe in test mode (a live key is refused), no
seeding unless ``--seed``; forward webhooks with the Stripe CLI.

Ctrl-C (SIGINT) or SIGTERM stops the server and localstripe. ``--help`` lists the options;
``make demo DEMO_ARGS="--port 8001"`` passes them.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import stripe  # noqa: E402
from django.core.management.base import CommandError  # noqa: E402

from stripe_integrations.exceptions import StripeIntegrationError  # noqa: E402

HOST = "127.0.0.1"  # loopback only: the demo admin has a printed password
DEFAULT_PORT = 8000
DEFAULT_LOCALSTRIPE_PORT = 8420
LOCALSTRIPE_KEY = "sk_test_localstripe"
WEBHOOK_ID = "example-demo"
CARD = {"exp_month": 12, "exp_year": 2034, "cvc": "123"}


class Stop(Exception):
    """SIGTERM (or SIGHUP) arrived: shut down like on Ctrl-C."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="example/demo.py",
        description="Serve the example project on 127.0.0.1 against localstripe "
        "(or Stripe test mode when STRIPE_API_KEY is set).",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: 8000")
    parser.add_argument(
        "--localstripe-port",
        type=int,
        default=None,
        help=f"default: {DEFAULT_LOCALSTRIPE_PORT}, or a free port if it is taken",
    )
    parser.add_argument(
        "--db", type=Path, default=None, help="SQLite file (default: a fresh one in a temp dir)"
    )
    parser.add_argument(
        "--admin-password",
        default=os.environ.get("DEMO_ADMIN_PASSWORD") or None,
        help="password of the demo superuser 'admin' (default: random, printed)",
    )
    parser.add_argument(
        "--no-webhook",
        action="store_true",
        help="do not register the webhook endpoint with localstripe (changes then reach the "
        "mirror only by a sync)",
    )
    parser.add_argument(
        "--seed", action="store_true", help="with STRIPE_API_KEY: create demo data in Stripe"
    )
    return parser.parse_args(argv)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def check_key(key: str) -> None:
    """Refuse anything but a test-mode secret or restricted key."""
    if key.startswith(("sk_live_", "rk_live_")):
        sys.exit("STRIPE_API_KEY is a live key: the demo only runs in test mode (sk_test_...).")
    if not key.startswith(("sk_test_", "rk_test_")):
        sys.exit(
            "STRIPE_API_KEY must be a Stripe test key (sk_test_...); unset it for localstripe."
        )


@dataclass
class Seeded:
    """What the seed created, for the hints printed at start-up."""

    customers: dict[str, str] = field(default_factory=dict)  # email -> cus_
    subscriptions: dict[str, str] = field(default_factory=dict)  # email -> sub_
    counts: dict[str, int] = field(default_factory=dict)
    failed_event: str | None = None


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    key = os.environ.get("STRIPE_API_KEY", "").strip()
    local = not key
    if not local:
        check_key(key)
    if not port_is_free(args.port):
        sys.exit(
            f"{HOST}:{args.port} is in use: stop what listens there, or pick another port "
            f'(make demo DEMO_ARGS="--port {args.port + 1}").'
        )

    # Ctrl-C raises KeyboardInterrupt even when started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    tmp = None if args.db else Path(tempfile.mkdtemp(prefix="si-demo-"))
    db = args.db or tmp / "demo.sqlite3"  # type: ignore[operator]
    failure = ""
    localstripe = None
    localstripe_pid: int | None = None
    server = None
    try:
        os.environ["DJANGO_SETTINGS_MODULE"] = "example.settings"
        os.environ["EXAMPLE_DB"] = str(db)
        print("django-stripe-integrations demo")
        if local:
            from stripe_integrations.testing.localstripe import LocalStripe

            ls_port = args.localstripe_port
            if ls_port is None and port_is_free(DEFAULT_LOCALSTRIPE_PORT):
                ls_port = DEFAULT_LOCALSTRIPE_PORT
            localstripe = LocalStripe(port=ls_port, host=HOST)
            localstripe.start()
            localstripe_pid = localstripe.pid
            os.environ["EXAMPLE_STRIPE_API_BASE"] = localstripe.url
            os.environ["EXAMPLE_WEBHOOK_SECRET"] = "whsec_demo_" + secrets.token_hex(16)
            print(f"  Stripe     localstripe at {localstripe.url} (pid {localstripe.pid})")
        else:
            print(f"  Stripe     Stripe test mode, key {key[:8]}...{key[-4:]}")
        print(f"  database   {db} (SQLite)")

        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        password = args.admin_password or secrets.token_urlsafe(9)
        admin = create_admin(password)

        seeded = Seeded()
        seeded_at = time.monotonic()
        if local:
            seeded = seed(admin, local=True)
            seeded_at = time.monotonic()
            sync_localstripe()
            seeded.failed_event = fail_one_event(seeded)
        else:
            if args.seed:
                seeded = seed(admin, local=False)
            print("  sync       manage.py stripe_sync (every resource)")
            call_command("stripe_sync")
        print("  mirrored   " + mirrored_counts())

        webhook_url = f"http://{HOST}:{args.port}/stripe/webhook/"
        if localstripe is not None and not args.no_webhook:
            # localstripe sends each event ~1 s after the change, to the endpoints registered
            # by then: let the seed's events go by, so only your changes flow back.
            time.sleep(max(0.0, seeded_at + 1.5 - time.monotonic()))
            secret = os.environ["EXAMPLE_WEBHOOK_SECRET"]
            localstripe.register_webhook(WEBHOOK_ID, webhook_url, secret)
            print(f"  webhooks   localstripe -> {webhook_url} (signed)")

        server = make_server(args.port)
        print_banner(args, password, seeded, localstripe, webhook_url)
        server.serve_forever()
    except (CommandError, StripeIntegrationError, stripe.StripeError) as exc:
        failure = f"demo: could not start: {exc}"  # Stripe unreachable, a bad key...
    except KeyboardInterrupt:
        print("\nstopping (Ctrl-C)...", flush=True)
    except Stop as exc:
        print(f"\nstopping ({exc})...", flush=True)
    finally:
        if server is not None:
            server.server_close()
        if localstripe is not None and localstripe_pid is not None:
            status = localstripe.stop()
            print(f"stopped localstripe (pid {localstripe_pid}, exit status {status})", flush=True)
        if server is not None:
            print(f"stopped the server on {HOST}:{args.port}", flush=True)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if failure:
        sys.exit(failure)


def create_admin(password: str) -> Any:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username="admin",
        defaults={"email": "admin@example.com", "first_name": "Ada", "last_name": "Admin"},
    )
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    return user


# -- seeding ---------------------------------------------------------------------------------


def seed(admin: Any, *, local: bool) -> Seeded:
    """Create demo data in Stripe (localstripe, or a test account with ``--seed``).

    The admin becomes a customer through the library (``Customer.get_or_create``), so it is
    linked to the user; the others are created straight in Stripe, as if they came before
    the project, and reach the mirror through the sync.
    """
    from stripe_integrations.client import get_client
    from stripe_integrations.models import Customer

    client = get_client()
    seeded = Seeded()
    plans = {}
    catalog = [
        ("Starter", "starter", 900, "usd"),
        ("Pro", "pro", 2900, "usd"),
        ("Team (JPY)", "team-jpy", 12000, "jpy"),
    ]
    for name, slug, amount, currency in catalog:
        product = client.v1.products.create(params={"name": name})
        if local:  # localstripe has no Prices API: legacy plans (mirrored as prices)
            plan = client.v1.plans.create(
                params={
                    "product": product.id,
                    "amount": amount,
                    "currency": currency,
                    "interval": "month",
                    "nickname": f"{name} monthly",
                }
            )
        else:
            plan = client.v1.prices.create(
                params={
                    "product": product.id,
                    "unit_amount": amount,
                    "currency": currency,
                    "recurring": {"interval": "month"},
                    "nickname": f"{name} monthly",
                }
            )
        plans[slug] = plan.id
    seeded.counts["products"] = len(catalog)

    admin_customer, _ = Customer.get_or_create(admin)
    people = [
        # email, name, card number (localstripe) / test PaymentMethod (Stripe), plan, metadata
        (admin_customer.stripe_id, "Ada Admin", "4242424242424242", "pm_card_visa", "pro", {}),
        ("jenny@example.com", "Jenny Rosen", "4242424242424242", "pm_card_visa", "starter", {}),
        (
            "grace@example.com",
            "Grace Hopper",
            "5555555555554444",
            "pm_card_mastercard",
            "team-jpy",
            {"crm": "down"},
        ),
        ("alan@example.com", "Alan Turing", "4000056655665556", "pm_card_visa_debit", None, {}),
    ]
    for who, name, number, test_pm, plan_slug, metadata in people:
        if who.startswith("cus_"):
            customer_id, email = who, admin.email
        else:
            email = who
            customer_id = client.v1.customers.create(params={"email": email, "name": name}).id
        if local:
            pm_id = client.v1.payment_methods.create(
                params={"type": "card", "card": {"number": number, **CARD}}
            ).id
        else:
            pm_id = test_pm
        pm = client.v1.payment_methods.attach(pm_id, params={"customer": customer_id})
        update: dict[str, Any] = {"invoice_settings": {"default_payment_method": pm.id}}
        if metadata:
            update["metadata"] = metadata
        client.v1.customers.update(customer_id, params=update)
        seeded.customers[email] = customer_id
        if plan_slug:
            sub = client.v1.subscriptions.create(
                params={
                    "customer": customer_id,
                    "items": [{"plan" if local else "price": plans[plan_slug]}],
                }
            )
            seeded.subscriptions[email] = sub.id

    # Alan subscribed once and canceled; the admin has a paid one-off invoice and a draft.
    alan = seeded.customers["alan@example.com"]
    sub = client.v1.subscriptions.create(
        params={"customer": alan, "items": [{"plan" if local else "price": plans["starter"]}]}
    )
    client.v1.subscriptions.cancel(sub.id)
    admin_id = admin_customer.stripe_id
    include: dict[str, Any] = {} if local else {"pending_invoice_items_behavior": "include"}
    client.v1.invoice_items.create(
        params={
            "customer": admin_id,
            "amount": 4900,
            "currency": "usd",
            "description": "Onboarding session",
        }
    )
    invoice = client.v1.invoices.create(params={"customer": admin_id, **include})
    client.v1.invoices.pay(invoice.id)
    client.v1.invoice_items.create(
        params={
            "customer": admin_id,
            "amount": 1250,
            "currency": "usd",
            "description": "Extra seat",
        }
    )
    client.v1.invoices.create(params={"customer": admin_id, **include})
    seeded.counts["customers"] = len(people)
    seeded.counts["subscriptions"] = len(seeded.subscriptions) + 1
    return seeded


def sync_localstripe() -> None:
    """Mirror the seeded localstripe account.

    ``manage.py stripe_sync`` runs against localstripe for the lists it has (it reads them
    without ``created`` filters, which localstripe refuses), but localstripe has no Prices
    API, and the default run stops at the first resource that fails. So the demo mirrors it
    through the public actions instead: every customer (``StripeCustomer.list``) with its
    default card and subscriptions (``StripeCustomer.sync``), the products and plans, and each
    customer's invoices.
    """
    from stripe_integrations.actions import StripeCustomer, StripeProduct
    from stripe_integrations.client import get_client
    from stripe_integrations.sync import sync_invoices, sync_prices

    print("  sync       StripeCustomer.list() + StripeCustomer.sync() for each customer")
    client = get_client()
    StripeProduct.list()
    sync_prices(client.v1.plans.list(params={"limit": 100}).auto_paging_iter())
    for customer in list(StripeCustomer.list()):
        StripeCustomer.sync(customer)
        invoices = client.v1.invoices.list(params={"customer": customer.stripe_id, "limit": 100})
        sync_invoices(invoices.auto_paging_iter())


def fail_one_event(seeded: Seeded) -> str | None:
    """Store Grace's ``customer.updated`` event from localstripe's Events API and process it
    once: the example's CRM handler (``example/handlers.py``) raises, so the admin shows one
    failed event to retry once the cause is fixed."""
    from stripe_integrations.client import get_client
    from stripe_integrations.sync import mapping
    from stripe_integrations.webhooks.processing import process_event, store_event

    grace = seeded.customers["grace@example.com"]
    events = get_client().v1.events.list(params={"limit": 100}).auto_paging_iter()
    for event in events:
        data = mapping.as_dict(event)
        if data.get("type") == "customer.updated" and data["data"]["object"].get("id") == grace:
            stored, _ = store_event(data, source="api")
            if stored is not None:
                log = logging.getLogger("stripe_integrations")
                level, log.level = log.level, logging.ERROR  # it fails on purpose
                try:
                    process_event(stored.pk)
                finally:
                    log.setLevel(level)
                print(f"  events     {stored.stripe_id} (customer.updated) failed on purpose")
                return stored.stripe_id
    return None


def mirrored_counts() -> str:
    from stripe_integrations.models import (
        Customer,
        Event,
        Invoice,
        PaymentMethod,
        Price,
        Product,
        Subscription,
    )

    counts = [
        (Customer, "customers"),
        (PaymentMethod, "payment methods"),
        (Product, "products"),
        (Price, "prices/plans"),
        (Subscription, "subscriptions"),
        (Invoice, "invoices"),
        (Event, "events"),
    ]
    return ", ".join(f"{model.objects.count()} {label}" for model, label in counts)


# -- serving ---------------------------------------------------------------------------------


def make_server(port: int) -> Any:
    """Django's threaded development server (what runserver uses), without autoreload, bound
    to loopback; static files (the admin's CSS) are served by staticfiles' handler."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    server = ThreadedWSGIServer((HOST, port), WSGIRequestHandler, allow_reuse_address=True)
    server.set_app(StaticFilesHandler(get_wsgi_application()))
    return server


def print_banner(
    args: argparse.Namespace, password: str, seeded: Seeded, localstripe: Any, webhook_url: str
) -> None:
    base = f"http://{HOST}:{args.port}"
    how = "given" if args.admin_password else "random, new each run"
    lines = [
        "",
        f"Serving the example project on {base}/  (admin: {base}/admin/)",
        f"  login: admin / {password}   ({how}; this is also a Stripe customer)",
        "",
        "Three things to try:",
    ]
    if localstripe is not None:
        curl = f"curl -s -u {LOCALSTRIPE_KEY}: {localstripe.url}/v1"
        jenny = seeded.customers.get("jenny@example.com", "cus_...")
        jenny_sub = seeded.subscriptions.get("jenny@example.com", "sub_...")
        grace = seeded.customers.get("grace@example.com", "cus_...")
        flow = (
            "     and the webhook (customer.updated) brings it back ~1 s later: reload the page."
            if not args.no_webhook
            else "     then press 'Sync from Stripe' on her page (--no-webhook: no event comes)."
        )
        admin_url = f"{base}/admin/stripe_integrations"
        lines += [
            f"  1. Customers ({admin_url}/customer/): change Jenny in Stripe,",
            f"       {curl}/customers/{jenny} -d name='Jenny Q. Rosen' >/dev/null",
            flow,
            "     A change that sends no webhook (localstripe never sends",
            "     customer.subscription.updated) reaches the mirror by a sync: after",
            f"       {curl}/subscriptions/{jenny_sub} -d cancel_at_period_end=true >/dev/null",
            f"     open the subscription ({admin_url}/subscription/)",
            "     and press 'Sync from Stripe' (or select rows and use the sync action).",
            f"  2. My billing: {base}/billing/ (the admin's customer, card, subscriptions,",
            "     invoices; example/views.py + example/templates/example/billing.html).",
            f"  3. Events: {admin_url}/event/?status__exact=failed",
        ]
        if seeded.failed_event:
            lines += [
                f"     {seeded.failed_event} failed: example/handlers.py raises while Grace's",
                "     metadata says crm=down. Fix the cause, then select it and run",
                "     'Retry selected events':",
                f"       {curl}/customers/{grace} -d 'metadata[crm]=' >/dev/null",
            ]
    else:
        lines += [
            f"  1. Customers: {base}/admin/stripe_integrations/customer/ - change one in the",
            "     Stripe dashboard (test mode), then press 'Sync from Stripe' on its page.",
            f"  2. My billing: {base}/billing/ (the admin's own Stripe customer"
            + (")" if args.seed else '; make demo DEMO_ARGS="--seed" creates one)'),
            f"  3. Events: {base}/admin/stripe_integrations/event/ - forward webhooks with the",
            f"     Stripe CLI: stripe listen --forward-to {HOST}:{args.port}/stripe/webhook/",
            "     and put the whsec_... it prints into STRIPE_WEBHOOK_SECRET, then restart:",
            "       STRIPE_API_KEY=sk_test_... STRIPE_WEBHOOK_SECRET=whsec_... make demo",
        ]
        if not os.environ.get("STRIPE_WEBHOOK_SECRET"):
            lines.append("     (STRIPE_WEBHOOK_SECRET is unset: deliveries are refused with 400.)")
    lines += ["", "Ctrl-C stops the server and everything the demo started.", ""]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
