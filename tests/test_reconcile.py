"""``stripe_reconcile``: missing, stale and extra rows, and ``--fix``."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from stripe_integrations.backfill import SyncSettings, reconcile, run_sync
from stripe_integrations.client import get_client
from stripe_integrations.models import Customer, PaymentMethod, Subscription
from stripe_integrations.testing import FakeStripe

pytestmark = pytest.mark.django_db

BASE = 1_700_000_000


def fast(**kwargs: Any) -> SyncSettings:
    kwargs.setdefault("rate", 10_000.0)
    kwargs.setdefault("backoff", lambda attempt: 0.0)
    return SyncSettings(**kwargs)


@pytest.fixture
def account(fake_stripe: FakeStripe) -> dict[str, Any]:
    """250 customers (3 a second), one payment method for every 10th, 40 subscriptions;
    all mirrored."""
    customers = [
        fake_stripe.add("customer", email=f"c{i}@example.com", created=BASE + i // 3)["id"]
        for i in range(250)
    ]
    pms = [fake_stripe.add("payment_method", customer=c)["id"] for c in customers[::10]]
    product = fake_stripe.add("product", name="Plan")
    price = fake_stripe.add(
        "price",
        product=product["id"],
        unit_amount=900,
        currency="usd",
        recurring={"interval": "month"},
    )
    subs = [
        fake_stripe.add(
            "subscription",
            customer=customers[i],
            items=[{"price": price["id"]}],
            created=BASE + 100 + i,
        )["id"]
        for i in range(40)
    ]
    run_sync(["customers", "payment_methods", "subscriptions"], fast(workers=3))
    fake_stripe.reset_requests()
    return {"customers": customers, "pms": pms, "subs": subs, "fake": fake_stripe}


def by_name(report: list[Any]) -> dict[str, Any]:
    return {d.resource: d for d in report}


def test_a_faithful_mirror_is_clean(account: dict[str, Any]) -> None:
    report = by_name(reconcile(settings=fast(workers=4)))
    for name in ("customers", "payment_methods", "subscriptions"):
        assert report[name].clean, report[name].as_dict()
    assert report["customers"].listed == 250 and report["customers"].compared_rows == 250
    assert report["payment_methods"].listed == 25
    assert report["subscriptions"].listed == 40
    assert not account["fake"].requests_to("POST", "*")


def test_one_query_per_page_when_nothing_differs(
    account: dict[str, Any], django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(3):  # 250 customers: 3 pages, one SELECT each
        [drift] = reconcile(["customers"], settings=fast(workers=1, batch_size=100))
    assert drift.clean


def test_reports_missing_stale_and_extra_then_fixes_them(account: dict[str, Any]) -> None:
    fake: FakeStripe = account["fake"]
    customers, subs, pms = account["customers"], account["subs"], account["pms"]
    # missing: a row lost locally
    Customer.objects.filter(stripe_id=customers[7]).delete()
    # stale: changed locally, and changed in Stripe without a webhook
    Customer.objects.filter(stripe_id=customers[8]).update(email="wrong@example.com")
    fake.update("customer", customers[9], name="Renamed In Stripe")
    fake.update("subscription", subs[2], status="past_due")
    # extra: a row Stripe never had, and a customer deleted in Stripe while we looked away
    Customer.objects.create(
        stripe_id="cus_ghost", livemode=False, created=datetime.fromtimestamp(BASE + 5, tz=UTC)
    )
    get_client().v1.customers.delete(customers[11])
    PaymentMethod.objects.create(
        stripe_id="pm_ghost", livemode=False, customer_id=customers[0], object_type="card"
    )

    report = by_name(reconcile(settings=fast(workers=3)))
    c = report["customers"]
    assert (c.missing, c.stale, c.extra) == (1, 2, 2)
    assert c.samples["missing"] == [customers[7]]
    assert sorted(c.samples["stale"]) == sorted([customers[8], customers[9]])
    assert sorted(c.samples["extra"]) == sorted(["cus_ghost", customers[11]])
    s = report["subscriptions"]
    # Deleting a customer cancels its subscriptions: that one is stale too.
    assert (s.missing, s.stale, s.extra) == (0, 2, 0)
    assert sorted(s.samples["stale"]) == sorted([subs[2], subs[11]])
    p = report["payment_methods"]
    assert (p.missing, p.stale, p.extra, p.samples["extra"]) == (0, 0, 1, ["pm_ghost"])
    assert Customer.objects.get(stripe_id=customers[8]).email == "wrong@example.com"  # no fix

    fixed = by_name(reconcile(fix=True, settings=fast(workers=3)))
    assert fixed["customers"].fixed == 5
    assert fixed["subscriptions"].fixed == 2 and fixed["payment_methods"].fixed == 1
    assert Customer.objects.filter(stripe_id=customers[7]).exists()
    assert Customer.objects.get(stripe_id=customers[8]).email == "c8@example.com"
    assert Customer.objects.get(stripe_id=customers[9]).name == "Renamed In Stripe"
    assert Subscription.objects.get(stripe_id=subs[2]).status == "past_due"
    assert Subscription.objects.get(stripe_id=subs[11]).status == "canceled"
    ghost = Customer.objects.get(stripe_id="cus_ghost")
    assert (ghost.is_active, ghost.date_purged is not None) == (False, True)
    assert not Customer.objects.get(stripe_id=customers[11]).is_active
    assert not PaymentMethod.objects.filter(stripe_id="pm_ghost").exists()
    assert PaymentMethod.objects.filter(stripe_id=pms[0]).exists()

    again = by_name(reconcile(settings=fast(workers=3)))
    assert all(d.clean for d in again.values()), {k: d.as_dict() for k, d in again.items()}


def test_command_output_and_check(account: dict[str, Any]) -> None:
    Customer.objects.filter(stripe_id=account["customers"][3]).delete()
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("stripe_reconcile", "customers", "--check", "-v", "2", stdout=out)
    assert failed.value.returncode == 1
    text = out.getvalue()
    assert "customers: 250 in Stripe, 1 missing, 0 stale, 0 extra" in text
    assert f"missing: {account['customers'][3]}" in text
    out = io.StringIO()
    call_command("stripe_reconcile", "customers", "--fix", "--json", stdout=out)
    [entry] = json.loads(out.getvalue())
    assert (entry["resource"], entry["missing"], entry["fixed"]) == ("customers", 1, 1)
    call_command("stripe_reconcile", "customers", "--check", stdout=io.StringIO())


def test_since_limits_what_is_compared(account: dict[str, Any]) -> None:
    Customer.objects.filter(stripe_id=account["customers"][0]).delete()  # created at BASE
    [drift] = reconcile(["customers"], since=BASE + 10, settings=None, workers=2, rate=10_000)
    assert drift.clean and drift.listed == 250 - 30


def test_periodic_reconcile_task(account: dict[str, Any]) -> None:
    """The Celery beat entry point, called in-process: a JSON-friendly report."""
    from stripe_integrations.backfill.tasks import reconcile_task

    Customer.objects.filter(stripe_id=account["customers"][5]).delete()
    [entry] = reconcile_task(["customers"], fix=True, since_days=None)
    assert (entry["resource"], entry["missing"], entry["fixed"]) == ("customers", 1, 1)
    assert json.loads(json.dumps(entry)) == entry
    assert Customer.objects.filter(stripe_id=account["customers"][5]).exists()
