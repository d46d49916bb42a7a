"""One freshness rule in the one write path: a mirrored row carries when its object was
fetched from Stripe (``synced_at``), and every write skips a row whose stored fetch is
later, in the upsert statement itself, on both databases and both writers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stripe_integrations.actions import StripeCustomer
from stripe_integrations.backfill.engine import PageResult
from stripe_integrations.backfill.pages import Page
from stripe_integrations.backfill.registry import get_resource
from stripe_integrations.backfill.sinks import WriteSink
from stripe_integrations.backfill.slices import Slice
from stripe_integrations.models import Customer, Subscription, SubscriptionItem
from stripe_integrations.sync import bulk
from stripe_integrations.sync.fetch import refresh_customer
from stripe_integrations.sync.upsert import (
    Plan,
    sync_customers,
    sync_subscriptions,
    upsert_rows,
)
from stripe_integrations.testing import FakeStripe

WRITERS = ["orm", "bulk"]


@pytest.fixture(params=WRITERS)
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``orm``: Django model instances (every database); ``bulk``: the PostgreSQL writer."""
    if request.param == "bulk":
        if connection.vendor != "postgresql":
            pytest.skip("the bulk writer is PostgreSQL's (run with DB=postgres)")
    else:
        monkeypatch.setattr(bulk, "usable", lambda model: False)
    yield request.param


def customer(email: str, stripe_id: str = "cus_fresh") -> dict[str, Any]:
    return {"id": stripe_id, "object": "customer", "email": email, "livemode": False}


def stored(stripe_id: str = "cus_fresh") -> Customer:
    return Customer.objects.get(stripe_id=stripe_id)


STORED_AT = timezone.now() - timedelta(hours=1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("offset", "written"),
    [
        (timedelta(seconds=-1), False),
        (timedelta(microseconds=-1), False),
        (timedelta(0), True),
        (timedelta(microseconds=1), True),
        (timedelta(minutes=5), True),
    ],
    ids=["a-second-older", "a-microsecond-older", "equal", "a-microsecond-newer", "newer"],
)
def test_a_write_fetched_before_the_stored_row_changes_nothing(
    writer: str, offset: timedelta, written: bool
) -> None:
    sync_customers([customer("stored@example.com")], fetched_at=STORED_AT)
    at = STORED_AT + offset

    with CaptureQueriesContext(connection) as captured:
        rows = sync_customers(
            [customer("written@example.com")], fetched_at=at, returning=writer == "orm"
        )

    row = stored()
    assert row.email == ("written@example.com" if written else "stored@example.com")
    assert row.synced_at == (at if written else STORED_AT)
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    if writer == "bulk":
        assert rows == [] and statements == ["INSERT"]
        return
    # The ORM path returns the row written, or the stored row (one SELECT, skipped ids only).
    [returned] = rows
    assert (returned.email, returned.synced_at, returned.pk) == (row.email, row.synced_at, row.pk)
    assert statements == (["INSERT"] if written else ["INSERT", "SELECT"])


