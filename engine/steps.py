"""The pipeline steps after matching: hit policies and outcomes, one function per step.

Each step gets the prepared policy version, the ids of the rules that hold (from the
engine) and the ``Considered`` collector; it returns the step's part of the decision as
plain data. SWOT scoring lives in ``engine.swot``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.context import MISSING, lookup
from engine.model import (
    ClassificationPolicy,
    EarlyWarningPolicy,
    ProposalPolicy,
    RiskPolicy,
)
from engine.seam import LoadedPolicy
from engine.trace import Considered, RuleView, display

__all__ = ["Prepared", "classify", "grade_risk", "propose", "warn"]


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


def grade_risk(p: Prepared, matched: frozenset[str], seen: Considered) -> dict[str, Any]:
    policy = p.loaded.policy
    assert isinstance(policy, RiskPolicy)
    winner = seen.first(p.loaded, p.tables["rules"], matched)
    grade = winner.rule.then.grade if winner else policy.default.grade  # type: ignore[attr-defined]
    terms = policy.grades[grade]
    risk_weight, el_rate = terms.risk_weight, terms.expected_loss_rate
    has_short = terms.risk_weight_short is not None or terms.expected_loss_rate_short is not None
    if has_short:
        tenor = lookup(seen.ctx, "request.tenor_years")
        if tenor is MISSING:
            seen.missing.add("request.tenor_years")  # the short-tenor figures needed it
        elif tenor.__class__ in (int, float) and tenor < policy.short_tenor_years:
            if terms.risk_weight_short is not None:
                risk_weight = terms.risk_weight_short
            if terms.expected_loss_rate_short is not None:
                el_rate = terms.expected_loss_rate_short
    return {
        "grade": grade,
        "risk_weight": risk_weight,
        "expected_loss_rate": el_rate,
        "rule": winner.id if winner else None,
        "controls": list(terms.controls),
    }


def propose(p: Prepared, matched: frozenset[str], seen: Considered) -> dict[str, Any]:
    policy = p.loaded.policy
    assert isinstance(policy, ProposalPolicy)
    base = seen.first(p.loaded, p.tables["base"], matched)
    structure = base.rule.then if base else policy.default  # type: ignore[attr-defined]
    risk_sharing: dict[str, Any] = {"type": "none"}
    covenants: dict[str, Any] = {}
    services: list[str] = []
    rules = [base.id] if base else []
    for view in seen.every(p.loaded, p.tables.get("adjustments", ()), matched):
        adj = view.rule.then  # type: ignore[attr-defined]
        rules.append(view.id)
        if adj.risk_sharing is not None:  # a later mechanism replaces an earlier one
            risk_sharing = adj.risk_sharing.model_dump(exclude_none=True)
        if adj.covenants is not None:  # later rules win per covenant key
            covenants.update(adj.covenants.model_dump(exclude_none=True))
        for service in adj.services or ():
            if service not in services:
                services.append(service)
    return {
        "tenor_years": display(structure.tenor_years),
        "rate_type": structure.rate_type,
        "interest_only_years": display(structure.interest_only_years),
        "repayment": structure.repayment,
        "risk_sharing": risk_sharing,
        "covenants": covenants,
        "services": services,
        "rules": rules,
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
