"""The compiled engine's condition semantics (the durable engine must agree: conformance)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from engine.compiled import compile_condition
from engine.context import build
from engine.model import Condition

CONDITION: TypeAdapter[Any] = TypeAdapter(Condition)
CTX = build({
    "client_id": "C",
    "financials": {"dscr": 1.3, "credit_rating": "A", "leverage": 0},
    "monitoring": {"sponsor_distress": True, "days_past_due": 1},
    "relationship": {"years": 10**30},
})


def holds(cond: dict[str, Any], ctx: dict[str, Any] = CTX) -> bool:
    return compile_condition(CONDITION.validate_python(cond))(ctx)


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ({"fact": "financials.dscr", "gte": 1.3}, True),
        ({"fact": "financials.dscr", "gt": 1.3}, False),
        ({"fact": "financials.dscr", "between": [1.3, 1.4]}, True),
        ({"fact": "financials.dscr", "between": [1.0, 1.3]}, True),
        ({"fact": "financials.dscr", "between": [1.31, 2]}, False),
        ({"fact": "financials.leverage", "lte": 0}, True),
        ({"fact": "relationship.years", "gt": 1e20}, True),
        ({"fact": "financials.credit_rating", "in": ["AAA", "AA", "A"]}, True),
        ({"fact": "financials.credit_rating", "not_in": ["AAA", "AA"]}, True),
        ({"fact": "financials.credit_rating", "ne": "A"}, False),
        ({"fact": "financials.credit_rating", "gt": 0}, False),  # strings never order
        ({"fact": "monitoring.sponsor_distress", "eq": True}, True),
        ({"fact": "monitoring.days_past_due", "eq": True}, False),  # 1 is not true
        ({"fact": "monitoring.sponsor_distress", "eq": 1}, False),  # true is not 1
        ({"fact": "monitoring.sponsor_distress", "in": [1, 2]}, False),
        ({"fact": "monitoring.sponsor_distress", "gte": 1}, False),  # booleans never order
        ({"fact": "monitoring.days_past_due", "eq": 1.0}, True),  # numbers compare by value
        ({"fact": "monitoring.days_past_due", "in": [1.0]}, True),
        ({"fact": "financials.dscr", "exists": True}, True),
        ({"fact": "financials.dscr", "exists": False}, False),
    ],
)
def test_leaf_on_a_present_fact(cond: dict[str, Any], expected: bool) -> None:
    assert holds(cond) is expected


@pytest.mark.parametrize(
    "cond",
    [
        {"fact": "financials.current_ratio", "lt": 1},
        {"fact": "financials.current_ratio", "gte": 0},
        {"fact": "financials.current_ratio", "eq": 0},
        {"fact": "financials.current_ratio", "ne": 0},
        {"fact": "financials.current_ratio", "in": [0, 1]},
        {"fact": "financials.current_ratio", "not_in": [0, 1]},
        {"fact": "financials.current_ratio", "between": [0, 1]},
        {"fact": "financials.current_ratio", "exists": True},
        {"fact": "project.phase", "ne": "construction"},  # the whole group is absent
        {"fact": "segment", "eq": "general"},  # an output not produced yet
    ],
)
def test_a_leaf_on_a_missing_fact_is_false(cond: dict[str, Any]) -> None:
    assert holds(cond) is False
    assert holds({"not": cond}) is True  # `not` negates its child


def test_exists_false_on_a_missing_fact() -> None:
    assert holds({"fact": "project.phase", "exists": False}) is True


def test_combinators() -> None:
    yes = {"fact": "financials.dscr", "gte": 1}
    no = {"fact": "financials.dscr", "lt": 1}
    assert holds({"all": [yes, yes]}) and not holds({"all": [yes, no]})
    assert holds({"any": [no, yes]}) and not holds({"any": [no, no]})
    assert holds({"all": [yes, {"not": {"any": [no, {"fact": "x.y", "eq": 1}]}}]})


def test_outputs_are_read_like_facts() -> None:
    ctx = build({"client_id": "C", "swot": {"management_quality": 4}})
    ctx.update(segment="general", risk={"grade": "weak"})
    ctx["swot"].update(score=61.0, grade="B")
    assert holds({"fact": "segment", "eq": "general"}, ctx)
    assert holds({"fact": "risk.grade", "in": ["weak", "default"]}, ctx)
    assert holds({"fact": "swot.score", "between": [60, 70]}, ctx)
    assert holds({"fact": "swot.management_quality", "lt": 5}, ctx)
