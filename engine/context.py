"""The evaluation context: validated facts plus the outputs of the earlier pipeline steps.

Both engines see the same plain nested ``dict`` (plain, so that durable_rules can serialise
it and the compiled engine can read it without indirection):

- the facts document as validated (``financials.dscr``, ``request.amount``, ...);
- ``segment`` once classification ran;
- ``swot.score`` and ``swot.grade`` once the SWOT step ran (merged into the facts' ``swot``
  group of analyst scores; the facts schema reserves those two names);
- ``risk.grade`` once the risk step ran.

An output that could not be produced (a SWOT score with no indicator present) is left out,
so that a condition on it is false exactly like a condition on a missing fact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from engine import pointer

__all__ = [
    "MISSING",
    "OUTPUT_PATHS",
    "Context",
    "Getter",
    "build",
    "build_validated",
    "getter",
    "lookup",
    "to_pointer",
    "with_outputs",
]

# The paths that are pipeline outputs, not facts (never listed in ``missing_facts``).
OUTPUT_PATHS: Final = frozenset({"segment", "swot.score", "swot.grade", "risk.grade"})

Context = dict[str, Any]


class _Missing:
    """The one value ``lookup`` returns for an absent fact; never equal to a real value."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:  # pickles as the singleton (batch workers)
        return "MISSING"


MISSING: Final = _Missing()


def build(facts: Mapping[str, Any]) -> Context:
    """A fresh context holding the facts; the caller's document is never mutated."""
    # Groups are copied (one level, which is all the facts schema allows) so that adding
    # outputs cannot leak into the caller's facts or into the next decision, and so that
    # every group is a plain dict whatever Mapping the caller passed.
    return {k: dict(v) if isinstance(v, Mapping) else v for k, v in facts.items()}


def build_validated(facts: dict[str, Any]) -> Context:
    """``build`` for facts that passed the schema: plain dicts all the way down.

    Only the top level and the ``swot`` group are copied: they are the only places outputs
    are written (``with_outputs`` replaces ``risk`` whole, never writes into it), so the
    other groups can be shared with the caller's document, which nothing mutates.
    """
    ctx = facts.copy()
    swot = ctx.get("swot")
    if swot is not None:
        ctx["swot"] = swot.copy()
    return ctx


def with_outputs(
    ctx: Context,
    *,
    segment: str | None = None,
    swot_score: float | None = None,
    swot_grade: str | None = None,
    risk_grade: str | None = None,
) -> Context:
    """Add the given step outputs to ``ctx`` in place (``None`` leaves an output absent)."""
    if segment is not None:
        ctx["segment"] = segment
    if swot_score is not None or swot_grade is not None:
        group = ctx.setdefault("swot", {})
        if swot_score is not None:
            group["score"] = swot_score
        if swot_grade is not None:
            group["grade"] = swot_grade
    if risk_grade is not None:
        ctx["risk"] = {"grade": risk_grade}
    return ctx


_PARTS: dict[str, tuple[str, ...]] = {}  # dotted path -> parts (paths come from policies)


def lookup(ctx: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or ``MISSING`` if any part of the path is absent."""
    parts = _PARTS.get(path)
    if parts is None:
        parts = _PARTS.setdefault(path, tuple(path.split(".")))
    node: Any = ctx
    for part in parts:
        # dict first: the context is plain dicts, and the abc check is ten times slower
        if node.__class__ is dict or isinstance(node, Mapping):
            node = node.get(part, MISSING)
        else:
            return MISSING
        if node is MISSING:
            return MISSING
    return node


Getter = Callable[[Mapping[str, Any]], Any]


def getter(path: str) -> Getter:
    """A reader for one dotted path, equal to ``lookup(ctx, path)`` on a context (plain
    dicts), specialised for the one- and two-part paths of facts and outputs."""
    parts = tuple(path.split("."))
    if len(parts) == 1:
        (a,) = parts
        return lambda ctx: ctx.get(a, MISSING)
    if len(parts) == 2:
        a, b = parts

        def get2(ctx: Mapping[str, Any]) -> Any:
            group = ctx.get(a)
            return group.get(b, MISSING) if group.__class__ is dict else MISSING

        return get2

    def get_n(ctx: Mapping[str, Any]) -> Any:
        node: Any = ctx
        for part in parts:
            if node.__class__ is not dict:
                return MISSING
            node = node.get(part, MISSING)
        return node

    return get_n


def to_pointer(path: str) -> str:
    """JSON pointer of a dotted fact path: ``financials.dscr`` -> ``/financials/dscr``
    (for a path given as parts, use ``engine.pointer.to_pointer``)."""
    return pointer.to_pointer(path.split("."))
