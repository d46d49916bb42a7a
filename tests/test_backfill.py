"""``stripe_sync``: slicing, bulk writes, checkpoints and resume, retries, dry run."""

from __future__ import annotations

import dataclasses
import io
import itertools
import math
import threading
from collections import Counter
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from stripe_integrations.backfill import (
    SyncSettings,
    get_resource,
    reconcile,
    resource_names,
    run_sync,
)
from stripe_integrations.backfill import registry as registry_module
from stripe_integrations.backfill.engine import Engine, PageResult
from stripe_integrations.backfill.fetcher import Fetcher
from stripe_integrations.backfill.ratelimit import TokenBucket, configured_rate
from stripe_integrations.backfill.registry import Resource, normalize, register, unregister
from stripe_integrations.backfill.sinks import WriteSink
from stripe_integrations.backfill.slices import Slice, split_points
from stripe_integrations.client import get_client
from stripe_integrations.exceptions import StripeAPIError
from stripe_integrations.models import (
    Customer,
    PaymentMethod,
    Subscription,
    SubscriptionItem,
    SyncCheckpoint,
)
from stripe_integrations.testing import FakeStripe

pytestmark = pytest.mark.django_db

BASE = 1_700_000_000


def no_wait(attempt: int) -> float:
    return 0.0


def fast(**kwargs: Any) -> SyncSettings:
    """Fast settings for tests: no back-off, a high rate."""
    kwargs.setdefault("rate", 10_000.0)
    kwargs.setdefault("backoff", no_wait)
    return SyncSettings(**kwargs)


def seed_customers(fake: FakeStripe, count: int, per_second: int = 3) -> list[str]:
    """``count`` customers, ``per_second`` of them created in each second (oldest first)."""
    return [
        fake.add("customer", email=f"c{i}@example.com", created=BASE + i // per_second)["id"]
        for i in range(count)
    ]


def inserts_for(model: Any, rows: int) -> int:
    """INSERT statements Django's ``bulk_create`` issues for ``rows`` rows of ``model``
    (one, unless the database caps the parameters of a statement)."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    batch = connection.ops.bulk_batch_size(fields, [model()] * rows)
    return math.ceil(rows / batch)


def list_requests(fake: FakeStripe, path: str = "/v1/customers") -> list[Any]:
    return [r for r in fake.requests_to("GET", path) if r.status == 200]


class RecordingSink:
    """Keeps every object id handed over, to check for gaps and duplicates."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()

    def write(self, resource: Resource, results: list[PageResult]) -> None:
        with self.lock:
            self.ids += [o["id"] for r in results for o in r.page.objects]


# -- registry ----------------------------------------------------------------------------------


def test_builtin_resources_in_dependency_order() -> None:
    names = resource_names()
    assert names[:2] == ["customers", "payment_methods"]
    assert names.index("subscriptions") > names.index("payment_methods")
    for later in ("products", "prices", "coupons", "invoices", "payment_intents", "charges"):
        if later in names:  # registered once their models exist
            assert names.index(later) > names.index("customers")
    assert get_resource("payment-methods").name == "payment_methods"
    assert get_resource("customer").name == "customers"
    assert normalize("PaymentMethods") == "payment_methods"
    with pytest.raises(KeyError):
        get_resource("widgets")


def test_register_a_resource() -> None:
    custom = Resource(
        name="widgets",
        object="customer",
        model="stripe_integrations.Customer",
        sync=lambda objects: None,
        fields=lambda obj: {},
        list_path="/v1/customers",
        retrieve_path="/v1/customers/{id}",
        order=15,
    )
    register(custom)
    try:
        assert resource_names().index("widgets") == 1
        with pytest.raises(ValueError):
            register(custom)
    finally:
        unregister("widgets")
    assert "widgets" not in registry_module.resource_names()


# -- slicing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gte", "position", "parts", "density"),
    [(0, 1_700_000_000, 5, 0.5), (10, 11, 3, 100.0), (10, 20, 8, 0.0), (0, 50, 4, 0.01)],
)
def test_split_covers_the_range_once(gte: int, position: int, parts: int, density: float) -> None:
    cuts = split_points(gte, position, parts, density)
    assert len(cuts) <= parts
    assert cuts == sorted(set(cuts), reverse=True)
    assert all(gte < c <= position for c in cuts)
    slc = Slice("customers", False, gte, position + 50, cursor="cus_x", position=position)
    slc.objects = slc.listed = 100
    slc.top = position + 10
    pieces = slc.split(parts)
    bounds = sorted([(p.gte, p.lt) for p in pieces] + [(slc.gte, slc.lt)])
    assert bounds[0][0] == gte and bounds[-1][1] == position + 50
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))  # no gap
    assert slc.gte <= position  # the chain keeps the rest of its current second


