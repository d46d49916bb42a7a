"""Values a column cannot hold: never a crash, never a different value stored.

Each case is written by both writers (the ORM's ``returning=True`` path of ``Plan.apply``
and, on PostgreSQL, the bulk writer of the backfill; on SQLite ``returning=False`` takes the
ORM too) on both databases (the suite runs with ``DB=sqlite`` and ``DB=postgres``). The
column is either the exact value or NULL; ``raw`` keeps what Stripe sent; a NULL column is
logged with the object, the field and the value. Old field names Stripe used to send are
mapped where the current field is absent.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, models
from django.test import Client

from stripe_integrations.models import (
    Charge,
    Coupon,
    Customer,
    Event,
    EventStatus,
    Invoice,
    PaymentMethod,
    Price,
    Subscription,
)
from stripe_integrations.sync import Plan, bulk, mapping, plan_objects, sync_objects, upsert_rows
from stripe_integrations.sync.columns import UnstorableObject
from stripe_integrations.sync.mapping_billing import coupon_fields
from stripe_integrations.sync.storable import restored
from stripe_integrations.testing import FakeStripe
from stripe_integrations.testing.webhooks import build_event, post_event

pytestmark = pytest.mark.django_db

POSTGRES = connection.vendor == "postgresql"
LONG_ID = "cus_" + "x" * 300
NAN = float("nan")
INF = float("inf")


def deep(levels: int, leaf: Any = "bottom") -> dict[str, Any]:
    """A dict nested ``levels`` deep (valid JSON)."""
    value: Any = leaf
    for _ in range(levels):
        value = {"next": value}
    return value


@dataclass(frozen=True)
class Case:
    """``obj`` (a Stripe object of ``model``) holds ``value`` at ``path``; the row's
    ``column`` must be ``expected`` (None: left NULL and logged)."""

    name: str
    model: type[models.Model]
    obj: dict[str, Any]
    path: tuple[str, ...]
    column: str
    expected: Any

    @property
    def value(self) -> Any:
        found: Any = self.obj
        for key in self.path:
            found = found[key]
        return found


def _case(
    name: str,
    model: type[models.Model],
    kind: str,
    path: tuple[str, ...],
    value: Any,
    column: str,
    expected: Any = None,
    **extra: Any,
) -> Case:
    obj: dict[str, Any] = {"id": f"{kind[:3]}_{name}", "object": kind, **extra}
    target = obj
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    return Case(name, model, obj, path, column, expected)


CASES = [
    # Numbers out of their column's range.
    _case("balance_1e20", Customer, "customer", ("balance",), 1e20, "balance"),
    _case("balance_int_2e20", Customer, "customer", ("balance",), 2 * 10**20, "balance"),
    _case("balance_minus_1e20", Customer, "customer", ("balance",), -1e20, "balance"),
    _case("amount_due_1e20", Invoice, "invoice", ("amount_due",), 1e20, "amount_due"),
    _case("charge_amount_1e20", Charge, "charge", ("amount",), 10**20, "amount"),
    _case("times_redeemed_negative", Coupon, "coupon", ("times_redeemed",), -1, "times_redeemed"),
    _case(
        "exp_year_negative",
        PaymentMethod,
        "payment_method",
        ("card", "exp_year"),
        -2030,
        "card_exp_year",
        type="card",
    ),
    _case(
        "exp_month_70000",
        PaymentMethod,
        "payment_method",
        ("card", "exp_month"),
        70000,
        "card_exp_month",
        type="card",
    ),
    _case("percent_off_123456_789", Coupon, "coupon", ("percent_off",), 123456.789, "percent_off"),
    _case("percent_off_5_places", Coupon, "coupon", ("percent_off",), 12.34567, "percent_off"),
    _case("percent_off_nan_text", Coupon, "coupon", ("percent_off",), "NaN", "percent_off"),
    _case(
        "percent_off_fits",
        Coupon,
        "coupon",
        ("percent_off",),
        99999.9999,
        "percent_off",
        Decimal("99999.9999"),
    ),
    _case("unit_amount_inf", Price, "price", ("unit_amount",), "Infinity", "unit_amount"),
    _case("created_1e20", Customer, "customer", ("created",), 1e20, "created"),
    _case("created_fraction", Customer, "customer", ("created",), 1700000000.5, "created"),
    # Not an integer: never rounded.
    _case("balance_12_7", Customer, "customer", ("balance",), 12.7, "balance"),
    _case("balance_12_0", Customer, "customer", ("balance",), 12.0, "balance", 12),
    _case("balance_true", Customer, "customer", ("balance",), True, "balance"),
    _case("quantity_text", Subscription, "subscription", ("quantity",), "lots", "quantity"),
    # Not text, or too long for the column: never cut.
    _case("currency_usdt", Customer, "customer", ("currency",), "usdt", "currency"),
    _case(
        "interval_fortnight",
        Price,
        "price",
        ("recurring", "interval"),
        "fortnight",
        "recurring_interval",
        "fortnight",
    ),
    _case("interval_65", Price, "price", ("recurring", "interval"), "f" * 65, "recurring_interval"),
    _case(
        "charge_status_17",
        Charge,
        "charge",
        ("status",),
        "partially_pending",
        "status",
        "partially_pending",
    ),
    _case("charge_status_65", Charge, "charge", ("status",), "s" * 65, "status"),
    _case("email_dict", Customer, "customer", ("email",), {"a": 1}, "email"),
    _case("description_nul", Customer, "customer", ("description",), "a\x00b", "description"),
    _case(
        "subscription_customer_301",
        Subscription,
        "subscription",
        ("customer",),
        LONG_ID,
        "customer_id",
    ),
    _case(
        "card_last4_5",
        Charge,
        "charge",
        ("payment_method_details", "card", "last4"),
        "42424",
        "card_last4",
    ),
    # Valid JSON deeper than orjson's 255 levels: kept whole in raw.
    _case("deep_400", Customer, "customer", ("shipping",), deep(400), "shipping", deep(400)),
]


@pytest.fixture(params=["orm", "bulk"])
def write(request: pytest.FixtureRequest) -> Callable[[list[dict[str, Any]]], None]:
    """Writes objects the way one writer does (``bulk`` is the bulk writer on PostgreSQL)."""
    returning = request.param == "orm"

    def run(objects: list[dict[str, Any]]) -> None:
        plan_objects(objects).apply(returning=returning)

    return run


def _raw_equal(stored: Any, sent: Any) -> bool:
    """The same JSON value: a number equal (PostgreSQL gives 1e20 back as an integer, the
    same number), a NaN equal to itself, anything else equal and of the same type."""
    if isinstance(sent, float) and math.isnan(sent):
        return isinstance(stored, float) and math.isnan(stored)
    numbers = (int, float)
    if type(sent) in numbers and type(stored) in numbers:
        return bool(stored == sent)
    return bool(stored == sent) and type(stored) is type(sent)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_value_is_stored_exactly_or_left_null(
    case: Case, write: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="stripe_integrations.sync")
    write([case.obj])
    row = case.model._default_manager.get(stripe_id=case.obj["id"])  # type: ignore[attr-defined]
    assert getattr(row, case.column) == case.expected
    stored: Any = restored(row.raw)  # text no database holds is kept escaped in raw
    for key in case.path:
        stored = stored[key]
    assert _raw_equal(stored, case.value)
    warnings = [r for r in caplog.records if r.name == "stripe_integrations.sync"]
    if case.expected is None:
        (record,) = warnings
        assert record.levelno == logging.WARNING
        message = record.getMessage()
        assert message.startswith(f"{case.obj['object']} {case.obj['id']}: {case.column} ")
        shown = repr(case.value)
        assert (shown if len(shown) <= 80 else shown[:77] + "...") in message
        assert len(message) < 300  # the value is shortened
    else:
        assert warnings == []


@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_non_finite_numbers_agree_on_both_writers(
    value: float, write: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    """A NaN or infinite ``percent_off`` leaves the column NULL on both writers. JSON has no
    NaN (PostgreSQL refuses it, SQLite's JSON_VALID check too): ``raw`` holds null in its
    place, on both writers and both databases."""
    caplog.set_level(logging.WARNING, logger="stripe_integrations.sync")
    write([{"id": "co_nan", "object": "coupon", "percent_off": value, "amount_off": value}])
    row = Coupon.objects.get(stripe_id="co_nan")
    assert row.percent_off is None and row.amount_off is None
    assert row.raw["percent_off"] is None and row.raw["amount_off"] is None
    assert len([r for r in caplog.records if r.name == "stripe_integrations.sync"]) == 2


def test_every_case_is_written_by_the_bulk_writer_on_postgresql() -> None:
    """The ``bulk`` cases above really take the bulk writer on PostgreSQL."""
    for case in CASES:
        assert bulk.usable(case.model) is POSTGRES


def test_a_row_read_back_on_sqlite_never_raises() -> None:
    """SQLite once kept 123456.789 in a numeric(9,4) column; reading it raised."""
    sync_objects([{"id": "co_big", "object": "coupon", "percent_off": 123456.789}])
    assert list(Coupon.objects.values_list("percent_off", flat=True)) == [None]
    assert Coupon.objects.get().raw["percent_off"] == 123456.789


def test_mapping_never_raises_on_hostile_numbers() -> None:
    for value in (INF, -INF, NAN, 1e308, 10**400, "1e400", [], {}, True):
        assert mapping.as_int(value) is not None or value is None
        assert not mapping.as_int(value) or type(mapping.as_int(value)) is int
        fields = coupon_fields(
            {
                "id": "co_x",
                "object": "coupon",
                "percent_off": value,
                "amount_off": value,
                "redeem_by": value,
            }
        )
        assert fields["amount_off"] is None or type(fields["amount_off"]) is int
        assert fields["redeem_by"] is None


def test_a_mirrored_object_deep_inside_is_found() -> None:
    """The nested-object walk keeps its own stack: 400 levels down, a customer is mirrored."""
    inner = {"id": "cus_deep", "object": "customer", "email": "deep@example.com"}
    sub = {"id": "sub_deep", "object": "subscription", "metadata": {}, "x": deep(400, inner)}
    sync_objects([sub], returning=False)
    assert Customer.objects.get(stripe_id="cus_deep").email == "deep@example.com"
    assert Subscription.objects.get().raw["x"] == deep(400, inner)


def test_an_expanded_object_with_an_unstorable_id_is_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="stripe_integrations.sync")
    sub = {
        "id": "sub_x",
        "object": "subscription",
        "customer": {"id": LONG_ID, "object": "customer"},
    }
    sync_objects([sub])
    assert not Customer.objects.exists()
    row = Subscription.objects.get()
    assert row.customer_id is None and row.raw["customer"]["id"] == LONG_ID
    assert any("no column holds its id" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("returning", [True, False])
def test_an_id_no_column_holds_refuses_the_object(returning: bool) -> None:
    """``stripe_id`` is NOT NULL: the object is refused with a clear error, nothing written."""
    objects = [
        {"id": "cus_fine", "object": "customer"},
        {"id": LONG_ID, "object": "customer"},
    ]
    with pytest.raises(
        UnstorableObject, match=r"customer cus_x+\.\.\.: stripe_id .* longer than 255"
    ):
        sync_objects(objects, returning=returning)
    assert not Customer.objects.exists()
    with pytest.raises(UnstorableObject):
        Plan().upsert(Customer, [{"stripe_id": "x" * 256, "raw": {}}])


def test_upsert_rows_keeps_writing_exactly_what_it_is_given() -> None:
    """The low-level writer is unchanged: the checks belong to the mapping."""
    upsert_rows(Customer, [{"stripe_id": "cus_plain", "email": "plain@example.com"}])
    assert Customer.objects.get().email == "plain@example.com"


# --- old field names ----------------------------------------------------------------------

OLD_SHAPES = [
    pytest.param(
        {"id": "cus_old", "object": "customer", "default_card": "card_old"},
        Customer,
        "default_source_id",
        "card_old",
        id="customer.default_card",
    ),
    pytest.param(
        {
            "id": "cus_new",
            "object": "customer",
            "default_card": "card_old",
            "default_source": "card_new",
        },
        Customer,
        "default_source_id",
        "card_new",
        id="customer.default_source_wins",
    ),
    pytest.param(
        {"id": "sub_old", "object": "subscription", "start": 1400000000},
        Subscription,
        "start_date",
        datetime.fromtimestamp(1400000000, tz=UTC),
        id="subscription.start",
    ),
    pytest.param(
        {"id": "sub_new", "object": "subscription", "start": 1400000000, "start_date": 1500000000},
        Subscription,
        "start_date",
        datetime.fromtimestamp(1500000000, tz=UTC),
        id="subscription.start_date_wins",
    ),
    pytest.param(
        {"id": "in_old", "object": "invoice", "date": 1400000000},
        Invoice,
        "created",
        datetime.fromtimestamp(1400000000, tz=UTC),
        id="invoice.date",
    ),
    pytest.param(
        {
            "id": "ch_old",
            "object": "charge",
            "card": {"id": "card_old", "object": "card", "last4": "4242", "type": "Visa"},
        },
        Charge,
        ("card_last4", "card_brand"),
        ("4242", "Visa"),
        id="charge.card",
    ),
    pytest.param(
        {"id": "card_old", "object": "card", "last4": "4242", "type": "Visa"},
        PaymentMethod,
        ("card_last4", "card_brand"),
        ("4242", "Visa"),
        id="card.type",
    ),
]


@pytest.mark.parametrize(("obj", "model", "column", "expected"), OLD_SHAPES)
def test_old_field_names_are_mapped(
    obj: dict[str, Any],
    model: type[models.Model],
    column: Any,
    expected: Any,
    write: Callable[..., None],
) -> None:
    write([obj])
    row = model._default_manager.get(stripe_id=obj["id"])  # type: ignore[attr-defined]
    if isinstance(column, tuple):
        assert tuple(getattr(row, c) for c in column) == expected
    else:
        assert getattr(row, column) == expected


def test_an_old_charge_card_is_mirrored_as_a_payment_method() -> None:
    card = {"id": "card_old", "object": "card", "last4": "4242", "type": "Visa"}
    sync_objects([{"id": "ch_old", "object": "charge", "card": card}], returning=False)
    pm = PaymentMethod.objects.get(stripe_id="card_old")
    assert (pm.card_brand, pm.card_last4, pm.object_type) == ("Visa", "4242", "card")


# --- through the event pipeline -----------------------------------------------------------


@pytest.fixture
def deliver(django_capture_on_commit_callbacks: Any) -> Iterator[Callable[..., Any]]:
    client = Client()

    def post(event: Any) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            response = post_event(client, event)
        assert response.status_code == 200, response.content

    yield post


EVENT_CASES = [
    pytest.param("coupon", "percent_off", 123456.789, id="percent_off_123456_789"),
    pytest.param("coupon", "percent_off", NAN, id="percent_off_nan"),
    pytest.param("coupon", "times_redeemed", -1, id="times_redeemed_negative"),
    pytest.param("customer", "balance", 1e20, id="balance_1e20"),
    pytest.param("customer", "balance", 10**20, id="balance_int_1e20"),
    pytest.param("customer", "balance", 12.7, id="balance_12_7"),
    pytest.param("customer", "currency", "usdt", id="currency_usdt"),
    pytest.param("subscription", "customer", LONG_ID, id="subscription_customer_301"),
]


def _make(fake: FakeStripe, kind: str) -> tuple[dict[str, Any], str]:
    if kind == "coupon":
        return fake.add("coupon", percent_off=10, duration="once"), "coupon.updated"
    if kind == "customer":
        return fake.add("customer", email="hostile@example.com"), "customer.updated"
    price = fake.add(
        "price",
        unit_amount=900,
        currency="usd",
        recurring={"interval": "month"},
        product_data={"name": "Pro"},
    )
    customer = fake.add("customer")
    sub = fake.add("subscription", customer=customer["id"], items=[{"price": price["id"]}])
    return sub, "customer.subscription.updated"


@pytest.mark.parametrize(("kind", "field", "value"), EVENT_CASES)
def test_an_event_holding_the_value_succeeds(
    kind: str,
    field: str,
    value: Any,
    fake_stripe: FakeStripe,
    deliver: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="stripe_integrations.sync")
    obj, event_type = _make(fake_stripe, kind)
    obj = fake_stripe.update(kind, obj["id"], **{field: value})
    deliver(build_event(event_type, {"id": obj["id"], "object": kind}))
    event = Event.objects.get(type=event_type)
    assert event.status == EventStatus.SUCCEEDED, event.last_error
    model = {"coupon": Coupon, "customer": Customer, "subscription": Subscription}[kind]
    row = model._default_manager.get(stripe_id=obj["id"])  # type: ignore[attr-defined]
    column = "customer_id" if field == "customer" else field
    assert getattr(row, column) is None
    stored = row.raw[field]
    if isinstance(value, float) and math.isnan(value):
        assert stored is None  # JSON has no NaN
    else:
        assert _raw_equal(stored, value)
    assert any(f"{kind} {obj['id'][:77]}" in r.getMessage() for r in caplog.records)


def test_the_backfill_stores_what_fits_and_keeps_the_rest_in_raw(
    fake_stripe: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    """The backfill decodes pages itself (orjson, up to 1,024 levels): a 400-deep object and
    numbers no column holds go through the bulk writer on PostgreSQL."""
    caplog.set_level(logging.WARNING, logger="stripe_integrations.sync")
    coupon = fake_stripe.add("coupon", percent_off=10, duration="once")
    fake_stripe.update("coupon", coupon["id"], percent_off=123456.789, times_redeemed=-1)
    customer = fake_stripe.add("customer", email="deep@example.com")
    fake_stripe.update("customer", customer["id"], balance=10**20, shipping=deep(400))
    call_command("stripe_sync", "coupons", "customers", "--no-progress", stdout=StringIO())
    row = Coupon.objects.get()
    assert (row.percent_off, row.times_redeemed) == (None, None)
    assert row.raw["percent_off"] == 123456.789 and row.raw["times_redeemed"] == -1
    mirrored = Customer.objects.get()
    assert mirrored.balance is None and mirrored.raw["balance"] == 10**20
    assert mirrored.shipping == deep(400) and mirrored.raw["shipping"] == deep(400)
    assert mirrored.email == "deep@example.com"
    fields = {r.getMessage().split(": ")[1].split(" ")[0] for r in caplog.records}
    assert fields == {"percent_off", "times_redeemed", "balance"}


def test_an_event_whose_object_cannot_be_stored_fails_visibly(
    fake_stripe: FakeStripe, deliver: Callable[..., Any], settings: Any
) -> None:
    settings.STRIPE_CONFIG = {**settings.STRIPE_CONFIG, "EVENT_MAX_ATTEMPTS": 1}
    coupon = fake_stripe.add("coupon", percent_off=10, duration="once", id="co_" + "x" * 300)
    deliver(build_event("coupon.updated", {"id": coupon["id"], "object": "coupon"}))
    event = Event.objects.get()
    assert event.status == EventStatus.FAILED
    assert event.last_error.startswith("UnstorableObject: coupon co_x")
    assert "stripe_id" in event.last_error and "longer than 255" in event.last_error
    assert not Coupon.objects.exists()
