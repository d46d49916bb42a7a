"""Storing events once and applying them with retries.

:func:`store_event` is what the webhook view (and ``stripe_process_events --pull``) call;
:func:`process_event` runs the handlers of one event and records the outcome. Backends
decide where and when ``process_event`` runs.
"""

from __future__ import annotations

import contextvars
import logging
import re
import traceback as tb
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from stripe_integrations.conf import get_config
from stripe_integrations.models import Event, EventStatus
from stripe_integrations.ratelimit import background
from stripe_integrations.sync import mapping
from stripe_integrations.webhooks import leases, mirror, signals
from stripe_integrations.webhooks.registry import registry

log = logging.getLogger("stripe_integrations.webhooks")

CLAIMABLE = (EventStatus.PENDING, EventStatus.FAILED)


@dataclass(frozen=True)
class Outcome:
    """What one attempt did. ``retry_in`` is the delay before the next attempt, if any."""

    event_id: int
    status: str
    retry_in: float | None = None


#: Stripe's ids and event types: printable ASCII without spaces, at most 255 characters.
_TOKEN_RE = re.compile(r"[!-~]{1,255}")


def event_problem(data: Any) -> str | None:
    """Why ``data`` cannot be stored as an event (its id or type fits no column, it has no
    ``data.object``...), or None. The webhook view answers the reason with a 400."""
    if not isinstance(data, dict) or data.get("object") != "event":
        return "body is not a Stripe event"
    event_id = data.get("id")
    if not isinstance(event_id, str) or not event_id.startswith("evt_"):
        return "event id is missing or malformed"
    if not _TOKEN_RE.fullmatch(event_id):
        return "event id is missing or malformed"
    event_type = data.get("type")
    if not isinstance(event_type, str) or not event_type:
        return "event type is missing"
    if not _TOKEN_RE.fullmatch(event_type):
        return "event type is malformed"
    inner = data.get("data")
    if not isinstance(inner, dict) or not isinstance(inner.get("object"), dict):
        return "event has no data.object"
    if not isinstance(data.get("livemode"), bool):
        return "event livemode is missing"
    return None


def store_event(data: dict[str, Any], *, source: str = "webhook") -> tuple[Event | None, bool]:
    """Store a verified event once, ``pending``. Returns ``(event, True)`` when new and
    ``(None, False)`` for a duplicate, which changes nothing. Processing is the caller's to
    start: the webhook view hands new events to the backend
    (:func:`~stripe_integrations.webhooks.backends.receive`)."""
    fields = mapping.event_fields(data)
    try:
        with transaction.atomic():
            event = Event.objects.create(**fields, status=EventStatus.PENDING, source=source)
    except IntegrityError:
        if not Event.objects.filter(stripe_id=fields["stripe_id"]).exists():
            raise
        return None, False
    # A failing receiver must not turn a stored delivery into an error answer.
    for receiver, result in signals.event_received.send_robust(sender=Event, event=event):
        if isinstance(result, Exception):
            log.error("event_received receiver %r failed", receiver, exc_info=result)
    return event, True


def retry_delay(attempts: int) -> float:
    """Exponential backoff: ``EVENT_RETRY_DELAY * 2**(attempts-1)``, capped."""
    config = get_config()
    delay = config.event_retry_delay * (2 ** max(attempts - 1, 0))
    return float(min(delay, config.event_retry_max_delay))


def claim(event_id: int) -> int | None:
    """Take a pending or failed event (or one whose worker's lease expired) for processing.

    Returns the lease's token (the attempt number), or None if another worker holds it or it
    is done."""
    return claim_batch([event_id]).get(event_id)