def test_an_explored_range_splits_in_even_pieces() -> None:
    """Once the chain has seen a fair share of its range, the rest is cut evenly by the
    estimated number of pages, never in pieces under three pages."""
    # 1 object a second; the chain saw 200 s (2 pages); 1,000 s (10 pages) are left.
    cuts = split_points(1000, 2000, parts=5, density=1.0, seen=200)
    assert len(cuts) == 2  # 6 pieces wanted; 10 pages make 3 pieces of at least 3 pages
    widths = [a - b for a, b in itertools.pairwise([2001, *cuts, 1000])]
    assert max(widths) - min(widths) <= 1
    assert split_points(1000, 1400, parts=5, density=1.0, seen=200) == []  # 4 pages: keep


def test_a_slice_within_one_second_does_not_split() -> None:
    slc = Slice("customers", False, 100, 200, cursor="cus_x", position=100)
    assert slc.split(4) == []


@pytest.mark.parametrize("workers", [1, 3, 8])
def test_every_object_once_across_slice_borders(fake_stripe: FakeStripe, workers: int) -> None:
    """Objects created in the same second straddle pages and slices: none is skipped or
    fetched twice, whatever the number of workers."""
    ids = seed_customers(fake_stripe, 1234, per_second=7)
    sink = RecordingSink()
    resource = get_resource("customers")
    fetcher = fast().fetcher()
    engine = Engine(resource, fetcher, sink, workers=workers)
    stats = engine.run([Slice("customers", False, 0, BASE + 10_000)])
    counts = Counter(sink.ids)
    assert set(counts) == set(ids)
    assert max(counts.values()) == 1
    assert stats.objects == 1234
    if workers > 1:
        assert stats.slices > 1  # it did split
    requests = list_requests(fake_stripe)
    assert len(requests) == stats.requests == stats.pages
    assert all(r.params["limit"] == "100" for r in requests)


class NoCreatedFilter(Fetcher):
    """A server that lists without ``created`` filters (as localstripe does)."""

    refused = 0

    def get(self, path: str, params: Any = None) -> dict[str, Any]:
        if params and "created" in params:
            NoCreatedFilter.refused += 1
            raise StripeAPIError("Unexpected created", http_status=400)
        return super().get(path, params)


@pytest.mark.parametrize("workers", [1, 3])
def test_a_server_without_created_filters_is_listed_whole(
    fake_stripe: FakeStripe, workers: int
) -> None:
    """Each slice reads from the newest object and keeps its own range: every object once."""
    ids = seed_customers(fake_stripe, 345, per_second=5)
    sink = RecordingSink()
    fetcher = NoCreatedFilter(get_client(), backoff=no_wait)
    engine = Engine(get_resource("customers"), fetcher, sink, workers=workers)
    stats = engine.run(
        [
            Slice("customers", False, 0, BASE + 40),
            Slice("customers", False, BASE + 40, BASE + 10_000),
        ]
    )
    counts = Counter(sink.ids)
    assert set(counts) == set(ids)
    assert max(counts.values()) == 1
    assert stats.objects == 345
    assert fetcher.unfiltered_paths == {"/v1/customers"}
    assert all("created" not in r.params for r in list_requests(fake_stripe))


def test_all_objects_in_one_second(fake_stripe: FakeStripe) -> None:
    ids = seed_customers(fake_stripe, 250, per_second=1000)
    sink = RecordingSink()
    engine = Engine(get_resource("customers"), fast().fetcher(), sink, workers=4)
    stats = engine.run([Slice("customers", False, BASE, BASE + 5)])
    assert sorted(sink.ids) == sorted(ids)
    assert stats.pages == 3  # a single second cannot be split: one chain


# -- writing -----------------------------------------------------------------------------------


