"""The outcome rules shared by the reference steps and the compiled plans.

``engine.steps`` (reference, used by impact analysis) and ``engine.plan`` (the Decider's
hot path) both take risk terms and merged proposal adjustments from ``risk_terms`` and
``merge_adjustments``; these tests pin those rules on the default policies and check that
neither form carries its own copy.
"""

from __future__ import annotations

from typing import Any

import pytest
from decide_support import registry

from engine import plan, steps
from engine.context import MISSING
from engine.model import ProposalPolicy, RiskPolicy
from engine.steps import merge_adjustments, risk_terms


def risk_policy() -> RiskPolicy:
    policy = registry().get("risk", "1.0.0").policy
    assert isinstance(policy, RiskPolicy)
    return policy


def proposal_policy() -> ProposalPolicy:
    policy = registry().get("proposal", "1.0.0").policy
    assert isinstance(policy, ProposalPolicy)
    return policy


def ctx(tenor: Any) -> dict[str, Any]:
    return {"request": {} if tenor is MISSING else {"tenor_years": tenor}}


@pytest.mark.parametrize(
    ("grade", "tenor", "expected"),
    [
        ("strong", 2, (0.50, 0.0, False)),  # below short_tenor_years (2.5): short figures
        ("strong", 2.5, (0.70, 0.004, False)),  # not below: the ordinary ones
        ("good", 1, (0.70, 0.004, False)),
        ("strong", MISSING, (0.70, 0.004, True)),  # needed, and missing
        ("strong", True, (0.70, 0.004, False)),  # a boolean is no tenor
        ("satisfactory", 1, (1.15, 0.028, False)),  # no short figures: tenor never read
        ("satisfactory", MISSING, (1.15, 0.028, False)),
    ],
)
def test_risk_terms(grade: str, tenor: Any, expected: tuple[float, float, bool]) -> None:
    assert risk_terms(risk_policy(), grade, ctx(tenor)) == expected


def test_merge_adjustments_in_rule_order() -> None:
    rules = {r.id: r for r in proposal_policy().adjustments}
    fired = [rules["revenue-share-growth"], rules["revenue-share-overrun"],
             rules["sizing-covenants"], rules["hedge-floating"],
             rules["hnw-reporting-services"]]
    sharing, covenants, services = merge_adjustments(fired)
    assert sharing == {"type": "revenue_share", "share": 0.03}  # the later one replaces
    assert covenants == {"min_dscr": 1.2, "lock_up_dscr": 1.1, "hedging_pct": 75}
    assert services == ["progress_reports", "financial_analysis"]


def test_nothing_fired_means_no_sharing_and_no_covenants() -> None:
    assert merge_adjustments([]) == ({"type": "none"}, {}, [])


def test_the_compiled_plans_use_the_same_rules() -> None:
    # one definition each: the hot path cannot drift from the reference steps
    assert plan.risk_terms is steps.risk_terms
    assert plan.merge_adjustments is steps.merge_adjustments
