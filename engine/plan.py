"""The pipeline steps of each policy version, compiled once for the decision's hot path.

``engine.steps`` states the hit policies and outcomes readably, on plain data. The Decider
runs these compiled forms instead, which give the same outcomes as ready-made parts of the
``Decision`` model (built without re-validation, see ``engine.decision.construct``); the
outcome rules themselves (``steps.risk_terms``, ``steps.merge_adjustments``) are shared:

- a rule table keeps its rule ids in order and, for each possible winner of a first-match
  table, the facts its considered rules read (so ``missing_facts`` is a few dict reads);
- outcomes that depend only on which rules fired (segment, proposal risk sharing and
  covenants) are built once per combination and shared; only models whose fields are all
  immutable scalars are shared between decisions, anything holding a list or dict is
  built fresh for each decision.

The trace is not built here: with ``explain`` the Decider records it with
``engine.trace.Considered`` as the rules are matched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.context import MISSING, OUTPUT_PATHS, Getter, getter
from engine.decision import (
    Covenants,
    Proposal,
    Risk,
    RiskSharing,
    Segment,
    ServicePlan,
    Warning,
    construct,
)
from engine.model import (
    ClassificationPolicy,
    EarlyWarningPolicy,
    ProposalPolicy,
    RiskPolicy,
)
from engine.steps import TENOR, Prepared, merge_adjustments, risk_terms
from engine.trace import MISSING_TEXT, RuleView, display

__all__ = ["ClassificationPlan", "ProposalPlan", "RiskPlan", "WarningPlan", "add_missing"]

Reads = tuple[tuple[str, Getter], ...]
_COMBINATIONS_LIMIT = 4096  # proposal outcomes kept per version (one per set of rules fired)


def _reads(views: tuple[RuleView, ...]) -> Reads:
    """The distinct facts (not outputs) the rules read, with a getter each."""
    paths = dict.fromkeys(f for v in views for f in v.facts if f not in OUTPUT_PATHS)
    return tuple((path, getter(path)) for path in paths)


def add_missing(reads: Reads, ctx: Mapping[str, Any], missing: set[str]) -> None:
    for path, get in reads:
        if get(ctx) is MISSING:
            missing.add(path)


class FirstMatch:
    """A first-match table: the winner's index, and the facts the considered rules read."""

    def __init__(self, views: tuple[RuleView, ...]):
        self.ids = tuple(v.id for v in views)
        # rules 0..k are considered when rule k wins; every rule when none does (index -1)
        self.reads = (*(_reads(views[: k + 1]) for k in range(len(views))), _reads(views))

    def winner(self, matched: frozenset[str]) -> int:
        for i, rule_id in enumerate(self.ids):
            if rule_id in matched:
                return i
        return -1


class ClassificationPlan:
    def __init__(self, p: Prepared):
        policy = p.loaded.policy
        assert isinstance(policy, ClassificationPolicy)
        self.table = FirstMatch(p.tables["rules"])
        rules = [(r.then.segment, r.id) for r in policy.rules]
        rules.append((policy.default.segment, None))
        self.segments = tuple(
            (value, construct(Segment, {"value": value, "rule": rule_id}))
            for value, rule_id in rules
        )
        self.plans = {
            segment: (plan.relationship_manager, plan.review_frequency_days,
                      tuple(plan.value_added_services), plan.satisfaction_survey)
            for segment, plan in policy.service_plans.items()
        }

    def run(
        self, matched: frozenset[str], ctx: Mapping[str, Any], missing: set[str]
    ) -> tuple[str, Segment, ServicePlan]:
        k = self.table.winner(matched)
        add_missing(self.table.reads[k], ctx, missing)
        value, segment = self.segments[k]
        manager, days, services, survey = self.plans[value]
        plan = construct(ServicePlan, {
            "relationship_manager": manager,
            "review_frequency_days": days,
            "value_added_services": list(services),
            "satisfaction_survey": survey,
        })
        return value, segment, plan