def claim_batch(
    event_ids: Sequence[int] | None = None, *, limit: int | None = None
) -> dict[int, int]:
    """Take events for processing in one transaction: the given ones (pending, failed, or
    abandoned by a dead worker), or, without ids, up to ``limit`` due ones, oldest first
    (pending, failed whose retry is due, abandoned). On PostgreSQL rows another worker is
    claiming are skipped (``SKIP LOCKED``), so concurrent drains take disjoint batches.

    Returns ``{event pk: lease token}`` of the events this call took."""
    if event_ids is not None:
        wanted = Q(status__in=CLAIMABLE) | leases.abandoned()
        candidates = Event.objects.filter(wanted, pk__in=list(event_ids))
    else:
        now = timezone.now()
        due = (
            Q(status=EventStatus.PENDING)
            | Q(status=EventStatus.FAILED, next_attempt_at__lte=now)
            | leases.abandoned()
        )
        candidates = Event.objects.filter(due).order_by("created", "id")
    size = limit if limit is not None else get_config().event_batch_size
    with transaction.atomic():
        locked = candidates.select_for_update(skip_locked=True).values_list("pk", flat=True)
        ids = list(locked[:size])
        if not ids:
            return {}
        Event.objects.filter(pk__in=ids).update(
            status=EventStatus.PROCESSING,
            attempts=F("attempts") + 1,
            locked_at=timezone.now(),
            next_attempt_at=None,
        )
        return dict(Event.objects.filter(pk__in=ids).values_list("pk", "attempts"))


def _held(event_id: int, token: int) -> QuerySet[Event]:
    """The event, if the lease ``token`` still holds it."""
    return Event.objects.filter(pk=event_id, status=EventStatus.PROCESSING, attempts=token)


class LeaseLost(Exception):
    """Another worker took the event over after this worker's lease expired."""


def skip_reason(event: Event) -> str | None:
    """Why an event is stored but not applied, or None to apply it."""
    account = (event.raw or {}).get("account")
    if account:
        shown = account if isinstance(account, str) else repr(account)
        return (
            f"event of the connected account {shown[:255]}: connected accounts are not "
            "mirrored (connect to the event_skipped signal to handle it)"
        )
    return None


def process_event(event_id: int) -> Outcome:
    """Process one event (a batch of one; see :func:`process_batch`)."""
    outcomes = process_batch([event_id])
    if outcomes:
        return outcomes[0]
    status = Event.objects.filter(pk=event_id).values_list("status", flat=True).first()
    return Outcome(event_id, str(status or "missing"))


def drain(*, limit: int | None = None, max_batches: int | None = None) -> list[Outcome]:
    """Process due events batch after batch until none is left (or ``max_batches``)."""
    outcomes: list[Outcome] = []
    batches = 0
    while max_batches is None or batches < max_batches:
        batch = process_batch(limit=limit)
        if not batch:
            break
        outcomes.extend(batch)
        batches += 1
    return outcomes


def process_batch(
    event_ids: Sequence[int] | None = None, *, limit: int | None = None
) -> list[Outcome]:
    """Claim events (the given ones, or due ones) and apply them, coalesced by object.

    Each distinct object the batch's events name is fetched once, concurrently, under the
    account's rate limit (the newest state answers for every event naming it); customers the
    events concern that are not mirrored yet are fetched too. Then, per object, in one
    transaction: the object is mirrored, and each of its events, in ``created`` order, is
    linked to its customer, runs its handlers and is marked ``succeeded``, in a savepoint of
    its own, so a failing handler fails its event only. Returns the outcomes in the order of
    the events."""
    claims = claim_batch(event_ids, limit=limit)
    if not claims:
        return []
    events = list(Event.objects.filter(pk__in=list(claims)).order_by("created", "pk"))
    outcomes: dict[int, Outcome] = {}
    # Fetches and handlers are background work for the rate limiter; the fetch threads run
    # in copies of this context, so they are too.
    with background(), leases.hold_many(claims):
        live: list[Event] = []
        for event in events:
            reason = skip_reason(event)
            if reason is not None:
                outcomes[event.pk] = _record_skip(event, claims[event.pk], reason)
            else:
                live.append(event)
        targets = {event.pk: mirror.target_of(event) for event in live}
        named = {target for target in targets.values() if target is not None}
        customers = mirror.customers_to_fetch(live, named)
        groups: dict[Any, list[Event]] = {}
        for event in live:
            key = targets[event.pk] or ("event", event.pk)
            groups.setdefault(key, []).append(event)
        # What each group waits for: its object and the new customers its events concern.
        needs: dict[Any, set[mirror.Target]] = {}
        for key, group in groups.items():
            wanted = {key} if isinstance(key, mirror.Target) else set()
            for event in group:
                customer_id = mirror.customer_of(event)
                customer = mirror.Target("customer", customer_id) if customer_id else None
                if customer is not None and customer in customers:
                    wanted.add(customer)
            needs[key] = wanted
        order = [*sorted(customers, key=lambda t: t.stripe_id)]
        order += [key for key in groups if isinstance(key, mirror.Target) and key not in order]
        fetched: dict[mirror.Target, Any] = {}
        mirrored: set[mirror.Target] = set()

        def apply_ready() -> None:
            # A group is applied as soon as what it needs has arrived, while the other
            # fetches go on: the database work overlaps Stripe's answers.
            for key in [k for k, wanted in needs.items() if wanted <= fetched.keys()]:
                del needs[key]
                target = key if isinstance(key, mirror.Target) else None
                outcomes.update(_apply_group(target, groups[key], claims, fetched, mirrored))

        apply_ready()
        for target, result in fetch_each(order):
            fetched[target] = result
            apply_ready()
    return [outcomes[event.pk] for event in events if event.pk in outcomes]


