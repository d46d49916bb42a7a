"""What a column can hold. Every row the mapping produces passes here before either writer.

A value a column cannot hold exactly (too long for its ``max_length``, out of its integer
range or below zero for a ``Positive*`` field, not an integer, too many digits for its
``DecimalField``, not a finite number, not text for a text column, or a NUL character, which
PostgreSQL's text cannot hold) is never cut, rounded or wrapped: a nullable column is left
``NULL`` and a WARNING on the ``stripe_integrations.sync`` logger names the object (type and
id), the field and the value (shortened). ``raw`` keeps the value exactly as Stripe sent it.

A ``NOT NULL`` column cannot be left empty: its value is kept here, and the
:class:`~stripe_integrations.sync.upsert.Plan` refuses the object with
:class:`UnstorableObject` (an event holding it fails, visibly, with that error).

The checks are derived once per model from its field definitions, so both writers (the ORM
and PostgreSQL's bulk writer) and both databases get the same values.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.apps import apps
from django.db import models

log = logging.getLogger("stripe_integrations.sync")

#: Integer ranges per field class, the portable ones (SQLite's columns hold more, but a
#: mirror stores the same values on both databases).
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "SmallIntegerField": (-32768, 32767),
    "IntegerField": (-2147483648, 2147483647),
    "BigIntegerField": (-9223372036854775808, 9223372036854775807),
    "PositiveBigIntegerField": (0, 9223372036854775807),
    "PositiveSmallIntegerField": (0, 32767),
    "PositiveIntegerField": (0, 2147483647),
    "SmallAutoField": (-32768, 32767),
    "AutoField": (-2147483648, 2147483647),
    "BigAutoField": (-9223372036854775808, 9223372036854775807),
}

#: Longest value shown in a log line.
SHOWN = 80


class Unrepresentable:
    """A value the mapping found but could not convert exactly (``12.7`` for an integer,
    ``"abc"`` for a timestamp...). False in a boolean test, so ``a or b`` falls through it;
    :func:`fitted` turns it into ``NULL`` with a log line."""

    __slots__ = ("reason", "value")

    def __init__(self, value: Any, reason: str) -> None:
        self.value = value
        self.reason = reason

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Unrepresentable({shorten(self.value)}, {self.reason!r})"


class UnstorableObject(ValueError):
    """An object whose value for a ``NOT NULL`` column (its id...) no column can hold."""


def shorten(value: Any) -> str:
    """``repr(value)``, cut to :data:`SHOWN` characters for a log line."""
    try:
        text = repr(value)
    except Exception:  # a hostile object's repr
        text = f"<{type(value).__name__}>"
    return text if len(text) <= SHOWN else f"{text[: SHOWN - 3]}..."


Check = Callable[[Any], str | None]


def _text(limit: int | None) -> Check:
    def check(value: Any) -> str | None:
        if type(value) is not str:
            return "not text"
        if limit is not None and len(value) > limit:
            return f"longer than {limit} characters"
        if value.isascii():
            return "holds a NUL character" if "\x00" in value else None
        if "\x00" in value:
            return "holds a NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "holds a lone surrogate"
        return None

    return check


def _integer(low: int, high: int) -> Check:
    def check(value: Any) -> str | None:
        if type(value) is not int:
            return "not an integer"
        if value < low or value > high:
            return f"outside [{low}, {high}]"
        return None

    return check


def _decimal(max_digits: int, places: int) -> Check:
    whole = max_digits - places

    def check(value: Any) -> str | None:
        if type(value) is not Decimal:
            return "not a decimal number"
        if not value.is_finite():
            return "not a finite number"
        if value:
            exponent = value.normalize().as_tuple().exponent
            if isinstance(exponent, int) and exponent < -places:
                return f"more than {places} decimal places"
            if value.adjusted() >= whole:
                return f"more than {whole} digits before the point"
        return None

    return check


def _float(value: Any) -> str | None:
    if type(value) is not float:
        return "not a number"
    if value != value or value in (float("inf"), float("-inf")):
        return "not a finite number"
    return None


def _boolean(value: Any) -> str | None:
    return None if type(value) is bool else "not a boolean"


def _datetime(value: Any) -> str | None:
    return None if isinstance(value, datetime) else "not a timestamp"


def _any(value: Any) -> str | None:
    return None


def _check_for(field: models.Field[Any, Any]) -> Check:
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    kind = target.get_internal_type()
    if kind in INTEGER_RANGES:
        return _integer(*INTEGER_RANGES[kind])
    if isinstance(target, models.CharField):
        return _text(target.max_length)
    if isinstance(target, models.TextField):
        return _text(None)
    if isinstance(target, models.DecimalField):
        return _decimal(int(target.max_digits or 0), int(target.decimal_places or 0))
    if isinstance(target, models.FloatField):
        return _float
    if isinstance(target, models.BooleanField):
        return _boolean
    if isinstance(target, models.DateTimeField):
        return _datetime
    return _any  # JSON: whatever the mapping kept (an Unrepresentable is caught first)


@functools.cache
def checks(model: type[models.Model]) -> dict[str, tuple[Check, bool]]:
    """Per attribute name of ``model``: its check and whether the column is nullable."""
    return {
        field.attname: (_check_for(field), bool(field.null))
        for field in model._meta.concrete_fields
        if not field.primary_key
    }


def fitted(model: type[models.Model], row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with every value its column cannot hold replaced by ``None`` (logged); values
    of ``NOT NULL`` columns are kept for :func:`refusal`. Returns ``row`` itself when all
    fit (the usual case), else a copy."""
    table = checks(model)
    copy: dict[str, Any] | None = None
    for name, value in row.items():
        if value is None:
            continue
        entry = table.get(name)
        if entry is None:
            continue
        check, nullable = entry
        if type(value) is Unrepresentable:
            reason: str | None = value.reason
            shown = value.value
        else:
            reason = check(value)
            shown = value
        if reason is None or not nullable:
            continue
        if copy is None:
            copy = dict(row)
        copy[name] = None
        _warn(model, row, name, shown, reason)
    return row if copy is None else copy


