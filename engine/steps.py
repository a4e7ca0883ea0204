"""The pipeline steps after matching, stated readably: hit policies and outcomes.

This is the reference form of the steps, on plain data: the Decider does not run it (it
runs the compiled forms of ``engine.plan``, which build the ``Decision`` directly); impact
analysis (``engine.impact_eval``) and the tests do, and ``tests/test_decide_fastpath.py``
checks that both forms give the same decisions. The outcome rules both forms need,
``risk_terms`` and ``merge_adjustments``, are defined once here and used by both, so the
two cannot drift apart.

Each step gets the prepared policy version, the ids of the rules that hold (from the
engine) and the ``Considered`` collector; it returns the step's part of the decision as
plain data. SWOT scoring lives in ``engine.swot`` (the Decider uses
``engine.swot_compiled``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.context import MISSING, getter
from engine.model import (
    AdjustmentRule,
    ClassificationPolicy,
    EarlyWarningPolicy,
    ProposalPolicy,
    RiskPolicy,
)
from engine.seam import LoadedPolicy
from engine.trace import Considered, RuleView, display

__all__ = [
    "TENOR",
    "Prepared",
    "classify",
    "grade_risk",
    "merge_adjustments",
    "propose",
    "risk_terms",
    "warn",
]

TENOR = "request.tenor_years"  # the fact that chooses a grade's short-tenor figures
_TENOR = getter(TENOR)


@dataclass(frozen=True)
class Prepared:
    """A policy version ready to evaluate: the engine's compiled form and the rule views."""

    loaded: LoadedPolicy
    compiled: Any
    tables: dict[str, tuple[RuleView, ...]]


def classify(p: Prepared, matched: frozenset[str], seen: Considered) -> dict[str, Any]:
    policy = p.loaded.policy
    assert isinstance(policy, ClassificationPolicy)
    winner = seen.first(p.loaded, p.tables["rules"], matched)
    segment = winner.rule.then.segment if winner else policy.default.segment  # type: ignore[attr-defined]
    plan = policy.service_plans[segment].model_dump()
    return {"segment": {"value": segment, "rule": winner.id if winner else None}, "plan": plan}


def risk_terms(
    policy: RiskPolicy, grade: str, ctx: Mapping[str, Any]
) -> tuple[float, float, bool]:
    """The risk weight and expected loss rate of ``grade`` for the request in ``ctx``, and
    whether the tenor was needed but missing.

    A grade's short-tenor figures, where it has them, replace the ordinary ones when the
    tenor is a number below ``short_tenor_years``; the tenor is read (and reported missing)
    only for a grade that has such figures.
    """
    terms = policy.grades[grade]
    risk_weight, el_rate = terms.risk_weight, terms.expected_loss_rate
    if terms.risk_weight_short is None and terms.expected_loss_rate_short is None:
        return risk_weight, el_rate, False
    tenor = _TENOR(ctx)
    if tenor is MISSING:
        return risk_weight, el_rate, True
    if tenor.__class__ in (int, float) and tenor < policy.short_tenor_years:
        if terms.risk_weight_short is not None:
            risk_weight = terms.risk_weight_short
        if terms.expected_loss_rate_short is not None:
            el_rate = terms.expected_loss_rate_short
    return risk_weight, el_rate, False


def grade_risk(p: Prepared, matched: frozenset[str], seen: Considered) -> dict[str, Any]:
    policy = p.loaded.policy
    assert isinstance(policy, RiskPolicy)
    winner = seen.first(p.loaded, p.tables["rules"], matched)
    grade = winner.rule.then.grade if winner else policy.default.grade  # type: ignore[attr-defined]
    risk_weight, el_rate, tenor_missing = risk_terms(policy, grade, seen.ctx)
    if tenor_missing:  # the short-tenor figures needed it
        seen.missing.add(TENOR)
    return {
        "grade": grade,
        "risk_weight": risk_weight,
        "expected_loss_rate": el_rate,
        "rule": winner.id if winner else None,
        "controls": list(policy.grades[grade].controls),
    }


def merge_adjustments(
    fired: Iterable[AdjustmentRule],
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Risk sharing, covenants and services of the adjustments that fired, in rule order.

    A later risk-sharing mechanism replaces an earlier one (the default is ``none``); later
    rules win per covenant key; services accumulate without repeats, first mention first.
    """
    risk_sharing: dict[str, Any] = {"type": "none"}
    covenants: dict[str, Any] = {}
    services: list[str] = []
    for rule in fired:
        adj = rule.then
        if adj.risk_sharing is not None:
            risk_sharing = adj.risk_sharing.model_dump(exclude_none=True)
        if adj.covenants is not None:
            covenants.update(adj.covenants.model_dump(exclude_none=True))
        for service in adj.services or ():
            if service not in services:
                services.append(service)
    return risk_sharing, covenants, services


def propose(p: Prepared, matched: frozenset[str], seen: Considered) -> dict[str, Any]:
    policy = p.loaded.policy
    assert isinstance(policy, ProposalPolicy)
    base = seen.first(p.loaded, p.tables["base"], matched)
    structure = base.rule.then if base else policy.default  # type: ignore[attr-defined]
    fired = seen.every(p.loaded, p.tables.get("adjustments", ()), matched)
    rules = [view.rule for view in fired]
    risk_sharing, covenants, services = merge_adjustments(rules)  # type: ignore[arg-type]
    return {
        "tenor_years": display(structure.tenor_years),
        "rate_type": structure.rate_type,
        "interest_only_years": display(structure.interest_only_years),
        "repayment": structure.repayment,
        "risk_sharing": risk_sharing,
        "covenants": covenants,
        "services": services,
        "rules": ([base.id] if base else []) + [view.id for view in fired],
    }


def warn(p: Prepared, matched: frozenset[str], seen: Considered) -> list[dict[str, Any]]:
    policy = p.loaded.policy
    assert isinstance(policy, EarlyWarningPolicy)
    warnings = []
    for view in seen.every(p.loaded, p.tables["triggers"], matched):
        trigger = view.rule
        warnings.append(
            {
                "code": trigger.code,  # type: ignore[attr-defined]
                "severity": trigger.severity,  # type: ignore[attr-defined]
                "actions": list(trigger.actions),  # type: ignore[attr-defined]
                "rule": trigger.id,
                "observed": seen.observed(view),
            }
        )
    return warnings
