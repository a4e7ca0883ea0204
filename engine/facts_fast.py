"""A JSON Schema subset compiled into closures: a fast "certainly valid" test for facts.

jsonschema walks the schema for every document (~0.5 ms for a full facts document); this
module turns the facts schema into nested closures once. It answers only *valid or not
sure*: ``check(doc)`` is True only when jsonschema would find no error, and
``engine.facts`` asks jsonschema for the located errors whenever it is False. Being
stricter than the schema is allowed (a float like ``5.0`` where an integer belongs goes
the slow way); being looser is a bug, which ``tests/test_decide_facts_fast.py`` hunts for.

Supported keywords are those the facts schema uses; any other makes ``compile_schema``
return None (then jsonschema checks every document).

Schemas with a ``type`` of object, string, number, integer or boolean compile into one
specialised closure each (the common case: one class test, then plain comparisons and a
loop over an object's items with a dict lookup per key). The check also answers for
``engine.facts``' finiteness rule: a number check refuses NaN and infinities, and any value
in a position no ``type`` constrains is walked by ``_plain_json`` (finite numbers, strings,
booleans, plain dicts and lists only), so a True means "no schema error *and* nothing
non-finite".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["compile_schema"]

Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$(?!\n)")


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
    """Any schema, keyword by keyword (property names, and schemas without a type)."""
    if not isinstance(schema, Mapping):
        raise _Unsupported(repr(schema))
    checks = [c for key, val in schema.items() if (c := _keyword(key, val, schema)) is not None]
    # Type first: later checks may then rely on it cheaply.
    checks.sort(key=lambda c: c not in _TYPES.values())
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(c(v) for c in checks)


def _plain_json(v: Any) -> bool:
    """Finite numbers, strings, booleans, and dicts and lists of them (``_all_finite``)."""
    cls = v.__class__
    if cls is float:
        return v - v == 0.0  # False for NaN and the infinities
    if cls is dict:
        return all(_plain_json(x) for x in v.values())
    if cls is list:
        return all(_plain_json(x) for x in v)
    return cls is int or cls is str or cls is bool


_NUMBER_KEYS = frozenset({"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_STRING_KEYS = frozenset({"type", "enum", "pattern", "format", "maxLength", "minLength"})
_OBJECT_KEYS = frozenset(
    {"type", "properties", "additionalProperties", "required", "propertyNames", "maxProperties"}
)
_INF = float("inf")


def _number(schema: Mapping[str, Any], integer: bool) -> Check:
    lo, hi = schema.get("minimum", -_INF), schema.get("maximum", _INF)
    above, below = schema.get("exclusiveMinimum", -_INF), schema.get("exclusiveMaximum", _INF)
    if integer:  # 5.0 is an integer to jsonschema: the slow path decides it
        return lambda v: v.__class__ is int and lo <= v <= hi and above < v < below
    # "v - v == 0.0" is False for NaN and the infinities; ints never reach it
    if not ({"exclusiveMinimum", "exclusiveMaximum"} & set(schema)):  # the usual bounds
        return lambda v: (
            (v.__class__ is int or (v.__class__ is float and v - v == 0.0)) and lo <= v <= hi
        )
    return lambda v: (
        (v.__class__ is int or (v.__class__ is float and v - v == 0.0))
        and lo <= v <= hi and above < v < below
    )


def _string(schema: Mapping[str, Any]) -> Check:
    keys = set(schema) - _ANNOTATIONS - {"type"}
    if keys == {"enum"} and all(isinstance(e, str) for e in schema["enum"]):
        options = frozenset(schema["enum"])
        return lambda v: v.__class__ is str and v in options
    if keys == {"pattern"}:
        search = re.compile(schema["pattern"]).search
        return lambda v: v.__class__ is str and search(v) is not None
    checks = [c for key, val in schema.items()
              if key != "type" and (c := _keyword(key, val, schema)) is not None]
    if not checks:
        return lambda v: v.__class__ is str
    if len(checks) == 1:
        (only,) = checks
        return lambda v: v.__class__ is str and only(v)
    return lambda v: v.__class__ is str and all(c(v) for c in checks)


_NAMES_KEPT = 1024  # property names known to pass propertyNames, per object schema


def _names(schema: Any) -> Check:
    """propertyNames: a pure function of the name, so the names that passed are kept."""
    check = _compile(schema)
    passed: set[Any] = set()

    def name_ok(name: Any) -> bool:
        if name in passed:
            return True
        if not check(name):
            return False
        if len(passed) < _NAMES_KEPT:
            passed.add(name)
        return True

    return name_ok


def _object(schema: Mapping[str, Any]) -> Check:
    props = {name: _value(sub) for name, sub in schema.get("properties", {}).items()}
    extra_schema = schema.get("additionalProperties", True)
    # no additionalProperties: anything goes there, but it must still be plain and finite
    extra: Check | None = (
        None if extra_schema is False
        else _plain_json if extra_schema is True
        else _value(extra_schema)
    )
    required = tuple(schema.get("required", ()))
    names = _names(schema["propertyNames"]) if "propertyNames" in schema else None
    most = schema.get("maxProperties")

    def obj(v: Any) -> bool:
        if v.__class__ is not dict:
            return False
        if most is not None and len(v) > most:
            return False
        for name in required:
            if name not in v:
                return False
        for key, x in v.items():
            check = props.get(key, extra)
            if check is None or not check(x):
                return False
            if names is not None and not names(key):
                return False
        return True

    return obj


def _value(schema: Any) -> Check:
    """A check for a value position: specialised by type; finite and plain either way."""
    if not isinstance(schema, Mapping):
        raise _Unsupported(repr(schema))
    keys = set(schema) - _ANNOTATIONS
    kind = schema.get("type")
    if kind in ("number", "integer") and keys <= _NUMBER_KEYS:
        return _number(schema, kind == "integer")
    if kind == "string" and keys <= _STRING_KEYS:
        return _string(schema)
    if kind == "boolean" and keys == {"type"}:
        return lambda v: v.__class__ is bool
    if kind == "object" and keys <= _OBJECT_KEYS:
        return _object(schema)
    generic = _compile(schema)
    return lambda v: generic(v) and _plain_json(v)


def compile_schema(schema: Mapping[str, Any]) -> Check | None:
    """A "certainly valid" check for ``schema``, or None if it uses unsupported keywords."""
    try:
        return _value(schema)
    except _Unsupported:
        return None
