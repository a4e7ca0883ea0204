"""The facts space seen by ``crmc lint``: every fact's domain, and conditions as regions.

A fact's value in an evaluation context is either *absent* or a member of its domain
(from ``schemas/facts.schema.json``: number ranges, integers, enumerations, booleans, free
strings; plus the pipeline outputs ``segment``, ``risk.grade``, ``swot.score``,
``swot.grade``). A :class:`FactSet` is a subset of that: a value set plus "absent".

A *box* is a product of per-fact FactSets (a fact it does not mention is unconstrained);
a *region* is a union of boxes. A condition becomes a region in disjunctive normal form with
the engines' semantics: a leaf on an absent fact is false, ``ne``/``not_in`` need the fact
present, ``exists: false`` holds only when absent, and ``not`` is the exact complement —
so ``not {fact: dscr, gte: 1.2}`` also holds when ``dscr`` is absent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.lint_sets import INF, FinSet, NumSet
from engine.model import RISK_GRADES, SEGMENTS, AllOf, Condition, Leaf, NotOf

__all__ = ["ABSENT", "FACTS_SCHEMA", "Box", "Domain", "FactSet", "Space", "TooComplex"]

FACTS_SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "facts.schema.json"
# Outputs of earlier steps that are always produced (a default always applies).
ALWAYS_OUTPUTS = {"segment": SEGMENTS, "risk.grade": RISK_GRADES}
MAX_BOXES = 20_000  # a region this large means the analysis would not finish usefully


class TooComplex(Exception):
    """A region grew past :data:`MAX_BOXES` boxes."""


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()  # the value of an absent fact in a counter-example point


@dataclass(frozen=True)
class FactSet:
    """Values a fact may take, and whether it may be absent."""

    values: NumSet | FinSet
    absent: bool = False

    @property
    def empty(self) -> bool:
        return self.values.empty and not self.absent

    def __and__(self, other: FactSet) -> FactSet:
        return FactSet(self.values & other.values, self.absent and other.absent)  # type: ignore[operator]

    def __or__(self, other: FactSet) -> FactSet:
        return FactSet(self.values | other.values, self.absent or other.absent)  # type: ignore[operator]

    def __sub__(self, other: FactSet) -> FactSet:
        return FactSet(self.values - other.values, self.absent and not other.absent)  # type: ignore[operator]

    def __contains__(self, value: Any) -> bool:
        return self.absent if value is ABSENT else value in self.values


@dataclass(frozen=True)
class Domain:
    """A fact's type and the full set of what it can be in a validated context."""

    path: str
    kind: str  # number | integer | enum | boolean | string | unknown
    full: FactSet
    order: tuple = ()  # enumeration order, for readable counter-examples

    @property
    def numeric(self) -> bool:
        return self.kind in ("number", "integer")


Box = dict[str, FactSet]  # never mutated once built


def _bounds(prop: Mapping[str, Any]) -> NumSet:
    lo, lo_in, hi, hi_in = -INF, False, INF, False
    if "minimum" in prop:
        lo, lo_in = prop["minimum"], True
    if "exclusiveMinimum" in prop:
        lo, lo_in = prop["exclusiveMinimum"], False
    if "maximum" in prop:
        hi, hi_in = prop["maximum"], True
    if "exclusiveMaximum" in prop:
        hi, hi_in = prop["exclusiveMaximum"], False
    return NumSet.of([(lo, lo_in, hi, hi_in)], prop.get("type") == "integer")


def _domain(path: str, prop: Mapping[str, Any], optional: bool) -> Domain:
    kind = prop.get("type")
    if kind in ("number", "integer"):
        return Domain(path, kind, FactSet(_bounds(prop), optional))
    if kind == "boolean":
        return Domain(path, "boolean", FactSet(FinSet(frozenset({True, False})), optional),
                      (False, True))
    if "enum" in prop:
        return Domain(path, "enum", FactSet(FinSet(frozenset(prop["enum"])), optional),
                      tuple(prop["enum"]))
    return Domain(path, "string", FactSet(FinSet(co=True), optional))