@functools.cache
def _strict(model: type[models.Model]) -> tuple[tuple[str, Check], ...]:
    """The ``NOT NULL`` columns of ``model`` that have a check."""
    return tuple(
        (name, check)
        for name, (check, nullable) in checks(model).items()
        if not nullable and check is not _any
    )


def refusal(model: type[models.Model], row: Mapping[str, Any]) -> str | None:
    """Why ``row`` cannot be stored (a ``NOT NULL`` column's value does not fit), or None."""
    for name, check in _strict(model):
        value = row.get(name)
        if value is None:
            continue
        if type(value) is Unrepresentable:
            reason: str | None = value.reason
            value = value.value
        else:
            reason = check(value)
        if reason is not None:
            kind, ident = _names(model, row)
            return (
                f"{kind} {ident}: {name} {shorten(value)} {reason}; "
                f"its column ({model._meta.label}.{name}) cannot be left empty"
            )
    return None


def storable_id(value: Any) -> bool:
    """Whether ``value`` can be a ``stripe_id`` (text of at most 255 characters)."""
    return _ID_CHECK(value) is None


_ID_CHECK = _text(255)


def _names(model: type[models.Model], row: Mapping[str, Any]) -> tuple[str, str]:
    """The object's type and id as a log line shows them."""
    raw = row.get("raw")
    kind = raw.get("object") if isinstance(raw, Mapping) else None
    if not isinstance(kind, str) or not kind:
        kind = str(getattr(model, "STRIPE_OBJECT", "") or model._meta.model_name)
    ident = row.get("stripe_id")
    return _plain(kind), _plain(ident)


def _plain(value: Any) -> str:
    if type(value) is str and value.isprintable():
        return value if len(value) <= SHOWN else f"{value[: SHOWN - 3]}..."
    return shorten(value)


def _warn(
    model: type[models.Model], row: Mapping[str, Any], name: str, value: Any, why: str
) -> None:
    kind, ident = _names(model, row)
    log.warning(
        "%s %s: %s %s %s; the column is left NULL, raw keeps the value",
        kind,
        ident,
        name,
        shorten(value),
        why,
    )


F = TypeVar("F", bound=Callable[..., dict[str, Any]])


def fits(model_name: str) -> Callable[[F], F]:
    """Decorate a ``*_fields`` mapping function: its result is :func:`fitted` to the columns
    of ``stripe_integrations.<model_name>`` (resolved on first use)."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
            return fitted(_model(model_name), function(*args, **kwargs))

        return wrapper  # type: ignore[return-value]

    return decorate


@functools.cache
def _model(name: str) -> type[models.Model]:
    return apps.get_model("stripe_integrations", name)
