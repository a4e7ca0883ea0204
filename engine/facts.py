"""Facts validation: the gate before any engine sees a client's facts.

Three checks, each reporting every problem as a :class:`FieldError` with a JSON pointer
into the facts document (``/financials/dscr``) and a message saying what was expected:

1. the facts schema (``schemas/facts.schema.json``, Draft 2020-12 with the format checker);
   types are exact, so a string where a number belongs is an error here and never reaches
   an engine (durable_rules would compare it lexicographically);
2. the request currency against the base currency of the selected policies;
3. the ``requires`` list of every selected policy.

Whatever arrives, the answer is a list of errors, never an exception: a document nested
deeper than ``MAX_DEPTH`` is refused before jsonschema sees it (jsonschema's messages
``repr()`` the offending value, which recurses), and at most ``MAX_ERRORS`` errors are
returned (a document with thousands of unknown fields is answered as fast as a small one).
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from engine import pointer
from engine.context import MISSING, lookup, to_pointer
from engine.errors import FieldError
from engine.facts_fast import compile_schema
from engine.json_strict import MAX_DEPTH as JSON_MAX_DEPTH
from engine.seam import LoadedPolicy

__all__ = [
    "FACTS_SCHEMA_PATH",
    "MAX_DEPTH",
    "MAX_ERRORS",
    "certainly_valid",
    "check_currency",
    "check_requires",
    "schema_errors",
]

FACTS_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "facts.schema.json"

# Facts need three levels (document, group, value); far deeper is an attack or an accident.
# The same limit as for any JSON crmc reads (engine.json_strict).
MAX_DEPTH = JSON_MAX_DEPTH
# Errors returned at most (then one "... and N more errors" at "/"): enough to fix a
# document, and bounded work (and response size) for a hostile one.
MAX_ERRORS = 100

_TYPE_NAMES = {
    "number": "a number",
    "integer": "an integer",
    "string": "a string",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = json.loads(FACTS_SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@lru_cache(maxsize=1)
def _fast_check() -> Callable[[Any], bool] | None:
    return compile_schema(json.loads(FACTS_SCHEMA_PATH.read_text(encoding="utf-8")))


def _pointer(parts: Iterable[Any]) -> str:
    # the whole document is "/" in these error lists (RFC 6901 would say "")
    return pointer.to_pointer(parts) or "/"


def _describe(value: Any) -> str:
    """A short rendering of an observed value, with its JSON type."""
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {json.dumps(shown, ensure_ascii=False)}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _allowed_names(schema: Mapping[str, Any]) -> list[str]:
    return sorted(schema.get("properties", {}))


@dataclass(frozen=True)
class _UnknownField:
    """An unknown field whose "did you mean" hint is computed only if it is reported
    (difflib per name is the costly part of a document with thousands of unknown fields)."""

    path: str
    name: str
    allowed: tuple[str, ...]

    @property
    def message(self) -> str:  # without the hint: the sort key
        return "unknown field; expected one of " + ", ".join(self.allowed)

    def resolve(self) -> FieldError:
        hint = difflib.get_close_matches(self.name, self.allowed, n=1)
        did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
        msg = f"unknown field{did_you_mean}; expected one of " + ", ".join(self.allowed)
        return FieldError(self.path, msg)


def _errors_of(error: ValidationError) -> Iterator[FieldError | _UnknownField]:
    """One or more located FieldErrors for a jsonschema error (its own path, not re-derived)."""
    path = list(error.absolute_path)
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties":
        allowed = tuple(_allowed_names(error.schema))
        extra = sorted(set(value) - set(allowed)) if isinstance(value, Mapping) else []
        for name in extra:
            yield _UnknownField(_pointer([*path, name]), name, allowed)
        return
    if kind == "required":
        present = set(value) if isinstance(value, Mapping) else set()
        for name in expected:
            if name not in present:
                yield FieldError(_pointer([*path, name]), "required field is missing")
        return
    if "propertyNames" in error.schema_path:
        # jsonschema reports a bad property name at the parent object; point at the name.
        yield FieldError(
            _pointer([*path, value]),
            "field name not allowed: names are lower-case letters, digits and '_' "
            "(up to 40), and 'score'/'grade' are reserved for the SWOT outputs",
        )
        return
    yield FieldError(_pointer(path), _message(kind, expected, value, error))


def _message(kind: str, expected: Any, value: Any, error: ValidationError) -> str:
    got = _describe(value)
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        return f"expected {wanted}, got {got}"
    if kind == "enum":
        return "expected one of " + ", ".join(json.dumps(v) for v in expected) + f", got {got}"
    if kind == "minimum":
        return f"expected a number >= {expected}, got {value!r}"
    if kind == "maximum":
        return f"expected a number <= {expected}, got {value!r}"
    if kind == "exclusiveMinimum":
        return f"expected a number > {expected}, got {value!r}"
    if kind == "exclusiveMaximum":
        return f"expected a number < {expected}, got {value!r}"
    if kind == "pattern":
        return f"expected a string matching {expected}, got {got}"
    if kind == "format":
        return f"expected a valid {expected} (ISO 8601, e.g. 2026-11-30), got {got}"
    if kind == "maxLength":
        return f"expected at most {expected} characters, got {len(value)}"
    if kind == "minLength":
        return f"expected at least {expected} characters, got {len(value)}"
    if kind == "maxProperties":
        return f"expected at most {expected} fields, got {len(value)}"
    return error.message


def _all_finite(node: Any) -> bool:
    """No NaN or infinity anywhere (the fast path's version of ``_non_finite``)."""
    cls = node.__class__
    if cls is float:
        return math.isfinite(node)
    if cls is dict:
        return all(_all_finite(v) for v in node.values())
    if cls is list:
        return all(_all_finite(v) for v in node)
    return cls in (int, str, bool)  # anything else: let the slow path judge it


def _non_finite(node: Any, path: list[Any]) -> Iterator[FieldError]:
    """NaN and infinities parse as JSON numbers in Python but are no facts: reject them."""
    if isinstance(node, float) and not math.isfinite(node):
        yield FieldError(_pointer(path), f"expected a finite number, got {node!r}")
    elif isinstance(node, Mapping):
        for key, child in node.items():
            yield from _non_finite(child, [*path, key])
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _non_finite(child, [*path, i])


def _too_deep(facts: Any, limit: int = MAX_DEPTH) -> list[FieldError]:
    """The objects and lists nested more than ``limit`` levels deep (the document itself is
    level 1), each at its outermost offending pointer. Iterative: any depth ``json.loads``
    accepted is walked without recursion."""
    message = f"nested too deeply (more than {limit} levels)"
    found: list[FieldError] = []
    todo: list[tuple[Any, tuple[Any, ...]]] = [(facts, ())]
    while todo:
        node, path = todo.pop()
        if isinstance(node, Mapping):
            children: Iterable[tuple[Any, Any]] = node.items()
        elif isinstance(node, list):
            children = enumerate(node)
        else:
            continue
        if len(path) >= limit:  # this container is level len(path) + 1
            found.append(FieldError(_pointer(path), message))
            continue
        todo.extend((child, (*path, key)) for key, child in children)
    return found


def _and_more(count: int) -> list[FieldError]:
    """The closing error of a capped list (nothing when nothing was left out)."""
    return [FieldError("/", f"... and {count} more errors")] if count > 0 else []


def certainly_valid(facts: Any) -> bool:
    """True only when ``schema_errors`` would find nothing and every object in the document
    is a plain ``dict`` (False means "ask ``schema_errors``", not "invalid")."""
    fast = _fast_check()
    if fast is None:
        return False
    try:
        # the compiled check also refuses non-finite numbers (see engine.facts_fast)
        return fast(facts)
    except RecursionError:  # a deep value where the schema has no type: the slow path
        return False


def schema_errors(facts: Any) -> list[FieldError]:
    """Every problem of a facts document against the facts schema, sorted by pointer
    (at most ``MAX_ERRORS`` of them, then one error at "/" saying how many more).

    A valid document (the common case) is recognised by the schema compiled into closures
    (``engine.facts_fast``); jsonschema runs only to explain a document that is not
    certainly valid, so every error still comes from jsonschema's own paths. A document
    nested too deeply gets only the depth errors: jsonschema never sees it.
    """
    if certainly_valid(facts):
        return []
    deep = _too_deep(facts)
    if deep:
        deep.sort(key=lambda e: e.path)
        return deep[:MAX_ERRORS] + _and_more(len(deep) - MAX_ERRORS)
    try:
        found = {e for err in _validator().iter_errors(facts) for e in _errors_of(err)}
        found.update(_non_finite(facts, []))
    except RecursionError:  # backstop: the depth limit should make this unreachable
        return [FieldError("/", "document nested too deeply to check")]
    ordered = sorted(found, key=lambda e: (e.path, e.message))
    shown = [e.resolve() if isinstance(e, _UnknownField) else e for e in ordered[:MAX_ERRORS]]
    return shown + _and_more(len(ordered) - MAX_ERRORS)


def check_currency(facts: Mapping[str, Any], policies: Iterable[LoadedPolicy]) -> list[FieldError]:
    """The request currency must be the base currency of every selected policy."""
    currency = lookup(facts, "request.currency")
    if not isinstance(currency, str):  # absent, or the schema's error (no repr of a list)
        return []
    bases = sorted({lp.policy.currency for lp in policies})
    if bases and any(currency != b for b in bases):
        return [
            FieldError(
                "/request/currency",
                f"expected the policies' base currency {' / '.join(bases)}, got {currency!r} "
                "(amounts are in millions of the base currency)",
            )
        ]
    return []


def check_requires(facts: Mapping[str, Any], policies: Iterable[LoadedPolicy]) -> list[FieldError]:
    """Every fact a selected policy declares in ``requires`` must be present."""
    needed: dict[str, list[str]] = {}
    for lp in policies:
        for path in lp.policy.requires:
            if lookup(facts, path) is MISSING:
                needed.setdefault(path, []).append(f"{lp.id} {lp.version}")
    return [
        FieldError(to_pointer(path), f"required by policy {', '.join(by)}: fact is missing")
        for path, by in sorted(needed.items())
    ]
