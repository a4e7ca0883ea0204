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

Each closure reads the context (plain nested dicts, see ``engine.context``; a group that is
not exactly a ``dict`` reads as absent, as in ``engine.context.getter``) directly; nothing
is kept between calls, so one prepared policy serves any number of threads.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.context import MISSING, getter
from engine.model import AllOf, AnyOf, Condition, Leaf, NotOf, rule_tables
from engine.seam import LoadedPolicy

__all__ = ["CompiledEngine", "CompiledPolicy", "compile_condition"]

Predicate = Callable[[Mapping[str, Any]], bool]


def _by_type(values: list[Any]) -> tuple[frozenset[Any], frozenset[Any], frozenset[Any]]:
    """Expected values partitioned by exact type (strings, numbers, booleans), so that a
    membership test never equates True with 1 or "1" with 1."""
    return (
        frozenset(v for v in values if v.__class__ is str),
        frozenset(v for v in values if v.__class__ is int or v.__class__ is float),
        frozenset(v for v in values if v.__class__ is bool),
    )


def _test(op: str, x: Any) -> Callable[[Any], bool]:
    """The leaf's test of a value read from the context (``MISSING`` when absent)."""
    if op == "exists":
        if x:
            return lambda v: v is not MISSING
        return lambda v: v is MISSING
    if op in ("eq", "ne", "in", "not_in"):
        strings, numbers, bools = _by_type(list(x) if op in ("in", "not_in") else [x])

        def member(v: Any) -> bool:
            cls = v.__class__
            if cls is str:
                return v in strings
            if cls is int or cls is float:
                return v in numbers
            if cls is bool:
                return v in bools
            return False

        if op in ("eq", "in"):
            return member
        # ne / not_in: the fact must be present, and then not among the values.
        return lambda v: v is not MISSING and not member(v)
    # ordered comparisons hold for numbers only (never booleans, strings or MISSING)
    if op == "between":
        lo, hi = x
        return lambda v: (v.__class__ is int or v.__class__ is float) and lo <= v <= hi
    if op == "lt":
        return lambda v: (v.__class__ is int or v.__class__ is float) and v < x
    if op == "lte":
        return lambda v: (v.__class__ is int or v.__class__ is float) and v <= x
    if op == "gt":
        return lambda v: (v.__class__ is int or v.__class__ is float) and v > x
    if op == "gte":
        return lambda v: (v.__class__ is int or v.__class__ is float) and v >= x
    raise ValueError(f"unknown operator {op!r}")


_ORDERED = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}


def _leaf(leaf: Leaf) -> Predicate:
    test = _test(leaf.op, leaf.value)
    parts = tuple(leaf.fact.split("."))
    if len(parts) == 2 and leaf.op in _ORDERED:  # the commonest leaf: all in one frame
        a, b = parts
        compare, x = _ORDERED[leaf.op], leaf.value

        def ordered2(ctx: Mapping[str, Any]) -> bool:
            group = ctx.get(a)
            if group.__class__ is not dict:  # as engine.context.getter
                return False
            v = group.get(b)  # None when absent: not a number either
            return (v.__class__ is int or v.__class__ is float) and compare(v, x)

        return ordered2
    if len(parts) == 2:  # other leaves on facts and outputs: the read inlined
        a, b = parts

        def leaf2(ctx: Mapping[str, Any]) -> bool:
            group = ctx.get(a)
            return test(group.get(b, MISSING) if group.__class__ is dict else MISSING)

        return leaf2
    get = getter(leaf.fact)
    return lambda ctx: test(get(ctx))


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
    # two and three children without a generator (the common shapes); any/all beyond
    if isinstance(cond, AnyOf):
        if len(children) == 2:
            f, g = children
            return lambda ctx: f(ctx) or g(ctx)
        if len(children) == 3:
            f, g, h = children
            return lambda ctx: f(ctx) or g(ctx) or h(ctx)
        return lambda ctx: any(f(ctx) for f in children)
    if len(children) == 2:
        f, g = children
        return lambda ctx: f(ctx) and g(ctx)
    if len(children) == 3:
        f, g, h = children
        return lambda ctx: f(ctx) and g(ctx) and h(ctx)
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
