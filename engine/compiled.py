"""The compiled engine: every condition compiled once into plain Python closures.

Semantics (the same as the durable engine's; the conformance suite checks it):

- a leaf on an absent fact is false — whatever its operator, except ``exists: false``;
- ``not`` negates its child, so ``not`` of a leaf on a missing fact is true;
- ``eq``/``ne``/``in``/``not_in`` compare with exact types: strings equal strings, booleans
  equal booleans, numbers equal numbers (``1 == 1.0``), and a boolean is never equal to 1;
- ``ne``/``not_in`` need the fact present (then "not equal" / "none of these");
- ``lt``/``lte``/``gt``/``gte``/``between`` hold for numbers only (never for booleans or
  strings); ``between`` is inclusive on both ends;
- ``exists: true`` holds when the fact is present, ``exists: false`` when it is absent.

Each closure reads the context (a nested dict, see ``engine.context``) directly; nothing
is kept between calls, so one prepared policy serves any number of threads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.context import MISSING
from engine.model import AllOf, AnyOf, Condition, Leaf, NotOf, rule_tables
from engine.seam import LoadedPolicy

__all__ = ["CompiledEngine", "CompiledPolicy", "compile_condition"]

Predicate = Callable[[Mapping[str, Any]], bool]
Getter = Callable[[Mapping[str, Any]], Any]

_NUMBER = (int, float)


def _getter(path: str) -> Getter:
    """A reader for a dotted path; specialised for the one- and two-part paths of facts."""
    parts = tuple(path.split("."))
    if len(parts) == 1:
        (a,) = parts
        return lambda ctx: ctx.get(a, MISSING)
    if len(parts) == 2:
        a, b = parts

        def get2(ctx: Mapping[str, Any]) -> Any:
            group = ctx.get(a)
            return group.get(b, MISSING) if isinstance(group, dict) else MISSING

        return get2

    def get_n(ctx: Mapping[str, Any]) -> Any:
        node: Any = ctx
        for part in parts:
            if not isinstance(node, dict):
                return MISSING
            node = node.get(part, MISSING)
        return node

    return get_n


def _is_number(v: Any) -> bool:
    cls = v.__class__
    return cls is int or cls is float


class _Values:
    """A set of expected values partitioned by exact type, for ``in``/``eq`` tests."""

    __slots__ = ("bools", "numbers", "strings")

    def __init__(self, values: list[Any]):
        self.bools = frozenset(v for v in values if v.__class__ is bool)
        self.numbers = frozenset(v for v in values if _is_number(v))
        self.strings = frozenset(v for v in values if v.__class__ is str)

    def __contains__(self, v: Any) -> bool:
        cls = v.__class__
        if cls is str:
            return v in self.strings
        if cls is bool:
            return v in self.bools
        if cls is int or cls is float:
            return v in self.numbers
        return False


def _leaf(leaf: Leaf) -> Predicate:
    get = _getter(leaf.fact)
    op, x = leaf.op, leaf.value
    if op == "exists":
        if x:
            return lambda ctx: get(ctx) is not MISSING
        return lambda ctx: get(ctx) is MISSING
    if op in ("eq", "ne", "in", "not_in"):
        values = _Values(list(x) if op in ("in", "not_in") else [x])
        if op in ("eq", "in"):
            return lambda ctx: get(ctx) in values
        # ne / not_in: the fact must be present, and then not among the values.
        return lambda ctx: (v := get(ctx)) is not MISSING and v not in values
    if op == "between":
        lo, hi = x

        def between(ctx: Mapping[str, Any]) -> bool:
            v = get(ctx)
            return _is_number(v) and lo <= v <= hi

        return between
    compare = {
        "lt": lambda v: v < x,
        "lte": lambda v: v <= x,
        "gt": lambda v: v > x,
        "gte": lambda v: v >= x,
    }[op]

    def ordered(ctx: Mapping[str, Any]) -> bool:
        v = get(ctx)
        return _is_number(v) and compare(v)

    return ordered


def compile_condition(cond: Condition) -> Predicate:
    """A closure evaluating ``cond`` against a context."""
    if isinstance(cond, Leaf):
        return _leaf(cond)
    if isinstance(cond, NotOf):
        inner = compile_condition(cond.not_)
        return lambda ctx: not inner(ctx)
    items = cond.all if isinstance(cond, AllOf) else cond.any
    children = tuple(compile_condition(c) for c in items)
    if len(children) == 1:
        return children[0]
    if isinstance(cond, AnyOf):
        return lambda ctx: any(f(ctx) for f in children)
    return lambda ctx: all(f(ctx) for f in children)


@dataclass(frozen=True)
class CompiledPolicy:
    key: str
    rules: tuple[tuple[str, Predicate], ...]


class CompiledEngine:
    """Condition matching with compiled closures (``CRMC_ENGINE=compiled``)."""

    name = "compiled"

    def prepare(self, loaded: LoadedPolicy) -> CompiledPolicy:
        rules = tuple(
            (rule.id, compile_condition(rule.when))
            for table in rule_tables(loaded.policy).values()
            for rule in table
        )
        return CompiledPolicy(loaded.key, rules)

    def match(self, prepared: CompiledPolicy, context: Mapping[str, Any]) -> frozenset[str]:
        return frozenset([rid for rid, holds in prepared.rules if holds(context)])
