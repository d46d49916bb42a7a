"""JSON that every supported database holds, without losing a character.

PostgreSQL refuses U+0000 in ``jsonb`` and ``text``, and no UTF-8 column holds a lone
surrogate (the JSON escape ``"\\ud83d"`` decodes to one). Both are valid JSON that Stripe can
relay from a customer's input. :func:`storable` replaces each string (value or key) holding
one by :data:`ESCAPED_PREFIX` followed by the string's ASCII JSON encoding, and
:func:`restored` reverses it exactly. A string that already starts with the prefix is escaped
too, so the mapping is one-to-one: ``restored(storable(x)) == x`` for any JSON value ``x``.
"""

from __future__ import annotations

import json
from typing import Any

#: Marks a string kept in escaped form: the rest is the JSON (ASCII) encoding of the original.
ESCAPED_PREFIX = "si-escaped:"

_PREFIX_BYTES = ESCAPED_PREFIX.encode()


def _needs_escape(text: str) -> bool:
    if "\x00" in text or text.startswith(ESCAPED_PREFIX):
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return True
    return False


def is_storable_text(text: str) -> bool:
    """True when ``text`` can be written to a text column of every supported database."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def escape_text(text: str) -> str:
    """``text`` itself, or its escaped form when a database could not hold it."""
    if _needs_escape(text):
        return ESCAPED_PREFIX + json.dumps(text, ensure_ascii=True)
    return text


def unescape_text(text: str) -> str:
    """The original of a string produced by :func:`escape_text`."""
    if text.startswith(ESCAPED_PREFIX):
        try:
            original = json.loads(text[len(ESCAPED_PREFIX) :])
        except ValueError:
            return text
        if isinstance(original, str):
            return original
    return text


def may_need_escape(encoded: bytes) -> bool:
    """Whether an orjson encoding of a value hints at a string :func:`storable` changes
    (``\\u0000`` or the prefix). A lone surrogate makes orjson raise instead."""
    return b"\\u0000" in encoded or _PREFIX_BYTES in encoded


def storable(value: Any) -> Any:
    """``value`` with every string a database could not hold escaped (see the module).
    Parts that need nothing are returned as they are, not copied."""
    if isinstance(value, str):
        return escape_text(value)
    if isinstance(value, dict):
        changed = False
        out: dict[Any, Any] = {}
        for key, item in value.items():
            new_key = escape_text(key) if isinstance(key, str) else key
            new_item = storable(item)
            changed = changed or new_key is not key or new_item is not item
            out[new_key] = new_item
        return out if changed else value
    if isinstance(value, list | tuple):
        items = [storable(item) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items
    return value


def restored(value: Any) -> Any:
    """The exact value :func:`storable` was given."""
    if isinstance(value, str):
        return unescape_text(value)
    if isinstance(value, dict):
        return {
            (unescape_text(k) if isinstance(k, str) else k): restored(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [restored(item) for item in value]
    return value