@pytest.mark.django_db
def test_the_backfill_write_reads_nothing_back_for_stale_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``returning=False`` on the ORM path (SQLite's backfill): the upsert alone."""
    monkeypatch.setattr(bulk, "usable", lambda model: False)
    sync_customers([customer("stored@example.com")], fetched_at=STORED_AT)
    with CaptureQueriesContext(connection) as captured:
        rows = sync_customers(
            [customer("stale@example.com")], fetched_at=STORED_AT - timedelta(1), returning=False
        )
    assert rows == [] and len(captured) == 1
    assert stored().email == "stored@example.com"


@pytest.mark.django_db
def test_without_returning_the_rows_are_read_back_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SQLite before 3.35 has no ``RETURNING``: one ``SELECT`` reads every row back, and a
    row whose stored fetch time is not the written one counts as skipped."""
    monkeypatch.setattr(bulk, "usable", lambda model: False)
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    sync_customers([customer("stored@example.com", "cus_a")], fetched_at=STORED_AT)
    objects = [customer("new@example.com", "cus_a"), customer("new@example.com", "cus_b")]
    skipped: set[str] = set()
    rows = [
        {"stripe_id": o["id"], "email": o["email"], "synced_at": STORED_AT - timedelta(1)}
        for o in objects
    ]
    with CaptureQueriesContext(connection) as captured:
        written = upsert_rows(Customer, rows, skipped=skipped)
    assert [q["sql"].split()[0].upper() for q in captured.captured_queries] == [
        "INSERT",
        "SELECT",
    ]
    assert [(r.stripe_id, r.email) for r in written] == [
        ("cus_a", "stored@example.com"),
        ("cus_b", "new@example.com"),
    ]
    assert all(r.pk for r in written) and skipped == {"cus_a"}


@pytest.mark.django_db
def test_many_rows_some_stale_are_written_in_one_statement_and_one_select(writer: str) -> None:
    old, new = STORED_AT - timedelta(minutes=1), STORED_AT + timedelta(minutes=1)
    sync_customers(
        [customer(f"stored{i}@example.com", f"cus_{i}") for i in range(6)], fetched_at=STORED_AT
    )
    # Even ids were fetched later than this write by someone else.
    Customer.objects.filter(stripe_id__in=["cus_0", "cus_2", "cus_4"]).update(synced_at=new)
    objects = [customer(f"page{i}@example.com", f"cus_{i}") for i in range(8)]

    with CaptureQueriesContext(connection) as captured:
        rows = sync_customers(objects, fetched_at=STORED_AT, returning=writer == "orm")

    emails = dict(Customer.objects.values_list("stripe_id", "email"))
    assert emails == {
        "cus_0": "stored0@example.com",
        "cus_1": "page1@example.com",
        "cus_2": "stored2@example.com",
        "cus_3": "page3@example.com",
        "cus_4": "stored4@example.com",
        "cus_5": "page5@example.com",
        "cus_6": "page6@example.com",
        "cus_7": "page7@example.com",
    }
    assert len(captured) == (1 if writer == "bulk" else 2)
    if writer == "orm":
        assert [(r.stripe_id, r.email) for r in rows] == sorted(emails.items())
        assert all(r.pk for r in rows)
    # An older write than every stored row: nothing changes, whatever the writer.
    sync_customers(objects, fetched_at=old, returning=writer == "orm")
    assert dict(Customer.objects.values_list("stripe_id", "email")) == emails


@pytest.mark.django_db
def test_a_row_without_a_fetch_time_is_always_replaced(writer: str) -> None:
    sync_customers([customer("stored@example.com")])
    Customer.objects.update(synced_at=None)
    sync_customers(
        [customer("written@example.com")], fetched_at=STORED_AT, returning=writer == "orm"
    )
    assert (stored().email, stored().synced_at) == ("written@example.com", STORED_AT)


@pytest.mark.django_db
def test_rows_given_without_synced_at_are_stamped_with_now(writer: str) -> None:
    before = timezone.now()
    upsert_rows(Customer, [{"stripe_id": "cus_raw", "email": "a@example.com"}], returning=False)
    row = stored("cus_raw")
    assert row.synced_at is not None and before <= row.synced_at <= timezone.now()


@pytest.mark.django_db
def test_a_stale_deleted_stub_leaves_a_newer_row_alone(writer: str) -> None:
    sync_customers([customer("alive@example.com")], fetched_at=STORED_AT)
    stub = {"id": "cus_fresh", "object": "customer", "deleted": True}
    Plan(STORED_AT - timedelta(seconds=1)).mark_deleted(Customer, [stub], "is_active").apply(
        returning=writer == "orm"
    )
    assert (stored().is_active, stored().date_purged) == (True, None)
    later = STORED_AT + timedelta(seconds=1)
    Plan(later).mark_deleted(Customer, [stub], "is_active").apply(returning=writer == "orm")
    row = stored()
    assert (row.is_active, row.synced_at, row.email) == (False, later, "alive@example.com")


@pytest.mark.django_db
def test_local_columns_are_written_even_when_the_mirrored_ones_are_not(
    django_user_model: Any,
) -> None:
    """``StripeCustomer.create`` links the user to the customer it created; a webhook that
    fetched the new customer later may have written its row first."""
    user = django_user_model.objects.create(username="fresh-local")
    sync_customers([customer("from-webhook@example.com")], fetched_at=STORED_AT)
    local = {"subscriber_id": user.pk, "is_active": True, "date_purged": None}

    [row] = sync_customers(
        [customer("from-create@example.com")],
        local=local,
        fetched_at=STORED_AT - timedelta(seconds=1),
    )

    assert (row.email, row.subscriber_id, row.synced_at) == (
        "from-webhook@example.com",
        user.pk,
        STORED_AT,
    )
    assert (stored().email, stored().subscriber_id) == ("from-webhook@example.com", user.pk)


def subscription(items: dict[str, int]) -> dict[str, Any]:
    return {
        "id": "sub_fresh",
        "object": "subscription",
        "customer": "cus_fresh",
        "status": "active",
        "items": {
            "object": "list",
            "data": [
                {"id": i, "object": "subscription_item", "quantity": q, "price": "price_1"}
                for i, q in items.items()
            ],
        },
    }


def items() -> dict[str, tuple[int | None, datetime | None]]:
    return {
        i.stripe_id: (i.quantity, i.synced_at)
        for i in SubscriptionItem.objects.filter(subscription_id="sub_fresh")
    }


@pytest.mark.django_db
def test_a_stale_parent_neither_prunes_nor_overwrites_nor_brings_back_children(
    writer: str,
) -> None:
    newer = STORED_AT + timedelta(seconds=30)
    sync_subscriptions([subscription({"si_0": 1, "si_1": 1})], fetched_at=STORED_AT)
    # A webhook fetched the subscription later: an item was removed, a quantity changed,
    # an item was added.
    sync_subscriptions([subscription({"si_1": 2, "si_2": 1})], fetched_at=newer)
    assert set(items()) == {"si_1", "si_2"}

    with CaptureQueriesContext(connection) as captured:
        sync_subscriptions(
            [subscription({"si_0": 1, "si_1": 1})], fetched_at=STORED_AT, returning=writer == "orm"
        )

    assert items() == {"si_1": (2, newer), "si_2": (1, newer)}
    # The subscription's upsert (skipped) and, on the ORM path, its stored row read back:
    # the stale subscription's items are neither written nor pruned.
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    assert statements == (["INSERT"] if writer == "bulk" else ["INSERT", "SELECT"])
    assert Subscription.objects.get().synced_at == newer
    # A fresh parent prunes what it no longer lists.
    latest = newer + timedelta(seconds=1)
    sync_subscriptions([subscription({"si_2": 3})], fetched_at=latest, returning=writer == "orm")
    assert items() == {"si_2": (3, latest)}


@pytest.mark.django_db
def test_a_child_fetched_after_its_parent_is_not_pruned(writer: str) -> None:
    """An item written by a later fetch than the parent's that drops it stays (the rule
    compares the child's own fetch time)."""
    sync_subscriptions([subscription({"si_1": 1})], fetched_at=STORED_AT)
    later = STORED_AT + timedelta(minutes=1)
    Plan(later).upsert(
        SubscriptionItem,
        [{"stripe_id": "si_late", "subscription_id": "sub_fresh", "quantity": 7}],
    ).apply(returning=writer == "orm")

    sync_subscriptions([subscription({"si_1": 1})], fetched_at=STORED_AT + timedelta(seconds=1))

    assert set(items()) == {"si_1", "si_late"}


def page_result(objects: list[dict[str, Any]], fetched_at: datetime, planned: bool) -> PageResult:
    resource = get_resource(objects[0]["object"] + "s")
    page = Page(objects=objects, has_more=False, last_id=None, last_created=None)
    page.fetched_at = fetched_at
    plan = resource.planner(objects, fetched_at=fetched_at) if planned else None
    assert resource.planner is not None
    return PageResult(Slice(resource.name, False, 0, 2_000_000_000), page, [], plan)


@pytest.mark.django_db
@pytest.mark.parametrize("planned", [True, False], ids=["mapped-by-fetcher", "mapped-by-writer"])
def test_a_backfill_page_older_than_a_webhook_fetch_never_overwrites_it(
    fake_stripe: FakeStripe, writer: str, planned: bool
) -> None:
    obj = fake_stripe.add("customer", email="old@example.com")
    page_fetched_at = timezone.now()
    page = [dict(fake_stripe.get("customer", obj["id"]))]
    fake_stripe.update("customer", obj["id"], email="new@example.com")
    refresh_customer(obj["id"])  # the webhook's refresh: fetched after the page
    webhook_at = stored(obj["id"]).synced_at
    assert webhook_at is not None and webhook_at > page_fetched_at

    result = page_result(page, page_fetched_at, planned)
    WriteSink(page_fetched_at).write(get_resource("customers"), [result])

    row = stored(obj["id"])
    assert (row.email, row.synced_at) == ("new@example.com", webhook_at)


@pytest.mark.django_db
@pytest.mark.parametrize("planned", [True, False], ids=["mapped-by-fetcher", "mapped-by-writer"])
def test_a_backfill_page_of_a_stale_subscription_keeps_newer_items(
    writer: str, planned: bool
) -> None:
    newer = STORED_AT + timedelta(seconds=30)
    sync_subscriptions([subscription({"si_0": 1, "si_1": 1})], fetched_at=STORED_AT)
    sync_subscriptions([subscription({"si_1": 2, "si_2": 1})], fetched_at=newer)  # webhook

    result = page_result([subscription({"si_0": 1, "si_1": 1})], STORED_AT, planned)
    WriteSink(STORED_AT).write(get_resource("subscriptions"), [result])

    assert items() == {"si_1": (2, newer), "si_2": (1, newer)}


@pytest.mark.django_db(transaction=True)
def test_a_slow_customer_sync_does_not_overwrite_a_later_webhook_refresh(
    fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``StripeCustomer.sync`` reads the customer (old state), then waits before writing;
    meanwhile the customer changes in Stripe and a webhook refresh fetches and writes the
    new state. The slow sync, written last, must leave the newer state in place."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL (run with DB=postgres)")
    obj = fake_stripe.add("customer", email="old@example.com")
    local = sync_customers([obj])[0]
    fetched, resume = threading.Event(), threading.Event()
    original = StripeCustomer._fetch_default_payment

    def held(data: Any) -> Any:
        if threading.current_thread().name == "slow-sync":
            fetched.set()  # the customer was retrieved: old state
            assert resume.wait(30)
        return original(data)

    monkeypatch.setattr(StripeCustomer, "_fetch_default_payment", staticmethod(held))
    outcome: dict[str, Any] = {}

    def slow_sync() -> None:
        try:
            outcome["customer"] = StripeCustomer.sync(Customer.objects.get(pk=local.pk))
        except BaseException as exc:  # pragma: no cover - reported below
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_sync, name="slow-sync")
    thread.start()
    try:
        assert fetched.wait(30)
        assert fake_stripe.get("customer", obj["id"])["email"] == "old@example.com"
        fake_stripe.update("customer", obj["id"], email="new@example.com")
        refresh_customer(obj["id"])  # the webhook handler's refresh, on its own connection
        assert stored(obj["id"]).email == "new@example.com"
    finally:
        resume.set()
        thread.join(30)

    assert "error" not in outcome
    assert stored(obj["id"]).email == "new@example.com"
    assert outcome["customer"].email == "new@example.com"  # the caller sees the stored row


