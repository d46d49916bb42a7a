"""The admin: every model reachable, every changelist searchable and filterable, constant
query counts, read-only mirrored rows, "Sync from Stripe" through the sync path, permissions,
and no secrets on any page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection, models
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stripe_integrations.client import get_client
from stripe_integrations.models import (
    Charge,
    Coupon,
    Customer,
    Discount,
    Event,
    EventStatus,
    Invoice,
    InvoiceItem,
    InvoiceLineItem,
    PaymentIntent,
    PaymentMethod,
    Price,
    Product,
    Refund,
    SetupIntent,
    Subscription,
    SubscriptionItem,
    SyncCheckpoint,
)
from stripe_integrations.sync import sync_events, sync_objects
from stripe_integrations.testing import FakeStripe

pytestmark = pytest.mark.django_db

CREATED = int(time.time()) - 3600
API_KEY = "sk_test_library_tests"

REGISTERED = [
    m
    for m in apps.get_app_config("stripe_integrations").get_models()
    if admin.site.is_registered(m)
]
FETCHABLE = [m for m in REGISTERED if getattr(admin.site._registry[m], "can_fetch", bool)()]


def ids(model: type[models.Model]) -> str:
    return model.__name__


def changelist(model: type[models.Model]) -> str:
    return reverse(f"admin:stripe_integrations_{model._meta.model_name}_changelist")


def change_page(obj: models.Model) -> str:
    return reverse(f"admin:stripe_integrations_{obj._meta.model_name}_change", args=[obj.pk])


def sync_url(obj: models.Model) -> str:
    return reverse(f"admin:stripe_integrations_{obj._meta.model_name}_sync", args=[obj.pk])


def texts(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- a mirrored account: one "world" of related objects per index ---------------------------

PARENTS = {"customer", "product", "coupon", "promotion_code", "subscription", "invoice"}
PARENTS |= {"payment_intent", "charge"}


def world(i: int) -> dict[str, dict[str, Any]]:
    """Stripe-shaped objects of every mirrored kind, linked to each other."""
    cus, sub, inv, pi, ch = f"cus_{i}", f"sub_{i}", f"in_{i}", f"pi_{i}", f"ch_{i}"
    common = {"livemode": False, "created": CREATED, "metadata": {"world": str(i)}}
    price = {
        "id": f"price_{i}",
        "object": "price",
        "product": f"prod_{i}",
        "currency": "jpy",
        "unit_amount": 500,
        "type": "recurring",
        "recurring": {"interval": "month", "interval_count": 1},
        "active": True,
        "lookup_key": f"gold_monthly_{i}",
        "nickname": f"Gold monthly {i}",
        **common,
    }
    return {
        "customer": {
            "id": cus,
            "object": "customer",
            "email": f"jenny{i}@example.com",
            "name": f"Jenny {i}",
            "description": f"Customer number {i}",
            "phone": f"+1555000{i:04d}",
            "balance": -1500,
            "currency": "usd",
            "delinquent": False,
            "invoice_settings": {"default_payment_method": f"pm_{i}"},
            **common,
        },
        "payment_method": {
            "id": f"pm_{i}",
            "object": "payment_method",
            "type": "card",
            "customer": cus,
            "card": {"brand": "visa", "last4": "4242", "exp_month": 4, "exp_year": 2034}
            | {"fingerprint": f"fp{i}xyz"},
            **common,
        },
        "product": {
            "id": f"prod_{i}",
            "object": "product",
            "name": f"Gold {i}",
            "description": "The gold plan",
            "active": True,
            "default_price": f"price_{i}",
            "unit_label": "seat",
            **common,
        },
        "price": price,
        "subscription": {
            "id": sub,
            "object": "subscription",
            "customer": cus,
            "status": "active",
            "currency": "jpy",
            "collection_method": "charge_automatically",
            "cancel_at_period_end": False,
            "description": f"Gold for {i}",
            "latest_invoice": inv,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": f"si_{i}",
                        "object": "subscription_item",
                        "price": price,
                        "quantity": 2,
                        "current_period_start": CREATED,
                        "current_period_end": CREATED + 30 * 86400,
                        **common,
                    }
                ],
            },
            **common,
        },
        "coupon": {
            "id": f"co_{i}",
            "object": "coupon",
            "name": f"Launch {i}",
            "percent_off": 25.0,
            "duration": "once",
            "valid": True,
            "times_redeemed": 1,
            **common,
        },
        "promotion_code": {
            "id": f"promo_{i}",
            "object": "promotion_code",
            "code": f"LAUNCH{i}",
            "promotion": {"type": "coupon", "coupon": f"co_{i}"},
            "customer": cus,
            "active": True,
            **common,
        },
        "discount": {
            "id": f"di_{i}",
            "object": "discount",
            "source": {"type": "coupon", "coupon": f"co_{i}"},
            "promotion_code": f"promo_{i}",
            "customer": cus,
            "subscription": sub,
            "invoice": inv,
            "start": CREATED,
            **common,
        },
        "invoice": {
            "id": inv,
            "object": "invoice",
            "customer": cus,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": sub},
            },
            "status": "paid",
            "number": f"INV-{i:04d}",
            "currency": "usd",
            "subtotal": 1500,
            "total": 1500,
            "amount_due": 1500,
            "amount_paid": 1500,
            "amount_remaining": 0,
            "collection_method": "charge_automatically",
            "billing_reason": "subscription_cycle",
            "description": f"Gold plan {i}",
            "payment_intent": pi,
            "period_end": CREATED,
            "lines": {
                "object": "list",
                "data": [
                    {
                        "id": f"il_{i}",
                        "object": "line_item",
                        "amount": 1500,
                        "currency": "usd",
                        "description": "Gold",
                        "quantity": 1,
                        "period": {"start": CREATED, "end": CREATED + 30 * 86400},
                    }
                ],
                "has_more": False,
            },
            **common,
        },
        "invoiceitem": {
            "id": f"ii_{i}",
            "object": "invoiceitem",
            "customer": cus,
            "invoice": inv,
            "subscription": sub,
            "price": f"price_{i}",
            "amount": 250,
            "currency": "usd",
            "description": f"Setup fee {i}",
            "date": CREATED,
            "proration": False,
            **common,
        },
        "payment_intent": {
            "id": pi,
            "object": "payment_intent",
            "customer": cus,
            "amount": 1500,
            "amount_received": 1500,
            "currency": "usd",
            "status": "succeeded",
            "description": f"Order {i}",
            "client_secret": f"{pi}_secret_AbCdEf{i}",
            "payment_method": f"pm_{i}",
            "latest_charge": ch,
            "capture_method": "automatic",
            **common,
        },
        "charge": {
            "id": ch,
            "object": "charge",
            "customer": cus,
            "payment_intent": pi,
            "amount": 1500,
            "amount_refunded": 500,
            "currency": "usd",
            "status": "succeeded",
            "paid": True,
            "refunded": False,
            "disputed": False,
            "description": f"Order {i}",
            "failure_code": "none_really",
            "payment_method_details": {"card": {"brand": "visa", "last4": "4242"}},
            **common,
        },
        "refund": {
            "id": f"re_{i}",
            "object": "refund",
            "charge": ch,
            "payment_intent": pi,
            "amount": 500,
            "currency": "usd",
            "status": "succeeded",
            "reason": "requested_by_customer",
            "failure_reason": "not_failed",
            **common,
        },
        "setup_intent": {
            "id": f"seti_{i}",
            "object": "setup_intent",
            "customer": cus,
            "status": "succeeded",
            "usage": "off_session",
            "description": f"Save card {i}",
            "payment_method": f"pm_{i}",
            "client_secret": f"seti_{i}_secret_XyZ{i}",
            **common,
        },
    }


def populate(indexes: range, subscriber: Any = None) -> None:
    """Mirror the worlds of ``indexes``; odd ones leave out the parent rows, so their
    children point at objects that are not mirrored."""
    for i in indexes:
        objects = world(i)
        if i % 2:
            objects = {k: v for k, v in objects.items() if k not in PARENTS}
        sync_objects(list(objects.values()))
        sync_events(
            [
                {
                    "id": f"evt_{i}",
                    "object": "event",
                    "type": "customer.updated",
                    "api_version": "2026-10-28.endive",
                    "request": {"id": f"req_{i}abc"},
                    "data": {"object": world(i)["payment_intent"]},
                    "livemode": False,
                    "created": CREATED,
                }
            ]
        )
        Event.objects.filter(stripe_id=f"evt_{i}").update(
            customer_id=f"cus_{i}", status=EventStatus.FAILED, last_error=f"boom {i}"
        )
        now = datetime.now(UTC)
        SyncCheckpoint.objects.create(
            resource="customers",
            created_gte=0,
            created_lt=1000 + i,
            cursor=f"cus_{i}",
            run_started=now,
            updated_at=now,
        )
    if subscriber is not None:
        Customer.objects.filter(stripe_id="cus_0").update(subscriber=subscriber)


def first_row(model: type[models.Model]) -> models.Model:
    if model is SyncCheckpoint:
        return SyncCheckpoint.objects.get(cursor="cus_0")
    return model._default_manager.get(stripe_id__endswith="_0")


@pytest.fixture
def mirrored(user: Any) -> Iterator[None]:
    populate(range(2), subscriber=user)
    yield


# --- registration ---------------------------------------------------------------------------


def test_every_model_is_reachable_in_the_admin() -> None:
    inlines = {
        inline.model
        for model_admin in admin.site._registry.values()
        for inline in model_admin.inlines
    }
    every = set(apps.get_app_config("stripe_integrations").get_models())
    assert every - set(REGISTERED) == {SubscriptionItem, InvoiceLineItem}
    assert {SubscriptionItem, InvoiceLineItem} <= inlines
    assert len(REGISTERED) == 16


# --- changelists: search, filters, date drill-down -------------------------------------------


def search_value(row: models.Model, path: str) -> str:
    value: Any = row
    for part in path.split("__"):
        value = getattr(value, part)
    assert value not in (None, ""), f"the test data leaves {path} empty"
    return str(value)


def result_pks(response: Any) -> set[Any]:
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


@pytest.mark.parametrize("model", REGISTERED, ids=ids)
def test_every_search_field_finds_the_row(
    admin_client: Client, mirrored: None, model: type[models.Model]
) -> None:
    model_admin = admin.site._registry[model]
    row = first_row(model)
    fields = model_admin.get_search_fields(RequestFactory().get("/"))
    assert fields
    for field in fields:
        term = search_value(row, field.lstrip("^=@"))
        response = admin_client.get(changelist(model), {"q": term})
        assert row.pk in result_pks(response), f"searching {field}={term!r}"
    nothing = admin_client.get(changelist(model), {"q": "no-such-thing-anywhere"})
    assert result_pks(nothing) == set()


@pytest.mark.parametrize("model", REGISTERED, ids=ids)
def test_every_filter_value_with_a_search_term(
    admin_client: Client, mirrored: None, model: type[models.Model]
) -> None:
    row = first_row(model)
    term = row.cursor if isinstance(row, SyncCheckpoint) else row.stripe_id  # type: ignore[attr-defined]
    response = admin_client.get(changelist(model), {"q": term})
    assert row.pk in result_pks(response)
    cl = response.context["cl"]
    assert cl.filter_specs, "every changelist has filters"
    for spec in cl.filter_specs:
        shown_under = []
        for choice in spec.choices(cl):
            filtered = admin_client.get(changelist(model) + choice["query_string"])
            found = result_pks(filtered)
            assert "q=" in choice["query_string"]
            if row.pk in found and choice["display"] != "All":
                shown_under.append(choice["display"])
        assert shown_under, f"{spec.title}: the row is under no value"


@pytest.mark.parametrize(
    "model", [m for m in REGISTERED if admin.site._registry[m].date_hierarchy], ids=ids
)
def test_date_hierarchy_drills_down_to_the_row(
    admin_client: Client, mirrored: None, model: type[models.Model]
) -> None:
    field = admin.site._registry[model].date_hierarchy
    row = first_row(model)
    when = getattr(row, field)
    params = {f"{field}__year": when.year, f"{field}__month": when.month}
    params[f"{field}__day"] = when.day
    assert row.pk in result_pks(admin_client.get(changelist(model), params))
    params[f"{field}__year"] = when.year - 5
    assert row.pk not in result_pks(admin_client.get(changelist(model), params))


# --- constant query counts ------------------------------------------------------------------


def count_queries(client: Client, url: str) -> tuple[int, int]:
    client.get(url)  # warm caches (content types, session)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return len(queries.captured_queries), len(response.context["cl"].result_list)


@pytest.mark.parametrize("model", REGISTERED, ids=ids)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client: Client, user: Any, model: type[models.Model]
) -> None:
    populate(range(1), subscriber=user)
    few, rows = count_queries(admin_client, changelist(model))
    assert rows == 1
    populate(range(1, 20))
    many, rows = count_queries(admin_client, changelist(model))
    assert rows >= 10
    assert many == few


# --- change pages ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", REGISTERED, ids=ids)
def test_change_pages_render(
    admin_client: Client, mirrored: None, model: type[models.Model]
) -> None:
    row = first_row(model)
    page = admin_client.get(change_page(row))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html or model is Customer
    assert '<div class="readonly">None</div>' not in html  # empty values show as "-"
    if model is SyncCheckpoint:
        return
    assert 'target="_blank" rel="noopener noreferrer"' in html
    assert '<pre class="si-json">' in html
    assert "&quot;world&quot;: &quot;0&quot;" in html  # metadata, pretty and escaped
    dangling = model._default_manager.filter(stripe_id__endswith="_1").first()
    if dangling is not None:  # its parents are not mirrored
        page = admin_client.get(change_page(dangling))
        assert page.status_code == 200
        assert '<div class="readonly">None</div>' not in page.content.decode()


def test_inlines_show_items_and_lines(admin_client: Client, mirrored: None) -> None:
    html = admin_client.get(change_page(Subscription.objects.get(stripe_id="sub_0")))
    assert "si_0" in html.content.decode() and "price_0" in html.content.decode()
    html = admin_client.get(change_page(Invoice.objects.get(stripe_id="in_0")))
    assert "il_0" in html.content.decode() and "15.00 USD" in html.content.decode()


def test_dangling_links_show_the_id(admin_client: Client, mirrored: None) -> None:
    html = admin_client.get(changelist(Refund), {"q": "re_1"}).content.decode()
    assert 'ch_1 <span class="quiet">(not mirrored)</span>' in html
    html = admin_client.get(changelist(Refund), {"q": "re_0"}).content.decode()
    assert change_page(Charge.objects.get(stripe_id="ch_0")) in html
    assert "jenny0@example.com" in html


def test_amounts_show_major_units_and_currency(admin_client: Client, mirrored: None) -> None:
    def page(model: type[models.Model]) -> str:
        html = admin_client.get(changelist(model), {"q": "_0"}).content.decode()
        start = html.index('<table id="result_list">')
        return html[start : html.index("</table>", start)]

    assert "15.00 USD" in page(Invoice) and "1500" not in page(Invoice)
    assert "500 JPY" in page(Price)
    assert "-15.00 USD" in page(Customer)
    assert "2.50 USD" in page(InvoiceItem)
    assert "5.00 USD" in page(Refund)
    assert "25%" in page(Coupon)
    Coupon.objects.filter(stripe_id="co_0").update(percent_off=None, amount_off=500, currency="eur")
    assert "5.00 EUR" in page(Coupon)


def test_lists_link_to_the_stripe_dashboard(admin_client: Client, mirrored: None) -> None:
    for model in REGISTERED:
        if model in (SyncCheckpoint,):
            continue
        row = first_row(model)
        html = admin_client.get(changelist(model), {"q": "_0"}).content.decode()
        expected = row.dashboard_url  # type: ignore[attr-defined]
        if model is Discount:
            expected = Coupon.objects.get(stripe_id="co_0").dashboard_url
        assert f'href="{expected}"' in html, model


# --- read-only ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", REGISTERED, ids=ids)
def test_no_add_and_no_delete(
    admin_client: Client, mirrored: None, model: type[models.Model]
) -> None:
    row = first_row(model)
    name = f"admin:stripe_integrations_{model._meta.model_name}"
    assert admin_client.get(reverse(f"{name}_add")).status_code == 403
    assert (
        admin_client.post(reverse(f"{name}_delete", args=[row.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert model._default_manager.filter(pk=row.pk).exists()


def test_posting_a_change_form_writes_no_mirrored_column(
    admin_client: Client, mirrored: None
) -> None:
    intent = PaymentIntent.objects.get(stripe_id="pi_0")
    before = PaymentIntent.objects.filter(pk=intent.pk).values().get()
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post(change_page(intent), {"status": "canceled", "amount": "1"})
    assert response.status_code == 302
    table = PaymentIntent._meta.db_table
    assert not [q for q in queries.captured_queries if q["sql"].startswith(f'UPDATE "{table}"')]
    assert PaymentIntent.objects.filter(pk=intent.pk).values().get() == before
    invoice = Invoice.objects.get(stripe_id="in_0")
    before = Invoice.objects.filter(pk=invoice.pk).values().get()
    admin_client.post(change_page(invoice), {"status": "void", "total": "1"})
    assert Invoice.objects.filter(pk=invoice.pk).values().get() == before


def test_subscriber_is_the_one_editable_column(
    admin_client: Client, mirrored: None, django_user_model: Any
) -> None:
    other = django_user_model.objects.create(username="other", email="other@example.com")
    customer = Customer.objects.get(stripe_id="cus_0")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post(
            change_page(customer), {"subscriber": other.pk, "email": "hacked@example.com"}
        )
    assert response.status_code == 302
    table = Customer._meta.db_table
    updates = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith(f'UPDATE "{table}"')
    ]
    assert len(updates) == 1 and updates[0].split(" WHERE ")[0].count("=") == 1
    customer.refresh_from_db()
    assert customer.subscriber == other and customer.email == "jenny0@example.com"


def test_subscriber_cannot_get_a_second_active_customer(
    admin_client: Client, mirrored: None, user: Any
) -> None:
    sync_objects([world(2)["customer"]])
    second = Customer.objects.get(stripe_id="cus_2")
    response = admin_client.post(change_page(second), {"subscriber": user.pk})
    assert response.status_code == 200
    assert "already has an active customer" in response.content.decode()
    second.refresh_from_db()
    assert second.subscriber_id is None


# --- "Sync from Stripe" ---------------------------------------------------------------------


def make_in_fake(fake: FakeStripe, kind: str) -> dict[str, Any]:
    """One object of ``kind`` in the fake."""
    if kind in ("charge", "refund"):
        client = get_client()
        intent = client.v1.payment_intents.create(
            params={
                "amount": 1500,
                "currency": "usd",
                "payment_method": "pm_card_visa",
                "confirm": True,
            }
        )
        charge = str(intent.latest_charge)
        if kind == "charge":
            return fake.get("charge", charge)
        refund = client.v1.refunds.create(params={"charge": charge, "amount": 500})
        return fake.get("refund", refund.id)
    if kind == "price":
        product = fake.add("product", name="Gold")
        return fake.add("price", product=product["id"], unit_amount=1500, currency="usd")
    if kind == "subscription":
        customer = fake.add("customer", email="sub@example.com")
        product = fake.add("product", name="Gold")
        price = fake.add(
            "price",
            product=product["id"],
            unit_amount=1500,
            currency="usd",
            recurring={"interval": "month"},
        )
        return fake.add("subscription", customer=customer["id"], items=[{"price": price["id"]}])
    if kind == "promotion_code":
        coupon = fake.add("coupon", percent_off=25, duration="once")
        return fake.add("promotion_code", promotion={"type": "coupon", "coupon": coupon["id"]})
    if kind == "coupon":
        return fake.add("coupon", percent_off=25, duration="once")
    if kind in ("invoice", "invoiceitem"):
        customer = fake.add("customer", email="inv@example.com")
        extra = {"amount": 250, "currency": "usd"} if kind == "invoiceitem" else {}
        return fake.add(kind, customer=customer["id"], **extra)
    if kind == "payment_intent":
        return fake.add(kind, amount=1500, currency="usd")
    if kind == "product":
        return fake.add(kind, name="Gold")
    return fake.add(kind)


def run_action(client: Client, model: type[models.Model], pks: list[Any]) -> Any:
    return client.post(
        changelist(model),
        {"action": "sync_from_stripe", "_selected_action": pks},
        follow=True,
    )


def test_sync_action_is_offered_for_every_model_stripe_can_return(
    admin_client: Client, mirrored: None
) -> None:
    offered = set()
    for model in REGISTERED:
        response = admin_client.get(changelist(model))
        form = response.context["action_form"]
        choices = dict(form.fields["action"].choices) if form else {}
        if "sync_from_stripe" in choices:
            plural = model._meta.verbose_name_plural
            assert choices["sync_from_stripe"] == f"Sync selected {plural} from Stripe"
            offered.add(model.__name__)
    assert offered == {m.__name__ for m in FETCHABLE}
    assert offered == {
        "Customer",
        "PaymentMethod",
        "Subscription",
        "Product",
        "Price",
        "Coupon",
        "PromotionCode",
        "Invoice",
        "InvoiceItem",
        "PaymentIntent",
        "Charge",
        "Refund",
        "SetupIntent",
    }


@pytest.mark.parametrize("model", FETCHABLE, ids=ids)
def test_sync_action_refreshes_rows_from_stripe(
    admin_client: Client, fake_stripe: FakeStripe, model: type[models.Model]
) -> None:
    kind = model.STRIPE_OBJECT  # type: ignore[attr-defined]
    obj = make_in_fake(fake_stripe, kind)
    sync_objects([obj])
    row = model._default_manager.get(stripe_id=obj["id"])
    assert row.metadata == {}  # type: ignore[attr-defined]
    fake_stripe.update(kind, obj["id"], metadata={"synced": "from the admin"})
    fake_stripe.reset_requests()

    response = run_action(admin_client, model, [row.pk])

    assert response.status_code == 200
    row.refresh_from_db()
    assert row.metadata == {"synced": "from the admin"}  # type: ignore[attr-defined]
    assert fake_stripe.request_count == 1
    assert texts(response) == [f"Synced 1 {model._meta.verbose_name} from Stripe."]


def test_sync_action_picks_up_a_new_email_and_reports_missing_rows(
    admin_client: Client, fake_stripe: FakeStripe
) -> None:
    obj = fake_stripe.add("customer", email="old@example.com")
    sync_objects([obj, world(7)["customer"]])  # cus_7 exists only here
    fake_stripe.update("customer", obj["id"], email="new@example.com")
    rows = list(Customer.objects.values_list("pk", flat=True))

    response = run_action(admin_client, Customer, rows)

    assert Customer.objects.get(stripe_id=obj["id"]).email == "new@example.com"
    assert Customer.objects.get(stripe_id="cus_7").email == "jenny7@example.com"
    assert texts(response) == [
        "Synced 1 customer from Stripe.",
        "Stripe no longer has 1 customer: cus_7.",
    ]


def test_a_stripe_error_becomes_a_message(admin_client: Client, fake_stripe: FakeStripe) -> None:
    good = fake_stripe.add("customer", email="good@example.com")
    bad = fake_stripe.add("customer", email="bad@example.com")
    sync_objects([good, bad])
    fake_stripe.update("customer", good["id"], email="fresh@example.com")
    fake_stripe.update("customer", bad["id"], email="stale@example.com")
    fake_stripe.fail_next(
        400, path=f"/v1/customers/{bad['id']}", code="parameter_invalid", message="Nope."
    )

    response = run_action(
        admin_client, Customer, list(Customer.objects.values_list("pk", flat=True))
    )

    assert response.status_code == 200
    assert Customer.objects.get(stripe_id=good["id"]).email == "fresh@example.com"
    assert Customer.objects.get(stripe_id=bad["id"]).email == "bad@example.com"
    messages = texts(response)
    assert "Synced 1 customer from Stripe." in messages
    assert any(bad["id"] in m and "parameter_invalid" in m for m in messages), messages


def test_stripe_down_stops_the_run(admin_client: Client, fake_stripe: FakeStripe) -> None:
    sync_objects([fake_stripe.add("customer", email=f"c{i}@example.com") for i in range(3)])
    fake_stripe.fail_next(500, count=50, path="/v1/customers/*")
    fake_stripe.reset_requests()

    response = run_action(
        admin_client, Customer, list(Customer.objects.values_list("pk", flat=True))
    )

    assert response.status_code == 200
    assert len({r.path for r in fake_stripe.requests}) == 1  # only the first row was tried
    assert texts(response)[-1] == "Stopped after that error: 2 customers not attempted."


def test_payment_methods_gone_from_stripe_leave_the_mirror(
    admin_client: Client, fake_stripe: FakeStripe
) -> None:
    sync_objects([world(3)["payment_method"]])
    pm = PaymentMethod.objects.get(stripe_id="pm_3")
    response = run_action(admin_client, PaymentMethod, [pm.pk])
    assert not PaymentMethod.objects.filter(pk=pm.pk).exists()
    assert texts(response) == [
        "Stripe no longer has 1 payment method (removed from the mirror): pm_3."
    ]


def test_sync_action_refuses_too_many_rows(
    admin_client: Client, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin.site._registry[Customer], "sync_limit", 2)
    sync_objects([fake_stripe.add("customer") for _ in range(3)])
    fake_stripe.reset_requests()
    response = run_action(
        admin_client, Customer, list(Customer.objects.values_list("pk", flat=True))
    )
    assert fake_stripe.request_count == 0
    assert "at most 2 rows" in texts(response)[0]


def test_retry_action_still_processes_failed_events(admin_client: Client, mirrored: None) -> None:
    event = Event.objects.get(stripe_id="evt_0")
    Event.objects.filter(pk=event.pk).update(type="test.admin.unhandled")
    response = admin_client.post(
        changelist(Event), {"action": "retry_events", "_selected_action": [event.pk]}, follow=True
    )
    assert texts(response) == ["1 event(s) queued for processing."]
    assert Event.objects.get(pk=event.pk).status == EventStatus.SUCCEEDED


# --- the change-page sync button: staff with the change permission only -------------------


def test_sync_button_refreshes_one_row(admin_client: Client, fake_stripe: FakeStripe) -> None:
    obj = fake_stripe.add("customer", email="old@example.com")
    sync_objects([obj])
    customer = Customer.objects.get(stripe_id=obj["id"])
    page = admin_client.get(change_page(customer)).content.decode()
    assert f'action="{sync_url(customer)}"' in page
    fake_stripe.update("customer", obj["id"], email="new@example.com")

    assert admin_client.get(sync_url(customer)).status_code == 405
    response = admin_client.post(sync_url(customer))

    assert response.status_code == 302 and response.url == change_page(customer)
    assert Customer.objects.get(pk=customer.pk).email == "new@example.com"


def staff(django_user_model: Any, *codenames: str) -> Any:
    user = django_user_model.objects.create_user("staffer", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.mark.parametrize("who", ["anonymous", "not staff", "staff who may only view"])
def test_sync_needs_staff_and_the_change_permission(
    client: Client, django_user_model: Any, fake_stripe: FakeStripe, who: str
) -> None:
    obj = fake_stripe.add("customer", email="old@example.com")
    sync_objects([obj])
    customer = Customer.objects.get(stripe_id=obj["id"])
    fake_stripe.update("customer", obj["id"], email="new@example.com")
    if who == "not staff":
        client.force_login(django_user_model.objects.create_user("someone", password="pw"))
    elif who == "staff who may only view":
        client.force_login(staff(django_user_model, "view_customer"))
        page = client.get(change_page(customer))
        assert page.status_code == 200 and sync_url(customer) not in page.content.decode()
    fake_stripe.reset_requests()

    button = client.post(sync_url(customer))
    action = run_action(client, Customer, [customer.pk])

    if who == "staff who may only view":
        assert button.status_code == 403
        assert action.status_code == 200
    else:
        assert button.status_code == 302 and "/admin/login/" in button.url
        assert "/admin/login/" in action.redirect_chain[0][0]
    assert fake_stripe.request_count == 0
    assert Customer.objects.get(pk=customer.pk).email == "old@example.com"


def test_staff_with_the_change_permission_may_sync(
    client: Client, django_user_model: Any, fake_stripe: FakeStripe
) -> None:
    obj = fake_stripe.add("customer", email="old@example.com")
    sync_objects([obj])
    customer = Customer.objects.get(stripe_id=obj["id"])
    fake_stripe.update("customer", obj["id"], email="new@example.com")
    client.force_login(staff(django_user_model, "view_customer", "change_customer"))
    assert client.post(sync_url(customer)).status_code == 302
    assert Customer.objects.get(pk=customer.pk).email == "new@example.com"


def test_inlines_follow_the_parent_permission(
    client: Client, django_user_model: Any, mirrored: None
) -> None:
    client.force_login(staff(django_user_model, "view_subscription"))
    page = client.get(change_page(Subscription.objects.get(stripe_id="sub_0")))
    assert page.status_code == 200
    [inline] = page.context["inline_admin_formsets"]
    assert [form.original.stripe_id for form in inline] == ["si_0"]


# --- secrets --------------------------------------------------------------------------------


def all_pages(client: Client) -> Iterator[str]:
    for model in REGISTERED:
        yield client.get(changelist(model)).content.decode()
        for row in model._default_manager.all()[:3]:
            yield client.get(change_page(row)).content.decode()


def test_no_secret_on_any_page(admin_client: Client, mirrored: None) -> None:
    # A row written around the sync path still shows no client secret, and an error text
    # carrying the API key shows it redacted.
    PaymentIntent.objects.filter(stripe_id="pi_0").update(
        raw={"id": "pi_0", "client_secret": "pi_0_secret_leaked", "note": "pi_0_secret_again"}
    )
    Event.objects.filter(stripe_id="evt_0").update(
        last_error=f"AuthenticationError: bad key {API_KEY}",
        traceback=f"Traceback...\nkey={API_KEY} whsec_test_secret",
    )
    pages = list(all_pages(admin_client))
    assert len(pages) > 2 * len(REGISTERED)
    for html in pages:
        assert "_secret_" not in html
        assert API_KEY not in html and "whsec_" not in html
    event_page = admin_client.get(change_page(Event.objects.get(stripe_id="evt_0")))
    assert "bad key [redacted]" in event_page.content.decode()


def test_a_payment_intent_from_stripe_shows_no_client_secret(
    admin_client: Client, fake_stripe: FakeStripe
) -> None:
    intent = fake_stripe.add("payment_intent", amount=1500, currency="usd")
    assert "_secret_" in intent["client_secret"]
    sync_objects([intent])
    row = PaymentIntent.objects.get(stripe_id=intent["id"])
    for url in (change_page(row), changelist(PaymentIntent)):
        html = admin_client.get(url).content.decode()
        assert intent["id"] in html and "_secret_" not in html
    setup = fake_stripe.add("setup_intent")
    sync_objects([setup])
    html = admin_client.get(change_page(SetupIntent.objects.get(stripe_id=setup["id"])))
    assert "_secret_" not in html.content.decode()


def test_raw_json_is_pretty_and_escaped(admin_client: Client, mirrored: None) -> None:
    Product.objects.filter(stripe_id="prod_0").update(
        raw={"id": "prod_0", "name": "<script>alert(1)</script>"}
    )
    html = admin_client.get(change_page(Product.objects.get(stripe_id="prod_0")))
    body = html.content.decode()
    assert '<pre class="si-json">{\n  &quot;id&quot;: &quot;prod_0&quot;,\n' in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>alert(1)" not in body
