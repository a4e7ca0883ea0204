"""SWOT scoring: Decimal arithmetic, renormalisation, half-up rounding to one decimal."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from engine.context import build
from engine.model import PolicyDocument, SwotPolicy
from engine.swot import score_swot

QUADRANT_FACTS = {"strengths": "S", "opportunities": "O", "weaknesses": "W", "threats": "T"}


def policy(indicators: list[dict[str, Any]] | None = None) -> SwotPolicy:
    """The reference policy of shared/peers: one direct indicator per quadrant."""
    if indicators is None:
        indicators = [
            {"id": f"q_{q[0]}", "description": q, "quadrant": q, "weight": 1.0,
             "fact": f"swot.{q}", "direct": True}
            for q in QUADRANT_FACTS
        ]
    doc = {
        "kind": "swot", "id": "swot", "version": "9.0.0", "effective_from": "2025-01-01",
        "status": "draft", "owner": "tests", "change_note": "test",
        "quadrant_weights": {"strengths": 0.35, "opportunities": 0.25, "weaknesses": 0.25,
                             "threats": 0.15},
        "indicators": indicators,
        "grades": [{"grade": "A", "min": 70}, {"grade": "B", "min": 50}, {"grade": "C", "min": 0}],
    }
    result = TypeAdapter(PolicyDocument).validate_python(doc)
    assert isinstance(result, SwotPolicy)
    return result


REFERENCE = policy()


def score(pol: SwotPolicy, swot: dict[str, Any], **facts: Any) -> Any:
    return score_swot(pol, build({"client_id": "T", "swot": swot, **facts}))


def plain(s: float, o: float, w: float, t: float) -> float:
    """peers/engines/plain_policy.py, verbatim."""
    raw = 0.35 * s + 0.25 * o - 0.25 * w - 0.15 * t
    return round((raw + 4) / 10 * 100, 1)


def decimal_reference(s: str, o: str, w: str, t: str) -> float:
    raw = (Decimal("0.35") * Decimal(s) + Decimal("0.25") * Decimal(o)
           - Decimal("0.25") * Decimal(w) - Decimal("0.15") * Decimal(t))
    exact = (raw + 4) / 10 * 100
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@settings(max_examples=300, deadline=None)
@given(*(st.integers(0, 10) for _ in range(4)))
def test_reproduces_the_reference_formula_on_integer_scores(s: int, o: int, w: int, t: int) -> None:
    result = score(REFERENCE, {"strengths": s, "opportunities": o, "weaknesses": w, "threats": t})
    assert result.score == plain(s, o, w, t)
    assert result.grade == ("A" if result.score >= 70 else "B" if result.score >= 50 else "C")


one_decimal = st.integers(0, 100).map(lambda n: f"{n / 10:.1f}")


@settings(max_examples=300, deadline=None)
@given(one_decimal, one_decimal, one_decimal, one_decimal)
def test_one_decimal_scores_round_half_up_in_decimal(s: str, o: str, w: str, t: str) -> None:
    swot = {"strengths": float(s), "opportunities": float(o), "weaknesses": float(w),
            "threats": float(t)}
    assert score(REFERENCE, swot).score == decimal_reference(s, o, w, t)


def test_a_tie_rounds_half_up() -> None:
    # -0.25 * 0.3 + 4 = 3.925 exactly -> 39.25 -> 39.3 (binary floats and round() give 39.2)
    result = score(REFERENCE, {"strengths": 0, "opportunities": 0, "weaknesses": 0.3,
                               "threats": 0})
    assert result.score == 39.3
    assert plain(0, 0, 0.3, 0) == 39.2


def test_a_missing_quadrant_renormalises_over_the_others() -> None:
    assert score(REFERENCE, {"strengths": 10}).score == 100.0
    assert score(REFERENCE, {"weaknesses": 10}).score == 0.0
    assert score(REFERENCE, {"weaknesses": 0}).score == 100.0
    # S and W only: min = -2.5, max = 3.5 -> (0.35*6 - 0.25*4 + 2.5) / 6 * 100 = 60
    result = score(REFERENCE, {"strengths": 6, "weaknesses": 4})
    assert result.score == 60.0
    assert result.quadrants == {"strengths": 6.0, "weaknesses": 4.0, "opportunities": None,
                                "threats": None}


def test_no_indicator_at_all_gives_no_score() -> None:
    result = score(REFERENCE, {})
    assert (result.score, result.grade, result.contributions) == (None, None, [])
    assert result.missing == ["swot.opportunities", "swot.strengths", "swot.threats",
                              "swot.weaknesses"]


BANDED = [
    {"id": "dscr", "description": "d", "quadrant": "strengths", "weight": 0.6,
     "fact": "financials.dscr", "bands": [{"gte": 1.5, "score": 10}, {"gte": 1.3, "score": 7}]},
    {"id": "rating", "description": "r", "quadrant": "strengths", "weight": 0.4,
     "fact": "financials.credit_rating", "map": {"AAA": 10, "BB": 4}},
    {"id": "sponsor", "description": "s", "quadrant": "threats", "weight": 1.0,
     "fact": "monitoring.sponsor_distress", "map": {"true": 10, "false": 0}},
]


def test_indicator_renormalises_within_its_quadrant() -> None:
    pol = policy(BANDED)
    # dscr 1.2 falls in no band (no else band): left out; rating alone makes strengths.
    result = score(pol, {}, financials={"dscr": 1.2, "credit_rating": "BB"},
                   monitoring={"sponsor_distress": False})
    assert result.quadrants["strengths"] == 4.0
    assert [c["indicator"] for c in result.contributions] == ["rating", "sponsor"]
    # S 4 with weight .35, T 0 with weight .15: (1.4 + 1.5) / 5 * 100 = 58
    assert result.score == 58.0
    assert result.missing == []


def test_otherwise_scores_an_unmatched_or_missing_value() -> None:
    indicators = [dict(BANDED[0], otherwise=2), BANDED[1]]
    result = score(policy(indicators), {}, financials={"dscr": 1.0, "credit_rating": "AAA"})
    assert result.quadrants["strengths"] == pytest.approx(0.6 * 2 + 0.4 * 10)
    result = score(policy(indicators), {}, financials={"credit_rating": "AAA"})
    assert result.quadrants["strengths"] == pytest.approx(5.2)
    assert result.missing == ["financials.dscr"]


def test_contributions_add_up_to_the_score() -> None:
    pol = policy(BANDED)
    result = score(pol, {}, financials={"dscr": 1.6, "credit_rating": "BB"},
                   monitoring={"sponsor_distress": True})
    baseline = 100 * 0.15 / 0.5
    total = baseline + sum(c["points"] for c in result.contributions)
    assert total == pytest.approx(result.score, abs=0.06)
    assert sum(c["weight"] for c in result.contributions) == pytest.approx(1.0, abs=1e-3)
    assert result.contributions[-1]["points"] < 0


def test_booleans_never_score_as_numbers() -> None:
    pol = policy([dict(BANDED[0], fact="monitoring.sponsor_distress")])
    assert score(pol, {}, monitoring={"sponsor_distress": True}).score is None
