"""The bulk writer for PostgreSQL: many rows upserted by one statement whose rows travel as
one JSON document, each row an array of its values in column order.

Django's ``bulk_create(update_conflicts=True)`` builds a model instance per row and prepares
every value in Python; on PostgreSQL with psycopg's client-side binding (Django's default)
Django 5.2 also sends each column as an array that psycopg quotes element by element, which
costs more than the rest of a backfill together. When no model instances are wanted back
(the backfill, nested objects), :func:`upsert_json` sends instead::

    INSERT INTO table (columns)
    SELECT (r->>0)::varchar, (r->>1)::timestamp with time zone, NULLIF(r->2, 'null'), ...
    FROM jsonb_array_elements(%s::jsonb) AS r
    ON CONFLICT (stripe_id) DO UPDATE SET column = EXCLUDED.column, ...
    WHERE table.synced_at IS NULL OR table.synced_at <= EXCLUDED.synced_at

The rows are encoded by orjson in one call. PostgreSQL's time goes into parsing the document
(the ``raw`` JSON above all): rows as arrays spare it the key names, a fifth to a third of
the statement's time against objects read by ``jsonb_populate_recordset``. Every value is
converted by the column type's own input function. The semantics are those of
:func:`~stripe_integrations.sync.upsert.upsert_rows`: columns present in the rows are written
on conflict, other columns are left alone, a new row gets the model default of a
``NOT NULL`` column the rows do not carry, and a stored row fetched after the written one
is left alone (the freshness rule of :mod:`.fresh`, in the same statement).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from django.db import connections, models, router

from stripe_integrations.sync.fresh import FETCHED, fresh_condition, has_fetch_time

#: Field classes whose values PostgreSQL reads correctly from their JSON form.
SUPPORTED_FIELDS: tuple[type[models.Field[Any, Any]], ...] = (
    models.BigIntegerField,
    models.IntegerField,
    models.SmallIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.BooleanField,
    models.CharField,
    models.TextField,
    models.DateTimeField,
    models.DateField,
    models.DecimalField,
    models.FloatField,
    models.JSONField,
    models.UUIDField,
    models.ForeignKey,
    # Only ever the target of a foreign key (primary keys are left to the database).
    models.AutoField,
    models.BigAutoField,
    models.SmallAutoField,
)


def _default(value: Any) -> Any:
    """JSON for the values orjson does not encode itself (datetimes and UUIDs it does, at
    full precision with their offset)."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} through the bulk writer")


def _json_default(value: Any) -> Any:
    """:func:`_default` for the standard library's encoder, which also needs datetimes,
    dates and UUIDs (written as orjson writes them)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return _default(value)


def _encode(documents: list[list[Any]]) -> str:
    """The rows as one JSON document: by orjson, else (an integer past 64 bits, nesting
    deeper than orjson's 255 levels, both valid JSON in ``raw``) by the standard library,
    which writes non-finite numbers as orjson does (``null``)."""
    try:
        return orjson.dumps(documents, default=_default).decode()
    except orjson.JSONEncodeError:
        return json.dumps(_finite(documents), default=_json_default, allow_nan=False)


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None`` (iteratively: any depth)."""
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) not in (dict, list):
        return value
    root: Any = dict(value) if type(value) is dict else list(value)
    stack = [root]
    while stack:
        node = stack.pop()
        keys = node.keys() if type(node) is dict else range(len(node))
        for key in keys:
            item = node[key]
            kind = type(item)
            if kind is float and not math.isfinite(item):
                node[key] = None
            elif kind is dict or kind is list:
                copy = dict(item) if kind is dict else list(item)
                node[key] = copy
                stack.append(copy)
    return root


def vendor(model: type[models.Model]) -> str:
    """The vendor of the database ``model`` is written to (``"postgresql"``...)."""
    return str(connections[router.db_for_write(model)].vendor)