def test_sync_writes_every_customer_once_with_defaults(fake_stripe: FakeStripe) -> None:
    ids = seed_customers(fake_stripe, 420)
    pm = fake_stripe.add("payment_method", customer=ids[5])
    fake_stripe.update(
        "customer",
        ids[5],
        invoice_settings={
            "default_payment_method": pm["id"],
            "custom_fields": None,
            "footer": None,
            "rendering_options": None,
        },
    )
    [stats] = run_sync(["customers"], fast(workers=4))
    assert stats.objects == 420 and not stats.interrupted
    assert Customer.objects.count() == 420
    assert set(Customer.objects.values_list("stripe_id", flat=True)) == set(ids)
    # The default payment method came expanded in the list: mirrored, no extra request.
    assert Customer.objects.get(stripe_id=ids[5]).default_payment_method_id == pm["id"]
    assert PaymentMethod.objects.filter(stripe_id=pm["id"]).exists()
    assert not fake_stripe.requests_to("GET", "/v1/payment_methods*")
    assert all(cp.done for cp in SyncCheckpoint.objects.all())
    assert sum(SyncCheckpoint.objects.values_list("objects_synced", flat=True)) == 420


def test_sql_statements_per_page_are_constant(
    fake_stripe: FakeStripe, django_assert_num_queries: Any
) -> None:
    """A page of 100 customers (their default payment methods expanded) is written with a
    fixed number of statements: savepoint, customers upsert, payment methods upsert,
    checkpoint upsert, release. No query for rows written since the fetch: the upserts skip
    a row fetched later themselves."""
    ids = seed_customers(fake_stripe, 100)
    for cid in ids[:30]:
        pm = fake_stripe.add("payment_method", customer=cid)
        fake_stripe.update(
            "customer",
            cid,
            invoice_settings={
                "default_payment_method": pm["id"],
                "custom_fields": None,
                "footer": None,
                "rendering_options": None,
            },
        )
    resource = get_resource("customers")
    slc = Slice("customers", False, 0, BASE + 1000)
    from stripe_integrations.backfill.pages import fetch_page

    page = fetch_page(fast().fetcher(), resource, slc)
    assert len(page.objects) == 100
    slc.advance(page.listed, 100, page.last_id, page.last_created, page.first_created, False)
    sink = WriteSink(run_started=page.fetched_at)
    customer_inserts = inserts_for(Customer, 100)  # 1 on PostgreSQL; SQLite caps parameters
    pm_inserts = inserts_for(PaymentMethod, 30)
    relax = ["SET"] if connection.vendor == "postgresql" else []  # synchronous_commit off
    with django_assert_num_queries(3 + len(relax) + customer_inserts + pm_inserts) as captured:
        sink.write(resource, [PageResult(slc.copy(), page)])
    sql = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    inserts = ["INSERT"] * (customer_inserts + pm_inserts + 1)
    assert sql == ["SAVEPOINT", *relax, *inserts, "RELEASE"]
    assert Customer.objects.count() == 100 and PaymentMethod.objects.count() == 30


def test_statements_do_not_grow_with_pages(
    fake_stripe: FakeStripe, django_assert_num_queries: Any
) -> None:
    """Three pages, one writer batch each: the same statements for every page (savepoint,
    customers upsert, checkpoint upsert, release), 4 to plan the run."""
    seed_customers(fake_stripe, 300)
    relax = 1 if connection.vendor == "postgresql" else 0  # SET LOCAL synchronous_commit
    per_page = 3 + relax + inserts_for(Customer, 100)
    with django_assert_num_queries(4 + 3 * per_page):
        [stats] = run_sync(["customers"], fast(workers=1, batch_size=100))
    assert stats.pages == 3 and Customer.objects.count() == 300


def monthly_prices(fake: FakeStripe, count: int) -> list[dict[str, Any]]:
    """``count`` monthly prices of one product: 5.00, 10.00, ..."""
    product = fake.add("product", name="Plan")
    return [
        fake.add(
            "price",
            product=product["id"],
            unit_amount=500 * (n + 1),
            currency="usd",
            recurring={"interval": "month"},
        )
        for n in range(count)
    ]