@lru_cache(maxsize=1)
def _schema_domains() -> dict[str, Domain]:
    schema = json.loads(FACTS_SCHEMA.read_text(encoding="utf-8"))
    required = set(schema.get("required", []))
    out: dict[str, Domain] = {}
    for name, prop in schema["properties"].items():
        if prop.get("type") == "object" and "properties" in prop:
            for field_name, sub in prop["properties"].items():
                path = f"{name}.{field_name}"
                out[path] = _domain(path, sub, optional=True)
        elif prop.get("type") != "object":
            out[name] = _domain(name, prop, optional=name not in required)
    # the pipeline's outputs
    for path, values in ALWAYS_OUTPUTS.items():
        out[path] = Domain(path, "enum", FactSet(FinSet(frozenset(values))), tuple(values))
    out["swot.score"] = Domain("swot.score", "number",
                               FactSet(NumSet.of([(0, True, 100, True)]), True))
    out["swot.grade"] = Domain("swot.grade", "string", FactSet(FinSet(co=True), True))
    return out


def _swot_score_prop() -> Mapping[str, Any]:
    schema = json.loads(FACTS_SCHEMA.read_text(encoding="utf-8"))
    return schema["properties"]["swot"]["additionalProperties"]


def known_paths() -> list[str]:
    return sorted(_schema_domains())


def is_analyst_score(path: str) -> bool:
    """``swot.<indicator>``: the open group of analyst scores (``score``/``grade`` excluded)."""
    head, _, name = path.partition(".")
    return (head == "swot" and name not in ("", "score", "grade") and "." not in name
            and len(name) <= 40)