def json_columns(model: type[models.Model]) -> frozenset[str]:
    """The attribute names of ``model``'s JSON columns."""
    found = _JSON_COLUMNS.get(model)
    if found is None:
        found = frozenset(
            f.attname for f in model._meta.concrete_fields if isinstance(f, models.JSONField)
        )
        _JSON_COLUMNS[model] = found
    return found


_JSON_COLUMNS: dict[type[models.Model], frozenset[str]] = {}


def usable(model: type[models.Model]) -> bool:
    """True when ``model``'s rows can be written by :func:`upsert_json`: its database is
    PostgreSQL and every concrete field is of a supported class (not a subclass, which may
    convert values its own way)."""
    if connections[router.db_for_write(model)].vendor != "postgresql":
        return False
    cached = _USABLE.get(model)
    if cached is None:
        cached = all(_supported(f) for f in model._meta.concrete_fields if not f.primary_key)
        _USABLE[model] = cached
    return cached


_USABLE: dict[type[models.Model], bool] = {}


def _supported(field: models.Field[Any, Any]) -> bool:
    if type(field) not in SUPPORTED_FIELDS:
        return False
    if isinstance(field, models.JSONField) and field.encoder is not None:
        return False
    if isinstance(field, models.ForeignKey):
        return _supported(field.target_field)
    return True


def upsert_json(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    update_fields: Iterable[str] = (),
    only: bool = False,
    skipped: set[str] | None = None,
) -> int:
    """Insert or update ``rows`` (attribute dicts keyed by ``stripe_id``) in one statement on
    PostgreSQL; returns the number of distinct rows sent. Duplicate ids keep the last row.
    When ``skipped`` is given, the ids of the rows the freshness rule left alone are added
    to it (the statement then returns the ids it wrote).

    On conflict, the columns the rows carry and ``update_fields`` are updated (only
    ``update_fields`` with ``only=True``), unless the stored row's ``synced_at`` is later
    than the written one's (see :mod:`.fresh`)."""
    if not rows:
        return 0
    unique: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        unique[row["stripe_id"]] = row
    opts = model._meta
    fields = {f.attname: f for f in opts.concrete_fields if not f.primary_key}
    updated = set(update_fields)
    present: set[str] = set(updated)
    for row in unique.values():
        present.update(row)
    if not only:
        updated = present
    unknown = present - fields.keys()
    if unknown:
        raise ValueError(f"{opts.label} has no column for {', '.join(sorted(unknown))}")
    # A new row needs a value for every NOT NULL column: the model default, as Django gives.
    insert_only = {
        name: field.get_default()
        for name, field in fields.items()
        if name not in present and not field.null and field.has_default()
    }
    # Each row travels as a JSON array in column order: PostgreSQL parses no key names and
    # reads each value by position. A row that lacks a present attribute gets its default
    # (as a model instance would); new rows get the NOT NULL defaults.
    order = sorted(present)
    missing_defaults = {name: fields[name].get_default() for name in present}
    constants = [insert_only[name] for name in sorted(insert_only)]
    documents: list[list[Any]] = []
    # In id order: concurrent writers (the backfill's) lock shared rows in one order.
    for _, row in sorted(unique.items()):
        if len(row) == len(order):
            values = [row[name] for name in order]
        else:
            values = [row[name] if name in row else missing_defaults[name] for name in order]
        documents.append(values + constants if constants else values)
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    table = quote(opts.db_table)
    columns = order + sorted(insert_only)
    names = [quote(str(fields[name].column)) for name in columns]
    readers = [_reader(fields[name], position, connection) for position, name in enumerate(columns)]
    key = quote(str(fields["stripe_id"].column))
    updated_names = {quote(str(fields[name].column)) for name in updated}
    updates = [f"{n} = EXCLUDED.{n}" for n in names if n in updated_names and n != key]
    conflict = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
    if updates and has_fetch_time(model):
        conflict += f" WHERE {fresh_condition(opts.db_table, quote)}"
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}) "
        f"SELECT {', '.join(readers)} FROM jsonb_array_elements(%s::jsonb) AS r "
        f"ON CONFLICT ({key}) {conflict}"
    )
    if skipped is not None:
        sql += f" RETURNING {key}"
    with _bound_cursor(connection) as cursor:
        cursor.execute(sql, [_encode(documents)])
        if skipped is not None:
            written = {row[0] for row in cursor.fetchall()}
            skipped.update(i for i in unique if i not in written)
    return len(documents)