def fetch_each(targets: Sequence[mirror.Target]) -> Iterator[tuple[mirror.Target, Any]]:
    """Fetch every target once, concurrently (``EVENT_FETCH_CONCURRENCY`` threads), asked in
    the given order; yields each with its result as it arrives (a failed fetch: its
    exception)."""
    workers = min(get_config().event_fetch_concurrency, len(targets))
    if workers <= 1:
        for target in targets:
            yield target, _fetch_one(target)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stripe-fetch") as pool:
        futures = {
            pool.submit(contextvars.copy_context().run, _fetch_one, target): target
            for target in targets
        }
        for future in as_completed(futures):
            yield futures[future], future.result()


def fetch_all(targets: set[mirror.Target]) -> dict[mirror.Target, Any]:
    """Fetch every target once (see :func:`fetch_each`); a failed fetch maps to its
    exception."""
    return dict(fetch_each(sorted(targets, key=lambda t: (t.kind, t.stripe_id))))


def _fetch_one(target: mirror.Target) -> Any:
    try:
        return mirror.fetch(target)
    except Exception as exc:  # recorded on the events that need this object
        return exc


@dataclass
class _Result:
    event: Event
    status: str
    error: BaseException | None = None
    trace: str = ""


def _apply_group(
    target: mirror.Target | None,
    group: list[Event],
    claims: dict[int, int],
    fetched: dict[mirror.Target, Any],
    mirrored: set[mirror.Target],
) -> dict[int, Outcome]:
    """Mirror ``target`` and run ``group``'s events in one transaction (see
    :func:`process_batch`)."""
    needed = [mirror.Target("customer", c) for e in group if (c := mirror.customer_of(e))]
    customers = [t for t in dict.fromkeys(needed) if t in fetched and t not in mirrored]
    failure = next(
        (
            fetched[t]
            for t in [*customers, *([target] if target else [])]
            if isinstance(fetched[t], Exception)
        ),
        None,
    )
    if failure is not None:
        trace = "".join(tb.format_exception(failure))
        return {e.pk: _record_failure(e, claims[e.pk], failure, trace) for e in group}
    results: list[_Result] = []
    try:
        with transaction.atomic():
            for customer in customers:
                mirror.apply(customer, fetched[customer])
            if target is not None:
                mirror.apply(target, fetched[target])
            for event in group:
                results.append(_run_event(event, claims[event.pk]))
            for result in results:
                if result.status == EventStatus.FAILED:
                    _mark_failed(result.event, claims[result.event.pk], result.error, result.trace)
    except Exception as exc:  # the object itself could not be mirrored: the group fails
        trace = tb.format_exc()
        return {e.pk: _record_failure(e, claims[e.pk], exc, trace) for e in group}
    mirrored.update(customers)
    outcomes: dict[int, Outcome] = {}
    for result in results:
        event = result.event
        if result.status == EventStatus.SUCCEEDED:
            outcomes[event.pk] = _succeeded(event)
        elif result.status == EventStatus.FAILED:
            assert isinstance(result.error, Exception)
            outcomes[event.pk] = _failed(event, claims[event.pk], result.error)
        else:
            outcomes[event.pk] = Outcome(event.pk, EventStatus.PROCESSING)
    return outcomes


