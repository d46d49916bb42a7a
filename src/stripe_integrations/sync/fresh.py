"""The freshness rule, shared by both writers: a mirrored row's ``synced_at`` is when its
object was fetched from Stripe, and an upsert never replaces a row fetched later.

The rule lives in the upsert statement itself::

    INSERT INTO table (...) VALUES (...)
    ON CONFLICT (stripe_id) DO UPDATE SET column = EXCLUDED.column, ...
    WHERE table.synced_at IS NULL OR table.synced_at <= EXCLUDED.synced_at

so no lock and no separate query is needed, whatever the number of writers: the database
compares the stored fetch time with the written one under the row lock the conflict takes.
SQLite (3.24 and later) and PostgreSQL both run it. :func:`upsert_instances` is the
ORM-path writer (model instances back); :mod:`.bulk` writes the same statement from a JSON
document on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from django.db import connections, models, router

M = TypeVar("M", bound=models.Model)

#: The databases whose upsert takes a ``WHERE`` (others get Django's, without the rule).
VENDORS = frozenset({"sqlite", "postgresql"})

#: The column that holds when a row's object was fetched from Stripe.
FETCHED = "synced_at"

#: PostgreSQL's limit on the parameters of one statement (Django's own batch size for it
#: has none: its bulk insert sends one array per column).
_MAX_PARAMS = 65_535


def has_fetch_time(model: type[models.Model]) -> bool:
    """True when ``model`` has the ``synced_at`` column the rule compares."""
    return any(f.attname == FETCHED for f in model._meta.concrete_fields)


def fresh_condition(table: str, quote: Callable[[str], str]) -> str:
    """The ``WHERE`` of ``DO UPDATE``: the stored row was not fetched after the new one.

    A row whose stored fetch time is unknown (``NULL``) is always replaced; a new row
    without one replaces none that has one."""
    column = f"{quote(table)}.{quote(FETCHED)}"
    return f"{column} IS NULL OR {column} <= EXCLUDED.{quote(FETCHED)}"


def upsert_instances(
    model: type[M],
    instances: Sequence[M],
    update_fields: Sequence[str],
    *,
    local: Sequence[str] = (),
    skipped: set[str] | None = None,
    returning: bool = True,
) -> list[M]:
    """Insert or update ``instances`` (distinct ``stripe_id``) with one statement per batch
    (Django's batch size for the database's parameter limit), under the freshness rule.

    Returns, in order, each instance written (its primary key set) or, for an instance
    the rule skipped because its stored row was fetched later, the stored row (one
    ``SELECT`` for those ids only). ``local`` columns (set by the caller, not by Stripe: the
    subscriber link...) are written on skipped rows too, by one ``UPDATE`` per set of
    values. The ids of the skipped rows are added to ``skipped`` when it is given. With
    ``returning=False`` nothing is returned and no row is read back.

    Without ``RETURNING`` (SQLite before 3.35) every row is read back by one ``SELECT``, and
    a row whose stored fetch time is not the written one counts as skipped.
    """
    if not instances:
        return []
    objs: Sequence[Any] = instances  # mirrored models: each has a stripe_id
    alias = router.db_for_write(model)
    connection = connections[alias]
    opts = model._meta
    quote = connection.ops.quote_name
    fields = [
        f for f in opts.concrete_fields if not f.primary_key and not getattr(f, "generated", False)
    ]
    by_name = {f.attname: f for f in fields}
    key = by_name["stripe_id"]
    updated = [by_name[name] for name in update_fields if name in by_name and name != "stripe_id"]
    table = quote(opts.db_table)
    names = ", ".join(quote(str(f.column)) for f in fields)
    if updated:
        sets = ", ".join(
            f"{quote(str(f.column))} = EXCLUDED.{quote(str(f.column))}" for f in updated
        )
        conflict = f"DO UPDATE SET {sets}"
        if has_fetch_time(model):
            conflict += f" WHERE {fresh_condition(opts.db_table, quote)}"
    else:
        conflict = "DO NOTHING"
    returns = connection.features.can_return_rows_from_bulk_insert
    back = f" RETURNING {quote(str(opts.pk.column))}, {quote(str(key.column))}" if returns else ""
    size = max(1, connection.ops.bulk_batch_size(fields, list(instances)) or len(instances))
    size = min(size, max(1, _MAX_PARAMS // len(fields)))
    written: dict[str, Any] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(instances), size):
            batch = instances[start : start + size]
            params: list[Any] = []
            for obj in batch:
                params.extend(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields)
            row = f"({', '.join(['%s'] * len(fields))})"
            sql = (
                f"INSERT INTO {table} ({names}) VALUES {', '.join([row] * len(batch))} "
                f"ON CONFLICT ({quote(str(key.column))}) {conflict}{back}"
            )
            cursor.execute(sql, params)
            if returns:
                written.update((stripe_id, pk) for pk, stripe_id in cursor.fetchall())
    left = [obj.stripe_id for obj in objs if obj.stripe_id not in written]
    stored: dict[str, M] = {}
    if left:
        manager: Any = model._default_manager.db_manager(alias)
        if local:
            gone = set(left)
            _write_local(manager, [o for o in objs if o.stripe_id in gone], local)
        if returning or (not returns and skipped is not None):
            stored = {r.stripe_id: r for r in manager.filter(stripe_id__in=left)}
    if skipped is not None:
        fetched = {o.stripe_id: getattr(o, FETCHED, None) for o in objs}
        skipped.update(
            i
            for i in left
            if returns or i not in stored or getattr(stored[i], FETCHED, None) != fetched[i]
        )
    if not returning:
        return []
    result: list[M] = []
    for obj in objs:
        stripe_id = obj.stripe_id
        if stripe_id in written:
            obj.pk = written[stripe_id]
            obj._state.adding = False
            obj._state.db = alias
            result.append(obj)
        elif stripe_id in stored:
            result.append(stored[stripe_id])
    return result


def _write_local(manager: Any, instances: Sequence[Any], local: Sequence[str]) -> None:
    """Write the ``local`` columns of ``instances`` (rows the rule skipped)."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for obj in instances:
        values = tuple(getattr(obj, name) for name in local)
        groups.setdefault(values, []).append(obj.stripe_id)
    for values, ids in groups.items():
        manager.filter(stripe_id__in=ids).update(**dict(zip(local, values, strict=True)))


def stamp(rows: Sequence[Mapping[str, Any]], fetched_at: Any) -> list[Mapping[str, Any]]:
    """``rows`` with ``synced_at`` set to ``fetched_at`` where they do not carry one."""
    return [row if FETCHED in row else {**row, FETCHED: fetched_at} for row in rows]
