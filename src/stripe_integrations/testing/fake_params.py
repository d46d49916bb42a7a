"""Decoding and checking of request parameters for :class:`~.fake.FakeStripe`.

The SDK sends form-encoded parameters with bracketed keys (``metadata[a]=b``,
``items[0][price]=price_1``); :func:`decode_params` turns them back into nested dicts and
lists. Every value arrives as a string, so the coercion helpers here accept both the wire
form (``"12"``, ``"true"``) and Python values (used by :meth:`FakeStripe.add`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import parse_qsl

from stripe_integrations.testing.fake_errors import FakeError

Params = dict[str, Any]

_KEY_PART = re.compile(r"\[([^\]]*)\]")

#: Parameters whose keys are free-form: never turned into lists even when keys are digits.
_HASH_PARAMS = frozenset({"metadata"})


def decode_params(encoded: str) -> Params:
    """Parse a form/query string with bracketed keys into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(encoded, keep_blank_values=True):
        head, _, rest = key.partition("[")
        parts = [head, *_KEY_PART.findall("[" + rest)] if rest else [head]
        node = root
        for index, part in enumerate(parts):
            if part == "":
                part = str(len(node))
            if index == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    decoded: Params = _listify(root, hash_keys=False)
    return decoded


def _listify(node: dict[str, Any], *, hash_keys: bool) -> Any:
    converted = {
        key: _listify(value, hash_keys=key in _HASH_PARAMS) if isinstance(value, dict) else value
        for key, value in node.items()
    }
    if not hash_keys and converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def check_known(params: Mapping[str, Any], allowed: Collection[str]) -> None:
    """Reject top-level parameters the endpoint does not accept (``parameter_unknown``)."""
    for name in params:
        if name not in allowed and name != "expand":
            raise FakeError(
                400,
                f"Received unknown parameter: {name}",
                code="parameter_unknown",
                param=name,
            )


def require(params: Mapping[str, Any], name: str) -> Any:
    """The value of a required parameter (``parameter_missing`` when absent or empty)."""
    value = params.get(name)
    if value is None or value == "" or value == [] or value == {}:
        raise FakeError(
            400, f"Missing required param: {name}.", code="parameter_missing", param=name
        )
    return value


def as_int(value: Any, param: str, *, minimum: int | None = None) -> int:
    """An integer parameter, accepting its decimal string form."""
    if isinstance(value, bool):
        value = str(value)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise FakeError(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param
        ) from None
    if minimum is not None and number < minimum:
        raise FakeError(
            400,
            f"This value must be greater than or equal to {minimum}.",
            code="parameter_invalid_integer",
            param=param,
        )
    return number


def as_bool(value: Any, param: str) -> bool:
    """A boolean parameter, accepting ``"true"``/``"false"``."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise FakeError(400, f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=param)


def as_str(value: Any, param: str) -> str | None:
    """A nullable string parameter: ``""`` means null (Stripe's "unset")."""
    if value is None or value == "":
        return None
    if isinstance(value, dict | list):
        raise FakeError(
            400, f"Invalid string: {value}", code="parameter_invalid_string", param=param
        )
    return str(value)


def as_enum(value: Any, param: str, choices: Collection[str]) -> str:
    """A string parameter restricted to ``choices``."""
    text = str(value)
    if text not in choices:
        options = ", ".join(sorted(choices))
        raise FakeError(
            400, f"Invalid {param}: must be one of {options}", code="parameter_invalid", param=param
        )
    return text


def as_dict(value: Any, param: str) -> dict[str, Any] | None:
    """A nullable hash parameter: ``""`` means null."""
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise FakeError(400, f"Invalid object: {param}", code="parameter_invalid", param=param)
    return value


def as_list(value: Any, param: str) -> list[Any]:
    """An array parameter: ``""`` means empty."""
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return list(value)
    raise FakeError(400, f"Invalid array: {param}", code="parameter_invalid", param=param)


def merged_metadata(
    current: Mapping[str, str], update: Any, param: str = "metadata"
) -> dict[str, str]:
    """Apply a metadata update: keys merge, ``""`` values unset a key, ``""`` unsets all."""
    if update is None:
        return dict(current)
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise FakeError(400, "Invalid object", code="parameter_invalid", param=param)
    result = dict(current)
    for key, value in update.items():
        if value is None or value == "":
            result.pop(str(key), None)
            continue
        if isinstance(value, dict | list):
            raise FakeError(
                400, "Metadata values must be strings.", code="parameter_invalid", param=param
            )
        key_text, value_text = str(key), str(value)
        if len(key_text) > 40:
            raise FakeError(400, "Metadata keys can be at most 40 characters.", param=param)
        if len(value_text) > 500:
            raise FakeError(400, "Metadata values can be at most 500 characters.", param=param)
        result[key_text] = value_text
    if len(result) > 50:
        raise FakeError(400, "Metadata can have at most 50 keys.", param=param)
    return result


def expand_paths(params: Mapping[str, Any]) -> list[str]:
    """The ``expand`` parameter as a list of dotted paths."""
    value = params.get("expand")
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(item) for item in as_list(value, "expand")]


def created_filter(params: Mapping[str, Any], name: str = "created") -> dict[str, int]:
    """A ``created`` range filter: ``{"gte": 1}`` or an exact value as ``{"eq": 1}``."""
    value = params.get(name)
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        result = {}
        for op, bound in value.items():
            if op not in ("gt", "gte", "lt", "lte"):
                raise FakeError(
                    400, f"Received unknown parameter: {name}[{op}]", param=f"{name}[{op}]"
                )
            result[op] = as_int(bound, f"{name}[{op}]")
        return result
    return {"eq": as_int(value, name)}


def matches_range(value: int, bounds: Mapping[str, int]) -> bool:
    """Whether ``value`` satisfies every bound produced by :func:`created_filter`."""
    for op, bound in bounds.items():
        if op == "eq" and value != bound:
            return False
        if (op == "gt" and value <= bound) or (op == "gte" and value < bound):
            return False
        if (op == "lt" and value >= bound) or (op == "lte" and value > bound):
            return False
    return True