def _run_event(event: Event, token: int) -> _Result:
    """Link ``event``, run its handlers and mark it succeeded, in a savepoint."""
    try:
        with transaction.atomic():
            mirror.apply_payload(event)
            mirror.link(event)
            for func in registry.handlers_for(event.type):
                func(event)
            done = _held(event.pk, token).update(
                status=EventStatus.SUCCEEDED,
                processed_at=timezone.now(),
                last_error="",
                traceback="",
                locked_at=None,
            )
            if not done:
                raise LeaseLost(f"event {event.stripe_id}: lease {token} expired")
    except LeaseLost:
        log.warning(
            "stripe event %s (%s): another worker took it over; this attempt's writes were "
            "rolled back",
            event.stripe_id,
            event.type,
        )
        return _Result(event, EventStatus.PROCESSING)
    except Exception as exc:
        return _Result(event, EventStatus.FAILED, exc, tb.format_exc())
    return _Result(event, EventStatus.SUCCEEDED)


def run_handlers(event: Event) -> None:
    """Mirror what ``event`` names, link it to its customer and run its handlers, in one
    transaction, without touching its processing state (a batch of one, for code that
    drives an event by hand). Its Stripe requests are background work."""
    with background():
        _run_handlers(event)


def _run_handlers(event: Event) -> None:
    target = mirror.target_of(event)
    customers = mirror.customers_to_fetch([event], {target} if target else set())
    fetched = fetch_all(({target} if target else set()) | customers)
    for obj in fetched.values():
        if isinstance(obj, Exception):
            raise obj
    with transaction.atomic():
        for customer in customers:
            mirror.apply(customer, fetched[customer])
        if target is not None:
            mirror.apply(target, fetched[target])
        mirror.apply_payload(event)
        mirror.link(event)
        for func in registry.handlers_for(event.type):
            func(event)


def _succeeded(event: Event) -> Outcome:
    event.refresh_from_db()
    signals.event_processed.send(sender=Event, event=event)
    typed = signals.existing_for_type(event.type, "succeeded")
    if typed is not None:
        typed.send(sender=Event, event=event)
    return Outcome(event.pk, EventStatus.SUCCEEDED)


def _record_skip(event: Event, token: int, reason: str) -> Outcome:
    log.info("stripe event %s (%s) skipped: %s", event.stripe_id, event.type, reason)
    _held(event.pk, token).update(
        status=EventStatus.SKIPPED,
        processed_at=timezone.now(),
        last_error=reason,
        traceback="",
        locked_at=None,
    )
    event.refresh_from_db()
    for receiver, result in signals.event_skipped.send_robust(
        sender=Event, event=event, reason=reason
    ):
        if isinstance(result, Exception):
            log.error("event_skipped receiver %r failed", receiver, exc_info=result)
    return Outcome(event.pk, EventStatus.SKIPPED)


def _mark_failed(event: Event, token: int, exc: BaseException | None, trace: str) -> bool:
    """Record a failed attempt on the row (fenced by the lease); False if the lease is lost."""
    config = get_config()
    will_retry = token < config.event_max_attempts
    delay = retry_delay(token) if will_retry else None
    log.warning(
        "stripe event %s (%s) failed on attempt %s%s: %s",
        event.stripe_id,
        event.type,
        token,
        f", retrying in {delay:.0f}s" if will_retry else ", giving up",
        f"{type(exc).__name__}: {exc}",
    )
    return bool(
        _held(event.pk, token).update(
            status=EventStatus.FAILED,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            traceback=trace[-20000:],
            locked_at=None,
            next_attempt_at=(timezone.now() + timedelta(seconds=delay))
            if delay is not None
            else None,
        )
    )


def _failed(event: Event, token: int, exc: Exception) -> Outcome:
    """The outcome of a failure already recorded on the row; sends the failure signals."""
    event.refresh_from_db()
    if event.status != EventStatus.FAILED or event.attempts != token:
        return Outcome(event.pk, EventStatus.PROCESSING)  # another worker has it now
    will_retry = token < get_config().event_max_attempts
    signals.event_failed.send(sender=Event, event=event, exception=exc, will_retry=will_retry)
    typed = signals.existing_for_type(event.type, "failed")
    if typed is not None:
        typed.send(sender=Event, event=event, exception=exc, will_retry=will_retry)
    return Outcome(event.pk, EventStatus.FAILED, retry_delay(token) if will_retry else None)


def _record_failure(event: Event, token: int, exc: BaseException, trace: str) -> Outcome:
    if not _mark_failed(event, token, exc, trace):
        return Outcome(event.pk, EventStatus.PROCESSING)
    assert isinstance(exc, Exception)
    return _failed(event, token, exc)
