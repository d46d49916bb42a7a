"""Checks of input against Stripe's documented limits, run before any request is sent.

Each check raises :class:`~stripe_integrations.exceptions.StripeValidationError` (a
``ValueError``) naming the field. :func:`check_text` walks the whole parameters of a request
for characters neither Stripe nor the database can take; every action runs it before sending.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stripe_integrations.exceptions import StripeValidationError

EMAIL_MAX_LENGTH = 512
NAME_MAX_LENGTH = 256
METADATA_MAX_KEYS = 50
METADATA_KEY_MAX_LENGTH = 40
METADATA_VALUE_MAX_LENGTH = 500
INVOICE_PREFIX_RE = re.compile(r"^[A-Z0-9]{3,12}$")
TAX_EXEMPT_VALUES = ("none", "exempt", "reverse")

#: Characters no text sent to Stripe may hold: U+0000 (PostgreSQL's ``text`` and ``jsonb``
#: refuse it, so the mirror could not store what Stripe kept) and lone surrogates
#: (U+D800-U+DFFF, which UTF-8 cannot encode: no request or database can carry them).
FORBIDDEN_TEXT_RE = re.compile("[\x00\ud800-\udfff]")


def _check_chars(field: str, text: str, what: str = "") -> None:
    found = FORBIDDEN_TEXT_RE.search(text)
    if found is None:
        return
    char = found.group()
    kind = "a NUL character" if char == "\x00" else "a lone surrogate"
    raise StripeValidationError(
        field, f"{what}contains {kind} (U+{ord(char):04X}), which Stripe and the database refuse"
    )


def check_text(field: str, value: Any) -> Any:
    """``value``, once no string in it (a string, or the keys and values of dicts and lists
    nested in it, such as a request's parameters) holds U+0000 or a lone surrogate. The error
    names the offending parameter: ``name``, ``metadata.note``, ``shipping.address.line1``,
    ``items[0].metadata`` (a key)..."""
    stack: list[tuple[str, Any]] = [(field, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            _check_chars(path or "value", item)
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str):
                    _check_chars(path or "params", key, f"key {key!r} ")
                stack.append((f"{path}.{key}" if path else str(key), child))
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
    return value


def check_string(field: str, value: Any, max_length: int | None = None) -> str:
    """A string no longer than ``max_length``."""
    if not isinstance(value, str):
        raise StripeValidationError(field, f"must be a string, not {type(value).__name__}")
    _check_chars(field, value)
    if max_length is not None and len(value) > max_length:
        raise StripeValidationError(
            field, f"must be at most {max_length} characters (got {len(value)})"
        )
    return value


def check_email(field: str, value: Any) -> str:
    """An email address of at most 512 characters, with one ``@``."""
    check_string(field, value, EMAIL_MAX_LENGTH)
    if value and value.count("@") != 1:
        raise StripeValidationError(field, "is not an email address")
    return str(value)


def check_metadata(field: str, value: Any, *, allow_unset: bool) -> Any:
    """Metadata within Stripe's limits: at most 50 keys, keys up to 40 characters without
    square brackets, values up to 500 characters. With ``allow_unset`` (updates), an empty
    string or None value unsets a key and ``""``/None unsets all keys."""
    if value in ("", None):
        if allow_unset:
            return ""
        return {}
    if not isinstance(value, Mapping):
        raise StripeValidationError(field, "must be a dict")
    if len(value) > METADATA_MAX_KEYS:
        raise StripeValidationError(
            field, f"has {len(value)} keys; Stripe allows at most {METADATA_MAX_KEYS}"
        )
    cleaned: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise StripeValidationError(field, f"key {key!r} must be a non-empty string")
        _check_chars(field, key, f"key {key!r} ")
        if len(key) > METADATA_KEY_MAX_LENGTH:
            raise StripeValidationError(
                field, f"key {key!r} is longer than {METADATA_KEY_MAX_LENGTH} characters"
            )
        if "[" in key or "]" in key:
            raise StripeValidationError(field, f"key {key!r} must not contain '[' or ']'")
        if item is None:
            if not allow_unset:
                raise StripeValidationError(field, f"value of {key!r} must not be None")
            item = ""
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise StripeValidationError(field, f"value of {key!r} must be a string or number")
        text = str(item)
        _check_chars(f"{field}.{key}", text)
        if len(text) > METADATA_VALUE_MAX_LENGTH:
            raise StripeValidationError(
                field,
                f"value of {key!r} is longer than {METADATA_VALUE_MAX_LENGTH} characters",
            )
        cleaned[key] = text
    return cleaned


def check_dict(field: str, value: Any) -> dict[str, Any]:
    """A dict (address, shipping, settings objects)."""
    if not isinstance(value, Mapping):
        raise StripeValidationError(field, "must be a dict")
    return dict(check_text(field, value))


def check_int(field: str, value: Any, *, minimum: int | None = None) -> int:
    """An integer (not a bool), optionally at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise StripeValidationError(field, "must be an integer")
    if minimum is not None and value < minimum:
        raise StripeValidationError(field, f"must be at least {minimum}")
    return value


def check_choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    """One of ``choices``."""
    if value not in choices:
        raise StripeValidationError(field, f"must be one of {', '.join(choices)}")
    return str(value)


def check_string_list(field: str, value: Any) -> list[str]:
    """A list of strings."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise StripeValidationError(field, "must be a list of strings")
    return list(check_text(field, list(value)))


def check_stripe_id(field: str, value: Any, prefixes: tuple[str, ...] = ()) -> str:
    """A Stripe id (optionally with one of ``prefixes``) or a model instance's ``stripe_id``."""
    value = getattr(value, "stripe_id", value)
    check_string(field, value, 255)
    if not value or (prefixes and not value.startswith(prefixes)):
        expected = " or ".join(f"{p}..." for p in prefixes) or "a Stripe id"
        raise StripeValidationError(field, f"must be {expected}")
    return str(value)
