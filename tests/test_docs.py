"""Every code block of the documentation (``docs/**/*.md``) is checked.

One test per fenced block, named ``<page>[<index>]:L<line>:<kind>``. The kind says how the
block is checked:

- ``run``: a ```` ```python ```` block is executed against the in-process fake Stripe
  (``stripe_integrations.testing.fake_stripe()``) in a namespace pre-filled with the stand-in
  names the pages use (``user``, ``customer``, ``price``, ``subscription``, ``event``,
  ``client``... see :func:`docs_namespace`). Blocks of one page share their namespace in page
  order: the test of block *n* first runs blocks 0 to *n-1* of its page (on a fresh database
  and a fresh fake), then block *n*. A block that defines test functions (``def test_...``)
  has each of them called afterwards with the pytest fixtures it names, on an emptied
  database and a fresh fake, as pytest would run it.
- ``settings``: every top-level statement is an import or an assignment to an UPPER_CASE
  name, so it belongs in a settings module: compiled only; the keys of a ``STRIPE_CONFIG``
  dict literal are checked against ``conf.KNOWN_KEYS``.
- ``urls``: assigns ``urlpatterns`` (a URLconf module): compiled only, and every module it
  ``include()``s is imported.
- ``compile-only``: marked with ``<!-- docs-test: compile-only -->`` on the line just before
  its fence, because it cannot run here; an HTML comment ``<!-- why: ... -->`` on the line
  before the mark says why (required). Compiled only. Set ``DOCS_TEST_RUN_ALL=1`` to execute
  these blocks too, to find the marks that can be lifted.
- ``shell``: a ``bash``/``sh``/``shell``/``console``/``text`` block: each
  ``manage.py <command> ...`` (or ``django-admin``) line is parsed by that command's own
  argument parser, so the command must exist and its options be valid; nothing is run.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
import os
import re
import shlex
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, get_commands, load_command_class
from django.db import transaction
from django.test import Client

DOCS = Path(__file__).resolve().parent.parent / "docs"
COMPILE_ONLY_MARK = "<!-- docs-test: compile-only -->"
WHY_RE = re.compile(r"^<!-- why: (?P<why>.+) -->$")
RUN_ALL = os.environ.get("DOCS_TEST_RUN_ALL") == "1"
#: Optional extras of the library: a block importing one that is not installed is skipped
#: (an environment without the extra), never a block that fails for any other reason.
OPTIONAL_MODULES = {"celery"}
SHELL_LANGS = {"bash", "sh", "shell", "console", "text"}
FENCE_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    page: str
    index: int
    line: int  # line of the first line of code (1-based)
    lang: str
    source: str
    compile_only: bool
    why: str = ""

    @property
    def filename(self) -> str:
        return f"docs/{self.page}"

    @property
    def kind(self) -> str:
        if self.lang in SHELL_LANGS:
            return "shell"
        if self.lang != "python":
            return "other"
        if self.compile_only:
            return "compile-only"
        return snippet_kind(self.source)

    def code(self, mode: str = "exec") -> Any:
        """The block compiled so that tracebacks name the page and its line numbers."""
        padded = "\n" * (self.line - 1) + self.source
        return compile(padded, self.filename, mode)


def parse_blocks(page: str, text: str) -> list[Block]:
    """The fenced code blocks of a page, in order (indented fences included)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE_RE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = match["indent"], match["fence"]
        lang = match["info"].strip().split(" ")[0].lower() if match["info"].strip() else ""
        previous = lines[i - 1].strip() if i > 0 else ""
        why = WHY_RE.match(lines[i - 2].strip()) if i > 1 else None
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and stripped.strip(fence[0]) == "":
                break
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        blocks.append(
            Block(
                page=page,
                index=len(blocks),
                line=i + 2,
                lang=lang,
                source=textwrap.dedent("\n".join(body)) + "\n",
                compile_only=previous == COMPILE_ONLY_MARK,
                why=why["why"] if why else "",
            )
        )
        i = j + 1
    return blocks


def snippet_kind(source: str) -> str:
    """``settings``, ``urls`` or ``run`` for a python block."""
    tree = ast.parse(source)
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
            continue
        return "run"
    if "urlpatterns" in names:
        return "urls"
    if names and all(n.isupper() for n in names):
        return "settings"
    return "run"


def all_blocks() -> list[Block]:
    blocks: list[Block] = []
    for path in sorted(DOCS.rglob("*.md")):
        page = path.relative_to(DOCS).as_posix()
        blocks += parse_blocks(page, path.read_text(encoding="utf-8"))
    return [b for b in blocks if b.kind != "other"]


BLOCKS = all_blocks()
# Each test runs its page's blocks again, in a module of its own name: a Celery task a page
# defines is then registered once per name, not redefined under the name of the last run.
_RUNS = itertools.count()
BY_PAGE: dict[str, list[Block]] = {}
for _block in BLOCKS:
    BY_PAGE.setdefault(_block.page, []).append(_block)


# --- the stand-ins ----------------------------------------------------------------------------


