"""The exact set algebra under ``crmc lint``: value sets, and conditions as regions that
agree with the compiled engine on every facts document (hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from engine.compiled import compile_condition
from engine.lint_sets import INF, FinSet, NumSet
from engine.lint_space import ABSENT, FactSet, Space
from engine.model import Condition

COND: TypeAdapter[Any] = TypeAdapter(Condition)


# --- value sets -----------------------------------------------------------------------------


def test_integer_sets_use_whole_numbers() -> None:
    gt30 = NumSet.of([(30, False, INF, False)], integer=True)
    gte31 = NumSet.of([(31, True, INF, False)], integer=True)
    assert gt30 == gte31
    assert NumSet.of([(0, False, 1, False)], integer=True).empty
    assert NumSet.of([(1, True, 3, True), (4, True, 9, True)], integer=True).ivs == (
        (1, True, 9, True),)
    assert (NumSet.reals(integer=True) - gt30).describe() == "≤ 30"


def test_real_sets_keep_open_and_closed_bounds() -> None:
    below = NumSet.of([(-INF, False, 1.1, False)])
    at_least = NumSet.of([(1.1, True, INF, False)])
    assert (below | at_least) == NumSet.reals()
    assert (below & at_least).empty
    assert 1.1 not in below and 1.1 in at_least
    assert below.complement() == at_least
    touching = NumSet.of([(0, True, 1, False), (1, False, 2, True)])
    assert 1 not in touching and len(touching.ivs) == 2  # the hole at 1 is kept
    assert touching.complement().describe() == "< 0 or = 1 or > 2"


def test_pick_prefers_readable_members() -> None:
    assert NumSet.of([(1.1, False, 1.3, False)]).pick() == 1.2
    assert NumSet.of([(5, False, INF, False)]).pick() == 6
    assert NumSet.of([(0, False, 3, True)]).pick() == 3
    assert NumSet.of([(30, False, INF, False)], integer=True).pick() == 31


def test_finite_and_cofinite_sets() -> None:
    ab, bc = FinSet(frozenset("ab")), FinSet(frozenset("bc"))
    assert (ab & bc) == FinSet(frozenset("b"))
    assert (ab - bc) == FinSet(frozenset("a"))
    not_b = FinSet(frozenset("b"), co=True)
    assert "z" in not_b and "b" not in not_b
    assert (not_b & ab) == FinSet(frozenset("a"))
    assert (not_b | FinSet(frozenset("b"))) == FinSet(co=True)
    assert 1 not in FinSet(frozenset({True}))  # a boolean never equals a number


# --- conditions as regions agree with the engine ---------------------------------------------

FACTS = {
    "financials.dscr": [0, 0.5, 1.1, 1.2, 1.25, 1.3, 2, 1e20],
    "monitoring.days_past_due": [0, 1, 30, 31, 90, 91],
    "financials.credit_rating": ["AAA", "A", "BBB", "B", "D"],
    "monitoring.sponsor_distress": [True, False],
    "profile.industry": ["energy", "manufacturing", "other"],
    "segment": ["strategic_partner", "high_net_worth", "general"],
}
THRESHOLDS = [0, 0.5, 1, 1.1, 1.2, 1.25, 1.3, 30, 30.5, 31, 90, 91]


def _leaf(fact: str) -> st.SearchStrategy[dict]:
    values = FACTS[fact]
    numeric = isinstance(values[0], int | float) and not isinstance(values[0], bool)
    scalar = st.sampled_from([*values, "x", True, 1])  # a few wrong types on purpose
    ops = [st.fixed_dictionaries({"eq": scalar}), st.fixed_dictionaries({"ne": scalar}),
           st.fixed_dictionaries({"in": st.lists(scalar, max_size=3)}),
           st.fixed_dictionaries({"not_in": st.lists(scalar, max_size=3)}),
           st.fixed_dictionaries({"exists": st.booleans()})]
    if numeric:
        bound = st.sampled_from(THRESHOLDS)
        ops += [st.fixed_dictionaries({op: bound}) for op in ("lt", "lte", "gt", "gte")]
        ops.append(st.tuples(bound, bound).map(lambda t: {"between": sorted(t)}))
    return st.one_of(ops).map(lambda d: {"fact": fact, **d})


LEAVES = st.sampled_from(sorted(FACTS)).flatmap(_leaf)
CONDITIONS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
        inner.map(lambda x: {"not": x}),
    ),
    max_leaves=6,
)


@st.composite
def points(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {"segment": draw(st.sampled_from(FACTS["segment"]))}
    for fact, values in FACTS.items():
        if fact != "segment" and draw(st.booleans()):
            out[fact] = draw(st.sampled_from(values))
    return out


def _context(point: dict[str, Any]) -> dict[str, Any]:
    ctx: dict[str, Any] = {"client_id": "c"}
    for path, value in point.items():
        if "." in path:
            group, name = path.split(".")
            ctx.setdefault(group, {})[name] = value
        else:
            ctx[path] = value
    return ctx


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=CONDITIONS, point=points())
def test_region_of_a_condition_is_exactly_where_the_engine_says_it_holds(
        raw: dict, point: dict[str, Any]) -> None:
    cond = COND.validate_python(raw)
    space = Space()
    engine_says = compile_condition(cond)(_context(point))
    assert space.holds(space.dnf(cond), point) == engine_says
    assert space.holds(space.dnf(cond, negate=True), point) == (not engine_says)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=CONDITIONS, b=CONDITIONS, point=points())
def test_region_difference_and_meet_are_exact(a: dict, b: dict, point: dict[str, Any]) -> None:
    space = Space()
    ra, rb = space.dnf(COND.validate_python(a)), space.dnf(COND.validate_python(b))
    in_a, in_b = space.holds(ra, point), space.holds(rb, point)
    assert space.holds(space.region_minus(ra, rb), point) == (in_a and not in_b)
    assert space.holds(space.region_meet(ra, rb), point) == (in_a and in_b)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=CONDITIONS)
def test_a_point_of_every_box_lies_in_the_region(raw: dict) -> None:
    space = Space()
    region = space.dnf(COND.validate_python(raw))
    for box in region:
        point = space.point(box, ["segment"])
        assert space.holds([box], point)
        assert compile_condition(COND.validate_python(raw))(
            _context({k: v for k, v in point.items() if v is not ABSENT}))


@pytest.mark.parametrize(("raw", "facts_missing"), [
    ({"not": {"fact": "financials.dscr", "gte": 1.2}}, True),
    ({"fact": "financials.dscr", "ne": 1.2}, False),
    ({"fact": "financials.dscr", "not_in": [1.2]}, False),
    ({"fact": "financials.dscr", "exists": False}, True),
])
def test_missing_fact_semantics(raw: dict, facts_missing: bool) -> None:
    space = Space()
    assert space.holds(space.dnf(COND.validate_python(raw)), {}) == facts_missing


def test_required_facts_are_never_absent() -> None:
    space = Space(requires=frozenset({"financials.dscr"}))
    assert space.full("financials.dscr") == FactSet(NumSet.of([(0, True, INF, False)]), False)
    assert space.dnf(COND.validate_python({"fact": "financials.dscr", "exists": False})) == []
    assert space.full("client_id").absent is False
