"""The compiled SWOT scorer (``engine.swot_compiled``) against ``engine.swot.score_swot``.

``score_swot`` is the statement of the number model (Decimal, 40 digits, half-up to one
decimal at the end); the compiled scorer must give the very same score, grade, quadrant
scores, contributions and missing facts for any policy and any facts: generated policies
(bands, maps, direct scores, ``otherwise``, weights like 1/3 that make the divisions
inexact, quadrants weighted 0) and generated values (ties, boundaries, missing facts).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from engine import swot_compiled
from engine.context import build, with_outputs
from engine.model import QUADRANTS, PolicyDocument, SwotPolicy
from engine.swot import score_swot
from engine.swot_compiled import SwotScorer

FACTS = ("swot.a", "swot.b", "swot.c", "relationship.years", "financials.credit_rating",
         "monitoring.sponsor_distress", "segment", "risk.grade")
WEIGHTS = st.sampled_from([1.0, 0.5, 0.25, 0.35, 0.15, 0.1, 0.3333333333333333, 0.2, 0.7,
                           0.123456789, 1e-05])
SCORES = st.one_of(st.integers(0, 10), st.sampled_from([0.05, 2.5, 7.25, 3.3333, 9.95]),
                   st.floats(0, 10, allow_nan=False))
BOUNDS = st.sampled_from([0, 1, 2.5, 3, 5, 7.5, 10, 1e-05, 100])


@st.composite
def bands(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(1, 4))):
        band: dict[str, Any] = {"score": draw(SCORES)}
        for key in draw(st.lists(st.sampled_from(["gte", "gt", "lte", "lt"]), max_size=2,
                                 unique=True)):
            band[key] = draw(BOUNDS)
        out.append(band)
    return out


@st.composite
def indicator(draw: st.DrawFn, n: int) -> dict[str, Any]:
    ind: dict[str, Any] = {
        "id": f"i{n}", "description": "generated", "quadrant": draw(st.sampled_from(QUADRANTS)),
        "weight": draw(WEIGHTS), "fact": draw(st.sampled_from(FACTS)),
    }
    kind = draw(st.sampled_from(["bands", "map", "direct"]))
    if kind == "bands":
        ind["bands"] = draw(bands())
    elif kind == "map":
        ind["map"] = draw(st.dictionaries(
            st.sampled_from(["AAA", "BBB", "true", "false", "general", "weak"]), SCORES,
            max_size=4))
    else:
        ind["direct"] = True
    if draw(st.booleans()):
        ind["otherwise"] = draw(SCORES)
    return ind


@st.composite
def policies(draw: st.DrawFn) -> SwotPolicy:
    n = draw(st.integers(1, 7))
    doc = {
        "kind": "swot", "id": "swot", "version": "9.0.0", "effective_from": "2025-01-01",
        "status": "draft", "owner": "tests", "change_note": "generated",
        "quadrant_weights": draw(st.dictionaries(
            st.sampled_from(QUADRANTS), st.sampled_from([0, 0.35, 0.25, 0.15, 0.3333, 1.0]),
            min_size=1)),
        "indicators": [draw(indicator(i)) for i in range(n)],
        "grades": [{"grade": "A", "min": draw(st.sampled_from([70, 62.5, 66.6]))},
                   {"grade": "B", "min": 50}, {"grade": "C", "min": 0}],
    }
    try:
        policy = TypeAdapter(PolicyDocument).validate_python(doc)
    except ValidationError:
        assume(False)
    assert isinstance(policy, SwotPolicy)
    return policy


VALUES = st.one_of(SCORES, BOUNDS, st.sampled_from(["AAA", "BBB", "weak", "general", True,
                                                    False, 11, -1, 1e20]))


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    facts: dict[str, Any] = {"client_id": "T"}
    for path in FACTS[:6]:
        if draw(st.booleans()):
            group, name = path.split(".")
            facts.setdefault(group, {})[name] = draw(VALUES)
    ctx = build(facts)
    if draw(st.booleans()):
        with_outputs(ctx, segment=draw(st.sampled_from(["general", "high_net_worth"])),
                     risk_grade="weak")
    return ctx


@settings(max_examples=500, deadline=None)
@given(policies(), st.lists(contexts(), min_size=1, max_size=4))
def test_compiled_scorer_gives_what_score_swot_gives(
    policy: SwotPolicy, ctxs: list[dict[str, Any]]
) -> None:
    scorer = SwotScorer(policy)
    for ctx in [*ctxs, *ctxs]:  # twice: the second time from the memo
        missing: set[str] = set()
        score, grade, quadrants, contributions = scorer.score(ctx, missing)
        want = score_swot(policy, ctx)
        assert (score, grade) == (want.score, want.grade)
        assert type(score) is type(want.score)
        assert quadrants.model_dump() == want.quadrants
        assert [c.model_dump() for c in contributions] == want.contributions
        assert sorted(missing) == want.missing


def test_a_full_memo_stops_growing_and_still_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(swot_compiled, "_MEMO_LIMIT", 16)
    policy = TypeAdapter(PolicyDocument).validate_python({
        "kind": "swot", "id": "swot", "version": "9.0.0", "effective_from": "2025-01-01",
        "status": "draft", "owner": "tests", "change_note": "memo",
        "quadrant_weights": {"strengths": 1.0},
        "indicators": [{"id": "s", "description": "d", "quadrant": "strengths", "weight": 1.0,
                        "fact": "swot.a", "direct": True}],
        "grades": [{"grade": "A", "min": 0}],
    })
    assert isinstance(policy, SwotPolicy)
    scorer = SwotScorer(policy)
    for i in range(100):
        value = i / 10
        ctx = build({"client_id": "T", "swot": {"a": value}})
        assert scorer.score(ctx, set())[0] == score_swot(policy, ctx).score
    assert len(scorer._memo) <= 16