@pytest.mark.django_db
def test_create_links_the_user_even_when_a_webhook_wrote_the_customer_first(
    fake_stripe: FakeStripe, django_user_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``customer.created`` may be delivered and handled (a later fetch) before
    ``StripeCustomer.create`` writes the customer Stripe returned: the row keeps the
    webhook's fetch and still gets the subscriber link."""
    from stripe_integrations.actions import customer as customer_actions

    user = django_user_model.objects.create(username="fresh-create", email="c@example.com")
    original = customer_actions.sync_customers

    def webhook_first(objects: Any, **kwargs: Any) -> Any:
        [obj] = objects
        fake_stripe.update("customer", obj.id, name="Renamed before the create wrote")
        refresh_customer(obj.id)
        return original(objects, **kwargs)

    monkeypatch.setattr(customer_actions, "sync_customers", webhook_first)
    created, was_created = StripeCustomer.get_or_create(user, "c@example.com")

    row = stored(created.stripe_id)
    assert was_created is True
    assert (row.subscriber_id, row.is_active) == (user.pk, True)
    assert row.name == "Renamed before the create wrote"
    assert (created.pk, created.subscriber_id, created.name) == (row.pk, user.pk, row.name)
    assert StripeCustomer.get(user) == row


@pytest.mark.django_db
def test_a_refresh_locks_nothing_and_writes_with_one_statement(fake_stripe: FakeStripe) -> None:
    """No ``SELECT ... FOR UPDATE`` (and no savepoint around it) while Stripe answers: the
    upsert's rule orders concurrent refreshes."""
    obj = fake_stripe.add("customer", email="r@example.com")
    refresh_customer(obj["id"])
    with CaptureQueriesContext(connection) as captured:
        row = refresh_customer(obj["id"])
    assert row is not None and row.email == "r@example.com"
    assert [q["sql"].split()[0].upper() for q in captured.captured_queries] == ["INSERT"]