class RiskPlan:
    def __init__(self, p: Prepared):
        policy = p.loaded.policy
        assert isinstance(policy, RiskPolicy)
        self.policy = policy
        self.table = FirstMatch(p.tables["rules"])
        self.outcomes = (
            *((r.then.grade, r.id) for r in policy.rules),
            (policy.default.grade, None),
        )

    def run(self, matched: frozenset[str], ctx: Mapping[str, Any], missing: set[str]) -> Risk:
        k = self.table.winner(matched)
        add_missing(self.table.reads[k], ctx, missing)
        grade, rule_id = self.outcomes[k]
        risk_weight, el_rate, tenor_missing = risk_terms(self.policy, grade, ctx)
        if tenor_missing:  # the short-tenor figures needed it
            missing.add(TENOR)
        return construct(Risk, {
            "grade": grade,
            "risk_weight": risk_weight,
            "expected_loss_rate": el_rate,
            "rule": rule_id,
            "controls": list(self.policy.grades[grade].controls),
        })


_NO_SHARING = construct(RiskSharing, {"type": "none", "share": None}, {"type"})
_COVENANTS = tuple(Covenants.model_fields)


class ProposalPlan:
    def __init__(self, p: Prepared):
        policy = p.loaded.policy
        assert isinstance(policy, ProposalPolicy)
        self.policy = policy
        self.base = FirstMatch(p.tables["base"])
        adjustments = p.tables.get("adjustments", ())
        self.adjustments = tuple(v.id for v in adjustments)
        self.adjustment_reads = _reads(adjustments)
        self._combinations: dict[tuple[int, ...], tuple[Any, ...]] = {}

    def run(self, matched: frozenset[str], ctx: Mapping[str, Any], missing: set[str]) -> Proposal:
        k = self.base.winner(matched)
        add_missing(self.base.reads[k], ctx, missing)
        add_missing(self.adjustment_reads, ctx, missing)
        key = (k, *(i for i, rule_id in enumerate(self.adjustments) if rule_id in matched))
        parts = self._combinations.get(key)
        if parts is None:
            parts = self._parts(key)
            if len(self._combinations) >= _COMBINATIONS_LIMIT:
                self._combinations.clear()
            self._combinations[key] = parts
        tenor, rate, interest_only, repayment, sharing, covenants, services, rules = parts
        return construct(Proposal, {
            "tenor_years": tenor,
            "rate_type": rate,
            "interest_only_years": interest_only,
            "repayment": repayment,
            "risk_sharing": sharing,
            "covenants": covenants,
            "services": list(services),
            "rules": list(rules),
        })

    def _parts(self, key: tuple[int, ...]) -> tuple[Any, ...]:
        """As ``engine.steps.propose`` (the same ``merge_adjustments``), for a base winner
        and the indexes of the adjustments that fired."""
        policy = self.policy
        k, fired_at = key[0], key[1:]
        structure = policy.base[k].then if k >= 0 else policy.default
        rules = [policy.base[k].id] if k >= 0 else []
        fired = [policy.adjustments[i] for i in fired_at]
        rules += [rule.id for rule in fired]
        sharing, covenants, services = merge_adjustments(fired)
        sharing_model = construct(
            RiskSharing, {"type": sharing["type"], "share": sharing.get("share")}, set(sharing)
        )
        covenants_model = construct(
            Covenants, {name: covenants.get(name) for name in _COVENANTS}, set(covenants)
        )
        return (display(structure.tenor_years), structure.rate_type,
                display(structure.interest_only_years), structure.repayment,
                sharing_model, covenants_model, tuple(services), tuple(rules))


class WarningPlan:
    def __init__(self, p: Prepared):
        policy = p.loaded.policy
        assert isinstance(policy, EarlyWarningPolicy)
        views = p.tables["triggers"]
        self.reads = _reads(views)
        self.triggers = tuple(
            (v.id, v.rule.code, v.rule.severity, tuple(v.rule.actions),  # type: ignore[attr-defined]
             tuple((fact, getter(fact)) for fact in v.facts))
            for v in views
        )

    def run(
        self, matched: frozenset[str], ctx: Mapping[str, Any], missing: set[str]
    ) -> list[Warning]:
        add_missing(self.reads, ctx, missing)
        warnings = []
        for rule_id, code, severity, actions, observed in self.triggers:
            if rule_id in matched:
                values = {}
                for fact, get in observed:
                    value = get(ctx)
                    values[fact] = MISSING_TEXT if value is MISSING else value
                warnings.append(construct(Warning, {
                    "code": code,
                    "severity": severity,
                    "actions": list(actions),
                    "rule": rule_id,
                    "observed": values,
                }))
        return warnings