def test_subscriptions_with_items_and_every_status(fake_stripe: FakeStripe) -> None:
    customer = fake_stripe.add("customer", email="s@example.com", created=BASE)
    prices = monthly_prices(fake_stripe, 2)
    subs = []
    for n in range(150):
        items = [{"price": prices[0]["id"]}] + ([{"price": prices[1]["id"]}] if n % 2 else [])
        sub = fake_stripe.add(
            "subscription", customer=customer["id"], items=items, created=BASE + n
        )
        subs.append(sub["id"])
    fake_stripe.update("subscription", subs[3], status="canceled")
    [stats] = run_sync(["subscriptions"], fast(workers=2))
    assert stats.objects == 150
    assert Subscription.objects.count() == 150
    assert Subscription.objects.get(stripe_id=subs[3]).status == "canceled"
    assert SubscriptionItem.objects.count() == 225
    assert all(
        r.params.get("status") == "all" for r in list_requests(fake_stripe, "/v1/subscriptions")
    )


def test_every_registered_resource_syncs_from_the_fake(fake_stripe: FakeStripe) -> None:
    """The default run (all resources, dependency order) against every list the fake has."""
    from django.apps import apps

    customer = fake_stripe.add("customer", email="all@example.com")
    fake_stripe.add("payment_method", customer=customer["id"])
    product = fake_stripe.add("product", name="Plan")
    price = fake_stripe.add(
        "price",
        product=product["id"],
        unit_amount=700,
        currency="usd",
        recurring={"interval": "month"},
    )
    fake_stripe.add("coupon", percent_off=10, duration="once")
    fake_stripe.add("subscription", customer=customer["id"], items=[{"price": price["id"]}])
    fake_stripe.add("invoice", customer=customer["id"])
    fake_stripe.add("payment_intent", amount=1000, currency="usd", customer=customer["id"])
    stats = {s.resource: s for s in run_sync(settings=fast(workers=2))}
    assert list(stats) == resource_names()
    for name, resource_stats in stats.items():
        model = get_resource(name).model_class
        assert model.objects.count() >= resource_stats.objects, name
        assert not resource_stats.interrupted, name
    for name in (
        "customers",
        "payment_methods",
        "products",
        "prices",
        "coupons",
        "subscriptions",
        "invoices",
        "payment_intents",
    ):
        if name in stats:
            assert stats[name].objects >= 1, name
    assert apps.get_model("stripe_integrations", "Customer").objects.count() == 1
    drift = reconcile(settings=fast(workers=2))
    assert [d.resource for d in drift] == resource_names()
    assert all(d.clean for d in drift), [d.as_dict() for d in drift if not d.clean]


def test_payment_methods_are_listed_per_customer(fake_stripe: FakeStripe) -> None:
    ids = seed_customers(fake_stripe, 45)
    pms = [fake_stripe.add("payment_method", customer=cid)["id"] for cid in ids[::3]]
    [stats] = run_sync(["payment_methods"], fast(workers=3))
    assert set(PaymentMethod.objects.values_list("stripe_id", flat=True)) == set(pms)
    assert stats.objects == len(pms)
    per_customer = fake_stripe.requests_to("GET", "/v1/customers/*/payment_methods")
    assert sorted(r.path.split("/")[3] for r in per_customer) == sorted(ids)


# -- interruption and resume ---------------------------------------------------------------------


def test_resume_after_a_failure_mid_run(fake_stripe: FakeStripe) -> None:
    """A request that keeps failing stops the run; pages written before stay written and
    --resume fetches only what is left: no gap, no page fetched twice."""
    ids = seed_customers(fake_stripe, 1000)
    original = Fetcher.get
    calls = {"n": 0}

    def failing_get(self: Fetcher, path: str, params: Any = None) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 5:
            fake_stripe.fail_next(status=500, count=3)
        return original(self, path, params)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Fetcher, "get", failing_get)
        with pytest.raises(StripeAPIError):
            run_sync(["customers"], fast(workers=1, batch_size=100, max_attempts=3))
    assert Customer.objects.count() == 400
    checkpoint = SyncCheckpoint.objects.get(resource="customers")
    assert (checkpoint.objects_synced, checkpoint.pages, checkpoint.done) == (400, 4, False)
    fake_stripe.reset_requests()
    [stats] = run_sync(["customers"], fast(workers=1, resume=True))
    assert stats.objects == 600 and stats.pages == 6
    assert len(list_requests(fake_stripe)) == 6
    assert list_requests(fake_stripe)[0].params["starting_after"] == checkpoint.cursor
    assert set(Customer.objects.values_list("stripe_id", flat=True)) == set(ids)
    assert Customer.objects.count() == 1000


