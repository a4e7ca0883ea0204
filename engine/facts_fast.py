"""A JSON Schema subset compiled into closures: a fast "certainly valid" test for facts.

jsonschema walks the schema for every document (~0.5 ms for a full facts document); this
module turns the facts schema into nested closures once. It answers only *valid or not
sure*: ``check(doc)`` is True only when jsonschema would find no error, and
``engine.facts`` asks jsonschema for the located errors whenever it is False. Being
stricter than the schema is allowed (a float like ``5.0`` where an integer belongs goes
the slow way); being looser is a bug, which ``tests/test_decide_facts_fast.py`` hunts for.

Supported keywords are those the facts schema uses; any other makes ``compile_schema``
return None (then jsonschema checks every document).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["compile_schema"]

Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Unsupported(Exception):
    pass


def _is_number(v: Any) -> bool:
    return v.__class__ is int or v.__class__ is float


_TYPES: dict[str, Check] = {
    "object": lambda v: v.__class__ is dict,
    "string": lambda v: v.__class__ is str,
    "number": _is_number,
    "integer": lambda v: v.__class__ is int,  # 5.0 is an integer to jsonschema: slow path
    "boolean": lambda v: v.__class__ is bool,
}


def _is_date(v: Any) -> bool:
    if v.__class__ is not str:
        return True
    if not _DATE.match(v):
        return False
    try:
        dt.date.fromisoformat(v)
    except ValueError:
        return False
    return True


def _keyword(key: str, value: Any, schema: Mapping[str, Any]) -> Check | None:
    if key in _ANNOTATIONS:
        return None
    if key == "type" and isinstance(value, str) and value in _TYPES:
        return _TYPES[value]
    if key == "required":
        names = tuple(value)
        return lambda v: v.__class__ is not dict or all(n in v for n in names)
    if key == "properties":
        props = {name: _compile(sub) for name, sub in value.items()}
        return lambda v: v.__class__ is not dict or all(
            props[k](x) for k, x in v.items() if k in props
        )
    if key == "additionalProperties":
        known = frozenset(schema.get("properties", {}))
        if value is False:
            return lambda v: v.__class__ is not dict or known.issuperset(v)
        extra = _compile(value)
        return lambda v: v.__class__ is not dict or all(
            extra(x) for k, x in v.items() if k not in known
        )
    if key == "propertyNames":
        names = _compile(value)
        return lambda v: v.__class__ is not dict or all(names(k) for k in v)
    if key == "maxProperties":
        return lambda v: v.__class__ is not dict or len(v) <= value
    if key == "enum" and all(isinstance(e, str) for e in value):
        options = frozenset(value)
        return lambda v: v.__class__ is str and v in options
    if key == "not":
        inner = _compile(value)
        return lambda v: not inner(v)
    if key == "pattern":
        rx = re.compile(value)
        return lambda v: v.__class__ is not str or rx.search(v) is not None
    if key == "format" and value == "date":
        return _is_date
    if key in ("maxLength", "minLength"):
        n = value
        if key == "maxLength":
            return lambda v: v.__class__ is not str or len(v) <= n
        return lambda v: v.__class__ is not str or len(v) >= n
    if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        b = value
        test: Check = {
            "minimum": lambda v: v >= b,
            "maximum": lambda v: v <= b,
            "exclusiveMinimum": lambda v: v > b,
            "exclusiveMaximum": lambda v: v < b,
        }[key]
        return lambda v: not _is_number(v) or test(v)
    raise _Unsupported(key)


def _compile(schema: Any) -> Check:
    if not isinstance(schema, Mapping):
        raise _Unsupported(repr(schema))
    checks = [c for key, val in schema.items() if (c := _keyword(key, val, schema)) is not None]
    # Type first: later checks may then rely on it cheaply.
    checks.sort(key=lambda c: c not in _TYPES.values())
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(c(v) for c in checks)


def compile_schema(schema: Mapping[str, Any]) -> Check | None:
    """A "certainly valid" check for ``schema``, or None if it uses unsupported keywords."""
    try:
        return _compile(schema)
    except _Unsupported:
        return None
