"""The PostgreSQL bulk writer (``returning=False``) writes exactly what the ORM path writes,
keeps local columns, and issues one statement per model; the backfill's fetcher decodes
bodies itself and falls back to ``raw_request``."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from stripe_integrations.backfill.fetcher import Fetcher
from stripe_integrations.client import get_client
from stripe_integrations.exceptions import StripeAPIError
from stripe_integrations.models import Customer, Invoice, InvoiceLineItem, Price
from stripe_integrations.sync import bulk, sync_objects, upsert_rows
from stripe_integrations.sync.mapping import customer_fields
from stripe_integrations.testing import FakeStripe

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the bulk writer is PostgreSQL's"
)


def every_kind(fake: FakeStripe) -> list[dict[str, Any]]:
    """One object of every kind the fake builds, some with expanded objects inside."""
    customer = fake.add("customer", email="bulk@example.com", metadata={"plan": "gold"})
    card = fake.add("payment_method", customer=customer["id"])
    product = fake.add("product", name="Plan")
    price = fake.add(
        "price",
        product=product["id"],
        unit_amount_decimal="1234.5",
        currency="usd",
        recurring={"interval": "month"},
    )
    coupon = fake.add("coupon", percent_off=10, duration="once")
    subscription = fake.add(
        "subscription", customer=customer["id"], items=[{"price": price["id"], "quantity": 2}]
    )
    invoice = fake.add("invoice", customer=customer["id"])
    item = fake.add("invoiceitem", customer=customer["id"], amount=300, currency="usd")
    intent = fake.add("payment_intent", amount=1000, currency="usd", customer=customer["id"])
    setup = fake.add("setup_intent", customer=customer["id"])
    promo = fake.add(
        "promotion_code", promotion={"type": "coupon", "coupon": coupon["id"]}, code="SAVE10"
    )
    expanded_customer = {**customer, "invoice_settings": {"default_payment_method": card}}
    return [
        expanded_customer,
        card,
        product,
        price,
        coupon,
        subscription,
        invoice,
        item,
        intent,
        setup,
        promo,
    ]


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every mirrored row of every model, without the surrogate key and the write time."""
    from django.apps import apps

    tables: dict[str, list[dict[str, Any]]] = {}
    for model in apps.get_app_config("stripe_integrations").get_models():
        if not any(f.name == "stripe_id" for f in model._meta.concrete_fields):
            continue
        rows = list(model._default_manager.order_by("stripe_id").values())
        for row in rows:
            row.pop("id", None)
            row.pop("synced_at", None)
        tables[model._meta.label] = rows
    return tables


def wipe() -> None:
    from django.apps import apps

    for model in apps.get_app_config("stripe_integrations").get_models():
        if any(f.name == "stripe_id" for f in model._meta.concrete_fields):
            model._default_manager.all().delete()


def test_bulk_writer_and_orm_write_the_same_rows(fake_stripe: FakeStripe) -> None:
    objects = every_kind(fake_stripe)
    sync_objects(objects)
    through_orm = snapshot()
    assert sum(len(rows) for rows in through_orm.values()) >= len(objects)
    wipe()
    assert sync_objects(objects, returning=False) == []
    assert snapshot() == through_orm
    # Again over existing rows: the conflict branch writes the same values.
    sync_objects(objects, returning=False)
    assert snapshot() == through_orm


def test_usable_only_on_postgresql() -> None:
    assert bulk.usable(Customer) is (connection.vendor == "postgresql")
    assert bulk.usable(Invoice) is (connection.vendor == "postgresql")


def test_a_subclassed_field_is_left_to_the_orm() -> None:
    class Upper(models.CharField):  # type: ignore[type-arg]
        def get_db_prep_save(self, value: Any, connection: Any) -> Any:
            return str(value).upper()

    assert not bulk._supported(Upper(max_length=5))
    assert bulk._supported(models.CharField(max_length=5))
    assert not bulk._supported(models.JSONField(encoder=type("E", (), {})))  # type: ignore[arg-type]