def test_resume_after_the_writer_fails(fake_stripe: FakeStripe) -> None:
    """An exception while writing a page rolls that page back with its checkpoint."""
    ids = seed_customers(fake_stripe, 700, per_second=5)
    resource = get_resource("customers")
    original = resource.sync
    calls = {"n": 0}

    def exploding(objects: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("database went away")
        return original(objects)

    broken = dataclasses.replace(resource, sync=exploding)
    register(broken, replace=True)
    try:
        with pytest.raises(RuntimeError):
            run_sync(["customers"], fast(workers=3, batch_size=100))
    finally:
        register(resource, replace=True)
    written = Customer.objects.count()
    assert 0 < written < 700
    recorded = sum(SyncCheckpoint.objects.values_list("objects_synced", flat=True))
    assert recorded == written  # rows and checkpoints committed together
    [stats] = run_sync(["customers"], fast(workers=3, resume=True))
    assert set(Customer.objects.values_list("stripe_id", flat=True)) == set(ids)
    assert stats.objects == 700 - written
    assert SyncCheckpoint.objects.filter(done=False).count() == 0


def test_resume_when_the_last_run_finished(fake_stripe: FakeStripe) -> None:
    seed_customers(fake_stripe, 10)
    run_sync(["customers"], fast())
    fake_stripe.reset_requests()
    [stats] = run_sync(["customers"], fast(resume=True))
    assert stats.skipped and fake_stripe.request_count == 0


def test_resume_when_the_cursor_object_was_deleted(fake_stripe: FakeStripe) -> None:
    ids = seed_customers(fake_stripe, 250, per_second=2)
    run_sync(["customers"], fast(workers=1, batch_size=100))
    checkpoint = SyncCheckpoint.objects.get(resource="customers")
    # Pretend the run stopped after page 1, then its last customer was deleted in Stripe.
    cursor = ids[150]
    SyncCheckpoint.objects.filter(pk=checkpoint.pk).update(
        done=False, cursor=cursor, position=BASE + 75, objects_synced=100, pages=1
    )
    Customer.objects.filter(stripe_id__in=ids[:150]).delete()
    get_client().v1.customers.delete(cursor)
    run_sync(["customers"], fast(workers=1, resume=True))
    expected = set(ids[:150]) | set(ids[151:])
    present = set(Customer.objects.filter(is_active=True).values_list("stripe_id", flat=True))
    assert expected <= present


# -- Stripe failures ---------------------------------------------------------------------------


def test_rate_limits_and_server_errors_are_retried(fake_stripe: FakeStripe) -> None:
    ids = seed_customers(fake_stripe, 230)
    fake_stripe.fail_next(status=429, count=2, path="/v1/customers")
    fake_stripe.fail_next(status=500, count=1, path="/v1/customers")
    fake_stripe.fail_next(connection_error=True, count=1, path="/v1/customers")
    [stats] = run_sync(["customers"], fast(workers=1))
    assert set(Customer.objects.values_list("stripe_id", flat=True)) == set(ids)
    assert stats.retries == 4 and stats.throttled == 2
    assert stats.requests == stats.pages + 4
    failed = [r.status for r in fake_stripe.requests_to("GET", "/v1/customers")[:4]]
    assert failed == [429, 429, 500, 0]


def test_a_client_error_is_not_retried(fake_stripe: FakeStripe) -> None:
    seed_customers(fake_stripe, 5)
    fake_stripe.fail_next(status=401, path="/v1/customers")
    with pytest.raises(StripeAPIError):
        run_sync(["customers"], fast())
    assert fake_stripe.request_count == 1


def test_token_bucket_paces_and_backs_off() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(10.0, burst=2, clock=lambda: now[0], sleep=sleep)
    for _ in range(12):
        bucket.acquire()
    assert now[0] == pytest.approx(1.0)  # 2 at once, then 10 per second
    bucket.throttled(pause=3.0)
    assert bucket.rate == 5.0
    before = now[0]
    bucket.acquire()
    assert now[0] - before >= 3.0
    for _ in range(50):  # each request let through adds back 1% of the rate
        bucket.acquire()
    assert bucket.rate == pytest.approx(10.0)


def test_rate_defaults_stay_below_stripe_limits(settings: Any) -> None:
    assert configured_rate(livemode=False) < 25 and configured_rate(livemode=True) < 100
    settings.STRIPE_CONFIG = {"API_KEY": "sk_test_x", "SYNC_RATE_LIMIT": {"test": 5, "live": 50}}
    assert configured_rate(livemode=False) == 5.0
    settings.STRIPE_CONFIG = {"API_KEY": "sk_test_x", "SYNC_RATE_LIMIT": 12}
    assert configured_rate(livemode=True) == 12.0


# -- dry run and command -------------------------------------------------------------------------


def test_dry_run_writes_nothing(fake_stripe: FakeStripe, django_assert_num_queries: Any) -> None:
    seed_customers(fake_stripe, 150)
    with django_assert_num_queries(0):
        [stats] = run_sync(["customers"], fast(dry_run=True))
    assert stats.objects == 150
    assert not Customer.objects.exists() and not SyncCheckpoint.objects.exists()


def test_command_syncs_and_summarises(fake_stripe: FakeStripe) -> None:
    seed_customers(fake_stripe, 120)
    out, err = io.StringIO(), io.StringIO()
    call_command("stripe_sync", "customers", "--workers", "2", stdout=out, stderr=err)
    assert Customer.objects.count() == 120
    assert "customers: 120 objects" in out.getvalue()
    assert "synced 120 objects" in out.getvalue()
    assert "customers: started" in err.getvalue()  # not a terminal: plain lines
    out = io.StringIO()
    call_command("stripe_sync", "customers", "--resume", "--no-progress", stdout=out)
    assert "nothing to resume" in out.getvalue()
    out = io.StringIO()
    call_command("stripe_sync", "customers", "--dry-run", "--no-progress", stdout=out)
    assert "would write 120 objects" in out.getvalue()


def test_progress_on_a_terminal_redraws_one_line(fake_stripe: FakeStripe) -> None:
    from stripe_integrations.backfill.progress import ConsoleProgress

    seed_customers(fake_stripe, 250)
    stream = io.StringIO()
    progress = ConsoleProgress(stream, tty=True)
    progress.interval = 0
    run_sync(["customers"], fast(workers=1, batch_size=100, progress=progress))
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # redrawn with \r, one final line
    assert "\r" in text and "ETA" in text and "250 objects" in text


def test_command_rejects_unknown_resources(fake_stripe: FakeStripe) -> None:
    with pytest.raises(CommandError, match="unknown resource"):
        call_command("stripe_sync", "widgets")
    with pytest.raises(CommandError, match="--workers"):
        call_command("stripe_sync", "customers", "--workers", "0")
    with pytest.raises(CommandError, match="--writers"):
        call_command("stripe_sync", "customers", "--writers", "0")
    assert fake_stripe.request_count == 0


def test_since_limits_the_range(fake_stripe: FakeStripe) -> None:
    ids = seed_customers(fake_stripe, 30, per_second=1)
    run_sync(["customers"], fast(since=BASE + 20))
    assert set(Customer.objects.values_list("stripe_id", flat=True)) == set(ids[20:])


@pytest.mark.localstripe
def test_stripe_sync_command_on_every_backend(backend: Any) -> None:
    """``manage.py stripe_sync customers subscriptions`` mirrors what the server has, on the
    fake, on localstripe (which refuses ``created`` filters) and on Stripe test mode."""
    client = get_client()
    customers = [client.v1.customers.create(params={"email": backend.unique_email()}).id]
    customers.append(client.v1.customers.create(params={"email": backend.unique_email()}).id)
    backend.card_payment_method(customers[0])
    subscription = backend.subscribe(customers[0])
    out = io.StringIO()
    call_command("stripe_sync", "customers", "subscriptions", "--workers", "2", stdout=out)
    mirrored = set(Customer.objects.values_list("stripe_id", flat=True))
    assert set(customers) <= mirrored
    assert Subscription.objects.filter(stripe_id=subscription, customer_id=customers[0]).exists()
    if backend.is_fake:
        assert mirrored == set(customers)