def _reader(field: models.Field[Any, Any], position: int, connection: Any) -> str:
    """The SQL expression reading column ``field`` from position ``position`` of row ``r``.

    A JSON column takes the element itself (a JSON ``null`` is SQL ``NULL``, as the ORM
    writes ``None``); any other column the element's text cast to the column's type without
    its modifier, so the INSERT's assignment applies it as the ORM's would (a string too long
    for a ``varchar(n)`` is an error, not cut)."""
    if isinstance(field, models.JSONField):
        return f"NULLIF(r->{position}, 'null'::jsonb)"
    db_type = field.rel_db_type(connection) if field.is_relation else field.db_type(connection)
    return f"(r->>{position})::{_base_type(str(db_type))}"


def _base_type(db_type: str) -> str:
    """``varchar(255)`` -> ``varchar``, ``numeric(12, 2)`` -> ``numeric``."""
    return db_type.split("(", 1)[0].strip()


def prune(
    model: type[models.Model],
    parent_column: str,
    parents: Mapping[str, datetime],
    keep: list[str],
) -> bool:
    """Delete the rows of ``model`` whose ``parent_column`` is a key of ``parents`` and
    whose ``stripe_id`` is not in ``keep``, unless fetched after their parent (``parents``:
    parent id -> its fetch time), in one statement with array parameters; False (nothing
    done) when the bulk writer cannot be used or an id holds a comma."""
    if not parents:
        return True
    if not usable(model) or any("," in i for i in (*parents, *keep)):
        return False
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    column = next(
        str(f.column) for f in model._meta.concrete_fields if parent_column in (f.attname, f.name)
    )
    table = quote(model._meta.db_table)
    fetched = f"{table}.{quote(FETCHED)}"
    sql = (
        f"DELETE FROM {table} USING unnest(string_to_array(%s, ','), "
        f"string_to_array(%s, ',')::timestamptz[]) AS parent(id, fetched_at) "
        f"WHERE {table}.{quote(column)} = parent.id "
        f"AND NOT ({table}.{quote('stripe_id')} = ANY(string_to_array(%s, ','))) "
        f"AND ({fetched} IS NULL OR {fetched} <= parent.fetched_at)"
    )
    ids = ",".join(parents)
    times = ",".join(at.isoformat() for at in parents.values())
    with _bound_cursor(connection) as cursor:
        cursor.execute(sql, [ids, times, ",".join(keep)])
    return True


@functools.cache
def _unprepared_cursor_class() -> Any:
    import psycopg

    class UnpreparedCursor(psycopg.Cursor[Any]):
        """Binds on the server, never prepares."""

        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            kwargs["prepare"] = False
            return super().execute(query, params, **kwargs)

    return UnpreparedCursor


def _bound_cursor(connection: Any) -> Any:
    """A cursor that sends the document as a bound parameter, not inlined in the SQL text.

    Django's psycopg 3 cursors bind parameters on the client by default: the document
    (megabytes) would be escaped into the statement and lexed by the server. A psycopg
    ``Cursor`` on the same connection and transaction sends it apart, and never prepares the
    statement (safe behind a transaction-pooling PgBouncer). Wrapped by Django as any cursor
    (query logging, ``execute_wrapper``, ``CaptureQueriesContext``). Other drivers (psycopg2)
    get Django's own cursor.
    """
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    if not is_psycopg3:
        return connection.cursor()
    connection.ensure_connection()
    raw = _unprepared_cursor_class()(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)
    return connection.make_cursor(raw)