@dataclass
class Space:
    """Fact domains for one policy: its ``requires`` facts are never absent.

    ``loose`` widens every domain to its type alone (all reals, any string): a condition
    that is empty even there contradicts itself, while one that is empty only in the schema's
    domain is merely impossible for valid facts.
    """

    requires: frozenset[str] = frozenset()
    loose: bool = False
    _cache: dict[str, Domain] = field(default_factory=dict, repr=False)

    def known(self, path: str) -> bool:
        return path in _schema_domains() or is_analyst_score(path)

    def domain(self, path: str) -> Domain:
        if path in self._cache:
            return self._cache[path]
        if path in _schema_domains():
            dom = _schema_domains()[path]
        elif is_analyst_score(path):
            dom = _domain(path, _swot_score_prop(), optional=True)
        else:  # unknown facts are never present in a context
            dom = Domain(path, "unknown", FactSet(FinSet(), True))
        if self.loose and dom.kind != "unknown":
            values = NumSet.reals() if dom.numeric else (
                dom.full.values if dom.kind == "boolean" else FinSet(co=True))
            dom = replace(dom, full=FactSet(values, True))
        elif path in self.requires:
            dom = replace(dom, full=FactSet(dom.full.values, False))
        self._cache[path] = dom
        return dom

    def full(self, path: str) -> FactSet:
        return self.domain(path).full

    # --- leaves and conditions --------------------------------------------------------

    def leaf(self, leaf: Leaf) -> FactSet:
        """The set of a fact's states in which the leaf holds (within the domain)."""
        dom = self.domain(leaf.fact)
        op, value = leaf.op, leaf.value
        full = dom.full.values
        if op == "exists":
            return FactSet(full, False) if value else FactSet(_none(full), dom.full.absent)
        if op in ("lt", "lte", "gt", "gte", "between"):
            if not dom.numeric:
                return FactSet(_none(full))
            lo, hi = (value if op == "between" else (-INF, INF))
            bounds = {
                "lt": (-INF, False, value, False), "lte": (-INF, False, value, True),
                "gt": (value, False, INF, False), "gte": (value, True, INF, False),
                "between": (lo, True, hi, True),
            }[op]
            return FactSet(full & NumSet.of([bounds]))  # type: ignore[operator]
        listed = [value] if op in ("eq", "ne") else list(value)
        chosen = self._values(dom, listed)
        if op in ("eq", "in"):
            return FactSet(full & chosen)  # type: ignore[operator]
        return FactSet(full - chosen)  # type: ignore[operator]  # ne / not_in

    @staticmethod
    def _values(dom: Domain, listed: Iterable[Any]) -> NumSet | FinSet:
        if dom.numeric:
            points = [NumSet.point(v) for v in listed
                      if isinstance(v, int | float) and not isinstance(v, bool)]
            out = NumSet()
            for p in points:
                out = out | p
            return out
        if dom.kind == "boolean":
            return FinSet(frozenset(v for v in listed if isinstance(v, bool)))
        return FinSet(frozenset(v for v in listed if isinstance(v, str)))

    def dnf(self, cond: Condition, negate: bool = False) -> list[Box]:
        """The condition (or its negation) as a union of non-empty boxes."""
        if isinstance(cond, Leaf):
            fs = self.leaf(cond)
            if negate:
                fs = self.full(cond.fact) - fs
            return [] if fs.empty else [{cond.fact: fs}]
        if isinstance(cond, NotOf):
            return self.dnf(cond.not_, not negate)
        items = cond.all if isinstance(cond, AllOf) else cond.any
        conjunction = isinstance(cond, AllOf) != negate
        parts = [self.dnf(item, negate) for item in items]
        if not conjunction:
            return _check([box for part in parts for box in part])
        out: list[Box] = [{}]
        for part in parts:
            out = _check([b for x in out for y in part if (b := self.meet(x, y)) is not None])
            if not out:
                break
        return out

    # --- boxes and regions ------------------------------------------------------------

    def meet(self, a: Box, b: Box) -> Box | None:
        """Intersection of two boxes, or None when it is empty."""
        out = dict(a)
        for path, fs in b.items():
            both = out[path] & fs if path in out else fs
            if both.empty:
                return None
            out[path] = both
        return out

    def minus(self, a: Box, b: Box) -> list[Box]:
        """``a`` without ``b``, as disjoint boxes."""
        if self.meet(a, b) is None:
            return [a]
        out: list[Box] = []
        cur = dict(a)
        for path, fs in b.items():
            here = cur.get(path, self.full(path))
            outside = here - fs
            if not outside.empty:
                out.append({**cur, path: outside})
            cur[path] = here & fs
        return out

    def region_minus(self, region: list[Box], cut: Iterable[Box]) -> list[Box]:
        for b in cut:
            region = _check([piece for a in region for piece in self.minus(a, b)])
            if not region:
                break
        return region

    def region_meet(self, a: list[Box], b: list[Box]) -> list[Box]:
        return _check([m for x in a for y in b if (m := self.meet(x, y)) is not None])

    def covers(self, cover: list[Box], region: list[Box]) -> bool:
        return not self.region_minus(region, cover)

    # --- points (counter-examples) ----------------------------------------------------

    def point(self, box: Box, reads: Iterable[str] = ()) -> dict[str, Any]:
        """A concrete state of every fact the box constrains, and of every fact in ``reads``
        that cannot be absent (outputs, ``requires``): a value where one is allowed (more
        telling than absence), else ABSENT. Any point of a box lies in every region the box
        lies in, so the choice inside the box is free."""
        out: dict[str, Any] = {}
        for path in sorted({*box, *reads, *self.requires}):
            fs = box.get(path)
            if fs is None:
                fs = self.full(path)
                if fs.absent:
                    continue  # unconstrained and optional: leave it out
            if fs.values.empty:
                out[path] = ABSENT
            elif isinstance(fs.values, FinSet):
                out[path] = fs.values.pick(self.domain(path).order)
            else:
                out[path] = fs.values.pick()
        return out

    def any_value(self, path: str) -> Any:
        """Some value the fact can have (ABSENT if it can have none)."""
        full = self.full(path)
        return self.point({path: FactSet(full.values, False)})[path]

    def holds(self, region: list[Box], point: Mapping[str, Any]) -> bool:
        return any(all(point.get(p, ABSENT) in fs for p, fs in box.items()) for box in region)


def _none(values: NumSet | FinSet) -> NumSet | FinSet:
    return NumSet(integer=values.integer) if isinstance(values, NumSet) else FinSet()


def _check(region: list[Box]) -> list[Box]:
    if len(region) > MAX_BOXES:
        raise TooComplex(f"more than {MAX_BOXES} cases")
    return region