@pytest.fixture
def docs_namespace(django_user_model: Any) -> Iterator[dict[str, Any]]:
    """The names the pages use without defining them, built on a fresh fake Stripe."""
    from stripe_integrations.actions import (
        StripeCustomer,
        StripePrice,
        StripeProduct,
        StripeSubscription,
    )
    from stripe_integrations.client import get_client
    from stripe_integrations.models import Customer
    from stripe_integrations.sync import mapping
    from stripe_integrations.testing import fake_stripe
    from stripe_integrations.testing.webhooks import build_event
    from stripe_integrations.webhooks.processing import store_event

    with fake_stripe(seed=1234) as fake:
        user = django_user_model.objects.create(username="docs-user", email="jenny@example.com")
        billing_email = "jenny@example.com"
        customer = StripeCustomer.create(user, billing_email, name="Jenny Rosen")
        payment_method = customer.add_payment_method("pm_card_visa")
        customer.refresh_from_db()
        stripe_customer = get_client().v1.customers.retrieve(customer.stripe_id)
        product = StripeProduct.create(name="Pro")
        price = StripePrice.create(
            product=product.stripe_id,
            unit_amount=1500,
            currency="usd",
            recurring={"interval": "month"},
            lookup_key="pro-monthly",
        )
        subscription = StripeSubscription.create(customer, price=price)
        extra = billing_stand_ins()
        event, _ = store_event(
            build_event("customer.updated", mapping.as_dict(stripe_customer)),
            source="manual",
        )
        fake.reset_requests()
        yield {
            "__name__": f"docs_{next(_RUNS)}",
            "fake": fake,
            "user": user,
            "billing_email": billing_email,
            "customer": customer,
            "stripe_customer": stripe_customer,
            "payment_method": payment_method,
            "product": product,
            "price": price,
            "subscription": subscription,
            "event": event,
            "client": Client(),
            **extra,
            # The generic names of the sync page's signatures.
            "stripe_id": customer.stripe_id,
            "kind": "product",
            "objects": [],
            "stubs": [],
            "model": Customer,
            "rows": [{"stripe_id": customer.stripe_id, "name": "Jenny Rosen"}],
        }


@pytest.fixture(autouse=True)
def isolate_handlers_and_signals() -> Iterator[None]:
    """Handlers, signal receivers and backfill resources the pages register are removed
    after each test."""
    from stripe_integrations.backfill import registry as resources
    from stripe_integrations.webhooks import registry, signals

    resources.all_resources()  # load the built-in ones before taking the snapshot
    saved_resources = dict(resources._registry)

    entries = list(registry._entries)
    typed = dict(signals._typed)
    sent = [
        signals.event_received,
        signals.event_processed,
        signals.event_failed,
        signals.event_skipped,
    ]
    receivers = [list(signal.receivers) for signal in [*sent, *typed.values()]]
    yield
    with resources._lock:
        resources._registry.clear()
        resources._registry.update(saved_resources)
    registry._entries = entries
    signals._typed.clear()
    signals._typed.update(typed)
    for signal, saved in zip([*sent, *typed.values()], receivers, strict=True):
        signal.receivers = saved
        signal.sender_receivers_cache.clear()


def billing_stand_ins() -> dict[str, Any]:
    """A mirrored ``coupon`` and an active ``promotion_code`` (code ``SPRING25``). A fake
    without coupon endpoints (older than its billing endpoints) gives neither, and the blocks
    that use them fail by name."""
    from stripe_integrations.actions import StripeCoupon, StripePromotionCode
    from stripe_integrations.exceptions import StripeAPIError

    try:
        coupon = StripeCoupon.create(percent_off=25, duration="once", name="Spring")
        promotion_code = StripePromotionCode.create(
            promotion={"type": "coupon", "coupon": coupon.stripe_id}, code="SPRING25"
        )
    except StripeAPIError as exc:
        if exc.code != "url_invalid":
            raise
        return {}
    return {"coupon": coupon, "promotion_code": promotion_code}


# --- running a block ------------------------------------------------------------------------


def run_block(block: Block, namespace: dict[str, Any], request: pytest.FixtureRequest) -> None:
    """Execute a ``run`` block, then call the test functions it defines."""
    before = set(namespace)
    exec(block.code(), namespace)  # executing the documentation is the point
    for name in sorted(set(namespace) - before):
        func = namespace[name]
        if name.startswith("test_") and inspect.isfunction(func):
            call_doc_test(func, request)


def call_doc_test(func: Any, request: pytest.FixtureRequest) -> None:
    """Call a test function of the docs as pytest would: its fixtures, an empty database,
    a fresh fake Stripe. The database is rolled back afterwards."""
    from stripe_integrations.testing import fake_stripe

    class Rollback(Exception):
        pass

    with fake_stripe() as fake:
        try:
            with transaction.atomic():
                empty_database()
                kwargs = {
                    name: fixture_value(name, fake, request)
                    for name in inspect.signature(func).parameters
                }
                func(**kwargs)
                raise Rollback
        except Rollback:
            pass


def empty_database() -> None:
    for model in apps.get_app_config("stripe_integrations").get_models():
        model._default_manager.all().delete()
    get_user_model()._default_manager.all().delete()


