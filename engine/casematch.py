"""Expectations of policy test cases: resolve a dotted path in a decision, match a value.

A dotted path walks objects by key and lists by index (``warnings.0.code``); a name applied
to a list maps over its items (``warnings.code`` is the list of warning codes). An
expectation is an exact value, or an object whose keys are all matchers::

    segment.value: high_net_worth                  # exact
    risk: {grade: weak, rule: null}                # the fields named (others may differ)
    swot.score: {approx: 83.1, tol: 0.05}          # numeric tolerance
    warnings: {includes: [dscr_breach], excludes: [non_performing]}
    proposal.services: {includes: progress_reports}
    warnings: []                                    # no warning at all

An object checks only the fields it names (nested objects likewise, and a nested matcher
object works too); a list must have exactly the items given, in order; ``{eq: ...}``
compares exactly. Exact comparison is strict about types: ``true`` is not ``1`` and
``"5"`` is not ``5``; ``5`` equals ``5.0``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MATCHERS", "MISSING", "Mismatch", "check", "resolve"]

MATCHERS = frozenset({"eq", "approx", "tol", "includes", "excludes", "length", "exists",
                      "gt", "gte", "lt", "lte", "one_of"})
# Keys by which a string names an object in a list: warnings by code, policies by id, ...
IDENTITY_KEYS = ("code", "id", "indicator", "rule")


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Mismatch:
    """One expectation that did not hold."""

    path: str
    line: int
    expected: Any
    actual: Any

    def to_json(self) -> dict[str, Any]:
        actual = None if self.actual is MISSING else self.actual
        return {"path": self.path, "line": self.line, "expected": self.expected,
                "actual": actual, "missing": self.actual is MISSING}


def resolve(doc: Any, dotted: str) -> Any:
    """The value at ``dotted`` in ``doc``, or :data:`MISSING`."""
    node = doc
    for part in dotted.split("."):
        if isinstance(node, Mapping):
            node = node.get(part, MISSING)
        elif isinstance(node, list):
            if part.isdigit():
                index = int(part)
                node = node[index] if index < len(node) else MISSING
            else:
                node = [item.get(part, MISSING) for item in node if isinstance(item, Mapping)]
        else:
            return MISSING
        if node is MISSING:
            return MISSING
    return node


def is_matcher(expected: Any) -> bool:
    return isinstance(expected, Mapping) and bool(expected) and set(expected) <= MATCHERS


def check(decision: Mapping[str, Any], path: str, expected: Any, line: int) -> Mismatch | None:
    """``None`` when the decision meets the expectation, else what differed."""
    actual = resolve(decision, path)
    ok = _matches(actual, expected) if is_matcher(expected) else fits(actual, expected)
    return None if ok else Mismatch(path, line, expected, actual)


def fits(actual: Any, expected: Any) -> bool:
    """An object expectation checks the fields it names (recursively), a list has exactly
    the items given (in order, objects among them checked by the fields they name),
    anything else is compared exactly (:func:`same`); ``{eq: ...}`` compares exactly."""
    if isinstance(expected, Mapping) and not is_matcher(expected):
        return isinstance(actual, Mapping) and all(
            fits(actual.get(k, MISSING), v) for k, v in expected.items())
    if is_matcher(expected):
        return _matches(actual, expected)
    if isinstance(expected, list):  # exact length; object items check the fields they name
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(map(fits, actual, expected)))
    return same(actual, expected)


def same(actual: Any, expected: Any) -> bool:
    """Exact equality that does not confuse booleans with numbers or strings with numbers."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return actual == expected
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return expected.keys() == actual.keys() and all(same(actual[k], v)
                                                        for k, v in expected.items())
    if isinstance(expected, list) and isinstance(actual, list):
        return len(actual) == len(expected) and all(map(same, actual, expected))
    return type(actual) is type(expected) and actual == expected


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _item_matches(item: Any, wanted: Any) -> bool:
    if same(item, wanted):
        return True
    if isinstance(item, Mapping) and isinstance(wanted, str):
        return any(item.get(key) == wanted for key in IDENTITY_KEYS)
    if isinstance(item, Mapping) and isinstance(wanted, Mapping):
        return all(same(item.get(k, MISSING), v) for k, v in wanted.items())
    return False


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(actual: Any, m: Mapping[str, Any]) -> bool:
    present = actual is not MISSING and actual is not None
    if "exists" in m and m["exists"] != present:
        return False
    if "eq" in m and not same(actual, m["eq"]):
        return False
    if "one_of" in m and not any(same(actual, v) for v in m["one_of"]):
        return False
    if "approx" in m and not (_number(actual)
                              and abs(actual - m["approx"]) <= m.get("tol", 0) + 1e-12):
        return False
    for op, test in (("gt", float.__gt__), ("gte", float.__ge__),
                     ("lt", float.__lt__), ("lte", float.__le__)):
        if op in m and not (_number(actual) and test(float(actual), float(m[op]))):
            return False
    if "length" in m and not (isinstance(actual, list | Mapping) and len(actual) == m["length"]):
        return False
    if "includes" in m or "excludes" in m:
        if not isinstance(actual, list):
            return False
        wanted = _listed(m.get("includes", []))
        if any(not any(_item_matches(i, w) for i in actual) for w in wanted):
            return False
        if any(_item_matches(i, w) for w in _listed(m.get("excludes", [])) for i in actual):
            return False
    return True