@postgres_only
def test_one_statement_for_many_rows() -> None:
    rows = [
        customer_fields({"id": f"cus_bulk{i:04}", "object": "customer", "email": f"{i}@x.io"})
        for i in range(500)
    ]
    with CaptureQueriesContext(connection) as queries:
        assert upsert_rows(Customer, rows, returning=False) == []
    assert len(queries) == 1
    assert "jsonb_array_elements" in queries[0]["sql"]
    assert Customer.objects.count() == 500
    assert Customer.objects.filter(is_active=True).count() == 500  # model default on insert


@postgres_only
def test_local_columns_survive_and_mirrored_ones_update(user: Any) -> None:
    data = {"id": "cus_keep", "object": "customer", "email": "old@example.com"}
    upsert_rows(Customer, [customer_fields(data)], returning=False)
    Customer.objects.filter(stripe_id="cus_keep").update(subscriber=user, is_active=False)
    upsert_rows(Customer, [customer_fields({**data, "email": "new@example.com"})], returning=False)
    row = Customer.objects.get(stripe_id="cus_keep")
    assert (row.email, row.subscriber_id, row.is_active) == ("new@example.com", user.pk, False)


@postgres_only
def test_duplicate_ids_keep_the_last_row_and_values_keep_their_precision() -> None:
    first = {"id": "price_dup", "object": "price", "unit_amount_decimal": "1.5", "currency": "usd"}
    last = {**first, "unit_amount_decimal": "2.123456789012", "nickname": "Last"}
    sync_objects([first, last], returning=False)
    price = Price.objects.get(stripe_id="price_dup")
    assert price.nickname == "Last"
    assert price.unit_amount_decimal == "2.123456789012"


@postgres_only
def test_rows_missing_an_attribute_get_its_default() -> None:
    with_lines = {
        "id": "in_a",
        "object": "invoice",
        "lines": {"object": "list", "data": [], "has_more": False},
    }
    upsert_rows(
        Invoice, [{"stripe_id": "in_a", "status": "open"}, {"stripe_id": "in_b"}], returning=False
    )
    rows = dict(Invoice.objects.values_list("stripe_id", "status"))
    assert rows == {"in_a": "open", "in_b": None}
    sync_objects([with_lines], returning=False)
    assert InvoiceLineItem.objects.count() == 0


@postgres_only
def test_unknown_attributes_are_refused() -> None:
    with pytest.raises(ValueError, match="no column for nonsense"):
        bulk.upsert_json(Customer, [{"stripe_id": "cus_x", "nonsense": 1}])


@postgres_only
def test_a_value_too_long_for_its_column_is_an_error_not_cut_short() -> None:
    from django.db import DataError, transaction

    with pytest.raises(DataError), transaction.atomic():
        bulk.upsert_json(Customer, [{"stripe_id": "cus_long", "currency": "usdx"}])
    assert not Customer.objects.filter(stripe_id="cus_long").exists()


@postgres_only
def test_json_null_is_sql_null_and_json_values_keep_their_type() -> None:
    bulk.upsert_json(
        Customer,
        [
            {"stripe_id": "cus_n", "address": None, "metadata": {}},
            {"stripe_id": "cus_v", "address": {"city": "Berlin"}, "metadata": {"n": "1"}},
        ],
    )
    assert Customer.objects.filter(address__isnull=True).get().stripe_id == "cus_n"
    assert Customer.objects.get(stripe_id="cus_v").address == {"city": "Berlin"}


# -- the fetcher's decoding ---------------------------------------------------------------------


def test_fetcher_decodes_plain_dicts_and_raises_stripe_errors(fake_stripe: FakeStripe) -> None:
    fake_stripe.add("customer", email="one@example.com")
    fetcher = Fetcher(get_client(), sleep=lambda s: None)
    page = fetcher.get("/v1/customers", {"limit": 10})
    assert type(page) is dict and type(page["data"][0]) is dict
    assert page["data"][0]["email"] == "one@example.com"
    with pytest.raises(StripeAPIError) as caught:
        fetcher.get("/v1/customers/cus_missing")
    assert caught.value.code == "resource_missing"