def fixture_value(name: str, fake: Any, request: pytest.FixtureRequest) -> Any:
    if name == "fake_stripe":
        return fake
    if name == "django_user_model":
        return get_user_model()
    if name == "client":
        return Client()
    if name in {
        "django_assert_num_queries",
        "django_capture_on_commit_callbacks",
        "settings",
        "admin_client",
        "rf",
    }:
        return request.getfixturevalue(name)
    raise AssertionError(f"a test in the docs asks for fixture {name!r}, unknown to test_docs")


def missing_optional_modules(blocks: list[Block]) -> list[str]:
    """Optional extras that ``blocks`` import and that are not installed."""
    wanted: set[str] = set()
    for block in blocks:
        for node in ast.walk(ast.parse(block.source)):
            if isinstance(node, ast.Import):
                wanted |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                wanted.add(node.module.split(".")[0])
    missing = []
    for name in sorted(wanted & OPTIONAL_MODULES):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def check_compiles(block: Block) -> None:
    block.code()


def check_settings(block: Block) -> None:
    from stripe_integrations.conf import KNOWN_KEYS

    block.code()
    for node in ast.parse(block.source).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "STRIPE_CONFIG" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            keys = {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
            unknown = keys - KNOWN_KEYS
            assert not unknown, f"STRIPE_CONFIG keys unknown to the library: {sorted(unknown)}"


def check_urls(block: Block) -> None:
    block.code()
    for node in ast.walk(ast.parse(block.source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "include"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            importlib.import_module(node.args[0].value)


COMMAND_RE = re.compile(r"(?:manage\.py|django-admin)\s+(?P<args>.*)$")


def check_shell(block: Block) -> int:
    """Check each ``manage.py`` line with its command's parser; returns how many.

    A command line is parsed as the shell would pass it. A usage synopsis (a line with
    ``[...]``, continued on the indented lines after it) must name an existing command, and
    each ``--option`` it shows must be one the command accepts.
    """
    commands = get_commands()
    checked = 0
    lines = block.source.splitlines()
    for number, raw in enumerate(lines):
        line = raw.split(" #", 1)[0].strip()
        match = COMMAND_RE.search(line)
        if not match:
            continue
        text = match["args"]
        name = text.split()[0]
        assert name in commands, f"manage.py {name}: no such command"
        if name in {"help", "check", "migrate", "makemigrations", "shell", "runserver"}:
            checked += 1
            continue
        parser = load_command_class(commands[name], name).create_parser("manage.py", name)
        if "[" in text:
            for more in lines[number + 1 :]:
                if not more.startswith(" ") or not more.strip().startswith("["):
                    break
                text += " " + more.strip()
            known = set(parser._option_string_actions)
            unknown = sorted(set(re.findall(r"--[a-z][a-z-]*", text)) - known)
            assert not unknown, f"manage.py {name}: unknown options {unknown}"
            checked += 1
            continue
        argv = shlex.split(text)[1:]
        for stop, token in enumerate(argv):  # keep the command's own arguments
            if token in {"&&", "||", "|", ";", ">", ">>", "2>&1"}:
                argv = argv[:stop]
                break
        try:
            parser.parse_args(argv)
        except (SystemExit, CommandError) as exc:  # how the parser reports bad options
            raise AssertionError(f"manage.py {name} {' '.join(argv)}: invalid options") from exc
        checked += 1
    return checked


# --- the test ---------------------------------------------------------------------------------


def block_params() -> list[Any]:
    return [
        pytest.param(b.page, b.index, id=f"{b.page}[{b.index}]:L{b.line}:{b.kind}") for b in BLOCKS
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("page", "index"), block_params())
def test_doc_block(page: str, index: int, request: pytest.FixtureRequest) -> None:
    blocks = BY_PAGE[page]
    block = blocks[index]
    kind = block.kind
    if kind == "shell":
        check_shell(block)
        return
    if kind == "settings":
        check_settings(block)
        return
    if kind == "urls":
        check_urls(block)
        return
    if kind == "compile-only":
        assert block.why, "a compile-only block needs <!-- why: ... --> before its mark"
        check_compiles(block)
        if not RUN_ALL:
            return
    runnable = {"run", "compile-only"} if RUN_ALL else {"run"}
    missing = missing_optional_modules([block])
    if missing:
        pytest.skip(f"optional dependency not installed: {', '.join(missing)}")
    namespace = request.getfixturevalue("docs_namespace")
    for earlier in blocks[:index]:
        if earlier.kind not in runnable or missing_optional_modules([earlier]):
            continue
        try:
            run_block(earlier, namespace, request)
        except Exception as exc:
            pytest.fail(
                f"block {earlier.index} of {page} (line {earlier.line}), which this block "
                f"follows, failed: {type(exc).__name__}: {exc}"
            )
    run_block(block, namespace, request)


def test_every_page_is_in_the_nav() -> None:
    """Each page of docs/ is reachable from the nav of mkdocs.yml."""
    nav = (DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    missing = sorted(p for p in pages if f" {p}" not in nav)
    assert not missing, f"pages missing from the nav: {missing}"
