"""What the decision and try-it pages show: a decision's explanation, grouped by step.

Built from the decision's trace (``engine.trace``) and the policy versions in the registry
(for each rule's real condition tree, and for the rules a first-match table never reached).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import DecisionRefused, NoPolicyInForce, UnknownPolicyVersion
from engine.explain import RuleExplanation, explain_trace, headline, segment_words, value_words
from engine.model import Rule, rule_tables

__all__ = [
    "SEVERITY_ORDER",
    "Explanation",
    "StepView",
    "explain",
    "fact_rows",
    "regenerate_trace",
    "rule_finder",
]

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
# (kind, table) -> (title, how the rules combine, first-match?)
STEPS: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("classification", "rules"): ("Segment", "first matching rule wins", True),
    ("risk", "rules"): ("Risk grade", "first matching rule wins", True),
    ("proposal", "base"): ("Proposal: base structure", "first matching rule wins", True),
    ("proposal", "adjustments"): ("Proposal: adjustments", "every matching rule applies", False),
    ("early_warning", "triggers"): ("Early warnings", "every matching trigger fires", False),
}


def rule_finder(registry: Any) -> Any:
    """(policy, version, table, rule id) → the policy's Rule, or None if not loaded."""
    cache: dict[tuple[str, str], dict[str, dict[str, Rule]]] = {}

    def find(policy: str, version: str, table: str, rule_id: str) -> Rule | None:
        key = (policy, version)
        if key not in cache:
            try:
                loaded = registry.get(policy, version)
            except UnknownPolicyVersion:
                cache[key] = {}
            else:
                cache[key] = {
                    name: {r.id: r for r in rules}
                    for name, rules in rule_tables(loaded.policy).items()
                }
        return cache[key].get(table, {}).get(rule_id)

    return find


@dataclass
class StepView:
    title: str
    policy: str
    version: str
    table: str
    combine: str
    outcome: str
    fired: list[RuleExplanation] = field(default_factory=list)
    not_fired: list[RuleExplanation] = field(default_factory=list)
    not_reached: list[str] = field(default_factory=list)  # rule ids after the winner
    exact: bool = True


@dataclass
class Explanation:
    headline: str
    steps: list[StepView]
    exact: bool  # every rule's tree came from its policy version


def _outcome(kind: str, table: str, decision: Mapping[str, Any]) -> str:
    if kind == "classification":
        return segment_words((decision.get("segment") or {}).get("value"))
    if kind == "risk":
        return str((decision.get("risk") or {}).get("grade", "?"))
    proposal = decision.get("proposal") or {}
    if table == "base":
        return (
            f"{value_words(proposal.get('tenor_years'))}-year {proposal.get('rate_type', '?')} "
            f"rate, {value_words(proposal.get('interest_only_years'))} years interest-only, "
            f"{proposal.get('repayment', '?')} repayment"
        )
    if table == "adjustments":
        return f"{len(proposal.get('rules') or [])} rules shaped the proposal"
    warnings = decision.get("warnings") or []
    return f"{len(warnings)} warning(s) raised" if warnings else "no warning raised"


def explain(decision: Mapping[str, Any], trace: Sequence[Mapping[str, Any]],
            registry: Any) -> Explanation:
    find = rule_finder(registry)
    explained = explain_trace(trace, find)
    kinds = {}
    for ref in decision.get("policies") or []:
        try:
            kinds[ref["id"]] = registry.get(ref["id"], ref["version"]).kind
        except UnknownPolicyVersion:
            kinds[ref["id"]] = ref["id"]  # ids equal kinds in the shipped policies
    steps: dict[tuple[str, str, str], StepView] = {}
    for item in explained:
        kind = kinds.get(item.policy, item.policy)
        title, combine, _first = STEPS.get((kind, item.table), (item.policy, item.table, False))
        key = (item.policy, item.version, item.table)
        if key not in steps:
            steps[key] = StepView(title, item.policy, item.version, item.table, combine,
                                  _outcome(kind, item.table, decision))
        step = steps[key]
        (step.fired if item.fired else step.not_fired).append(item)
        step.exact = step.exact and item.exact
    for (policy, version, table), step in steps.items():
        first_match = STEPS.get((kinds.get(policy, policy), table), ("", "", False))[2]
        if first_match and step.fired:
            seen = {i.rule for i in step.fired + step.not_fired}
            try:
                rules = rule_tables(registry.get(policy, version).policy).get(table, [])
            except UnknownPolicyVersion:
                rules = []
            step.not_reached = [r.id for r in rules if r.id not in seen]
    views = list(steps.values())
    return Explanation(headline(decision, explained), views, all(s.exact for s in views))


def regenerate_trace(decider: Any, record: Mapping[str, Any]) -> tuple[list[dict], str | None]:
    """The trace of a logged decision made without one: its request decided again with the
    recorded versions pinned, as replay does. Returns (trace, why not) — an empty trace and
    the reason when it cannot be decided again (masked facts, a version no longer loaded)."""
    decision = record.get("decision") or {}
    request = record.get("request") or {}
    pins = {ref["id"]: ref["version"] for ref in record.get("policies") or []}
    try:
        again = decider.decide(
            request.get("facts") or {},
            as_of=dt.date.fromisoformat(decision["as_of"]),
            pins=pins,
            explain=True,
        )
    except (DecisionRefused, NoPolicyInForce, UnknownPolicyVersion) as exc:
        masked = record.get("masked") or []
        why = f"masked fields are not stored: {', '.join(masked)}" if masked else str(exc)
        return [], why
    return [entry.model_dump(mode="json") for entry in again.trace or []], None


def fact_rows(facts: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(group, field, value) for every fact, in document order."""
    rows = []
    for group, value in facts.items():
        if isinstance(value, Mapping):
            rows += [(group, name, v) for name, v in value.items()]
        else:
            rows.append(("", group, value))
    return rows