def test_fetcher_falls_back_to_raw_request(fake_stripe: FakeStripe, monkeypatch: Any) -> None:
    fake_stripe.add("customer", email="two@example.com")

    class Internals:
        """A client whose private parts changed: only the public ``raw_request`` is left."""

        def __init__(self, client: Any) -> None:
            self.raw_request = client.raw_request

    fetcher = Fetcher(Internals(get_client()), sleep=lambda s: None)  # type: ignore[arg-type]
    page = fetcher.get("/v1/customers", {"limit": 10})
    assert page["data"][0]["email"] == "two@example.com"


# -- the backfill's write path --------------------------------------------------------------------


def _page_result(objects: list[dict[str, Any]], fetched_at: Any, planned: bool) -> Any:
    from stripe_integrations.backfill.engine import PageResult
    from stripe_integrations.backfill.pages import Page
    from stripe_integrations.backfill.registry import get_resource
    from stripe_integrations.backfill.slices import Slice

    resource = get_resource("customers")
    page = Page(objects=objects, has_more=False, last_id=None, last_created=None)
    page.fetched_at = fetched_at
    plan = None
    if planned and resource.planner:
        plan = resource.planner(objects, fetched_at=fetched_at)
    return resource, PageResult(Slice("customers", False, 0, 2_000_000_000), page, [], plan)


@pytest.mark.parametrize("planned", [True, False], ids=["mapped-by-fetcher", "mapped-by-writer"])
def test_a_row_written_after_the_fetch_is_not_overwritten(planned: bool) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from stripe_integrations.backfill.sinks import WriteSink

    fetched_at = timezone.now() - timedelta(minutes=5)
    stale = [
        {"id": "cus_newer", "object": "customer", "email": "stale@example.com"},
        {"id": "cus_older", "object": "customer", "email": "fresh-from-page@example.com"},
    ]
    sync_objects([{"id": "cus_newer", "object": "customer", "email": "webhook@example.com"}])
    sync_objects([{"id": "cus_older", "object": "customer", "email": "before@example.com"}])
    Customer.objects.filter(stripe_id="cus_older").update(
        synced_at=fetched_at - timedelta(minutes=1)
    )
    resource, result = _page_result(stale, fetched_at, planned)
    WriteSink(fetched_at).write(resource, [result])
    emails = dict(Customer.objects.values_list("stripe_id", "email"))
    assert emails == {
        "cus_newer": "webhook@example.com",
        "cus_older": "fresh-from-page@example.com",
    }


def test_an_object_expanded_in_many_parents_is_planned_once() -> None:
    from stripe_integrations.sync.upsert import nested_objects

    price = {"id": "price_shared", "object": "price", "currency": "usd", "unit_amount": 100}
    subs = [
        {
            "id": f"sub_{i}",
            "object": "subscription",
            "items": {
                "object": "list",
                "data": [{"id": f"si_{i}", "object": "subscription_item", "price": price}],
            },
        }
        for i in range(3)
    ]
    assert nested_objects(subs) == [price]
    plain = [
        {
            "id": "sub_plain",
            "object": "subscription",
            "customer": "cus_1",
            "metadata": {"object": "price"},
        }
    ]
    assert nested_objects(plain) == []  # a mapping without an id is not an object
    secret = {"id": "pi_1", "object": "payment_intent", "client_secret": "pi_1_secret_x"}
    assert nested_objects([{"id": "in_1", "object": "invoice", "payment_intent": secret}]) == [
        secret
    ]


def test_children_and_discounts_link_to_a_dashboard_page_that_exists() -> None:
    from stripe_integrations.models import Discount, InvoiceLineItem, SubscriptionItem

    base = "https://dashboard.stripe.com/test/"
    item = SubscriptionItem(stripe_id="si_1", subscription_id="sub_1")
    line = InvoiceLineItem(stripe_id="il_1", invoice_id="in_1")
    discount = Discount(stripe_id="di_1", coupon_id="co_1", subscription_id="sub_1")
    assert item.dashboard_url == base + "subscriptions/sub_1"
    assert line.dashboard_url == base + "invoices/in_1"
    assert discount.dashboard_url == base + "coupons/co_1"
    assert Discount(stripe_id="di_2", customer_id="cus_1").dashboard_url == base + "customers/cus_1"
    assert Customer(stripe_id="cus_1", livemode=True).dashboard_url == (
        "https://dashboard.stripe.com/customers/cus_1"
    )
