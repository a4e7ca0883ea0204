"""Conditions and traces in words, for business readers (web pages; the CLI may use it too).

A policy condition reads ``DSCR ≥ 1.3`` or ``rating in AAA, AA, A``; the same condition
checked against a decision's facts reads ``requested 300 ≥ 100 ✓`` or ``DSCR missing ✗``.

Whether a single leaf held is decided by the compiled engine's own leaf predicate
(:func:`engine.compiled.compile_condition`) on a one-fact context, so the ✓ and ✗ shown
can never disagree with the engine's semantics (exact types, "missing is false", ``ne``
needing the fact). A trace entry lists a rule's leaves flat; when the policy version is at
hand the explanation follows the rule's real ``all``/``any``/``not`` tree instead, so an
``any`` rule is not misread as "every line must hold".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.compiled import compile_condition
from engine.model import AllOf, Condition, Leaf, NotOf, Rule

__all__ = [
    "FACT_LABELS",
    "Node",
    "RuleExplanation",
    "condition_words",
    "explain_condition",
    "explain_trace",
    "fact_label",
    "headline",
    "segment_words",
    "value_words",
]

MISSING_TEXT = "missing"  # what a trace records for an absent fact (engine.trace)
YES, NO = "✓", "✗"

# Short names a business reader knows; anything else shows its dotted path.
FACT_LABELS: dict[str, str] = {
    "profile.name": "name",
    "profile.industry": "industry",
    "profile.size": "size",
    "profile.stage": "stage",
    "profile.market_position": "market position",
    "relationship.years": "years of relationship",
    "relationship.annual_contribution": "annual contribution",
    "relationship.products_held": "products held",
    "relationship.satisfaction": "satisfaction",
    "financials.credit_rating": "rating",
    "financials.annual_revenue": "annual revenue",
    "financials.ebitda_margin": "EBITDA margin",
    "financials.leverage": "leverage",
    "financials.dscr": "DSCR",
    "financials.current_ratio": "current ratio",
    "financials.historical_default_rate": "historical default rate",
    "request.amount": "requested",
    "request.currency": "currency",
    "request.tenor_years": "tenor (years)",
    "request.rate_preference": "rate preference",
    "request.risk_appetite": "risk appetite",
    "request.purpose": "purpose",
    "project.phase": "project phase",
    "project.cost_overrun_pct": "cost overrun %",
    "project.construction_delay_months": "construction delay (months)",
    "project.expected_irr": "expected IRR",
    "monitoring.days_past_due": "days past due",
    "monitoring.covenant_breaches_12m": "covenant breaches (12 m)",
    "monitoring.rating_downgrades_12m": "rating downgrades (12 m)",
    "monitoring.sponsor_distress": "sponsor distress",
    "segment": "segment",
    "swot.score": "SWOT score",
    "swot.grade": "SWOT grade",
    "risk.grade": "risk grade",
}
SYMBOLS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}
SEGMENTS = {
    "strategic_partner": "strategic partner",
    "high_net_worth": "high-net-worth",
    "general": "general",
}


def fact_label(path: str) -> str:
    if path in FACT_LABELS:
        return FACT_LABELS[path]
    if path.startswith("swot."):
        return f"analyst score {path[5:].replace('_', ' ')}"
    return path


def segment_words(value: str | None) -> str:
    return SEGMENTS.get(value or "", value or "none")


def value_words(value: Any, sep: str = ", ") -> str:
    """A fact or policy value as text: ``5.0`` → ``5``, lists joined, booleans as yes/no."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, list | tuple):
        return sep.join(value_words(v) for v in value)
    return str(value)


def _predicate(op: str, expected: Any, sep: str) -> str:
    """The part of a leaf after the fact's name: ``≥ 100``, ``in AAA, AA, A``."""
    if op in SYMBOLS:
        return f"{SYMBOLS[op]} {value_words(expected)}"
    if op in ("in", "not_in"):
        return f"{op.replace('_', ' ')} {value_words(expected, sep)}"
    if op == "between":
        low, high = expected
        return f"between {value_words(low)} and {value_words(high)}"
    if op == "exists":
        return "is present" if expected else "is absent"
    return f"{op} {value_words(expected)}"


def condition_words(fact: str, op: str, expected: Any, sep: str = ", ") -> str:
    """One leaf in words, without a value: ``DSCR ≥ 1.3``, ``rating in AAA, AA, A``."""
    return f"{fact_label(fact)} {_predicate(op, expected, sep)}"


def _observed_words(fact: str, op: str, expected: Any, observed: Any) -> str:
    """A leaf with the value it saw: ``requested 300 ≥ 100``, ``DSCR missing (needs ≥ 1.3)``."""
    name = fact_label(fact)
    if op == "exists":
        return f"{name} is absent" if observed is _ABSENT else f"{name} is present"
    if observed is _ABSENT:
        return f"{name} missing (needs {_predicate(op, expected, '/')})"
    return f"{name} {value_words(observed)} {_predicate(op, expected, '/')}"


class _Absent:
    def __repr__(self) -> str:
        return MISSING_TEXT


_ABSENT = _Absent()


def _context(path: str, value: Any) -> dict[str, Any]:
    """A context holding one fact (or nothing, when it is absent)."""
    if value is _ABSENT:
        return {}
    parts = path.split(".")
    ctx: dict[str, Any] = {}
    node = ctx
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return ctx


@dataclass
class Node:
    """A condition (or part of one) in words; ``holds`` is None when no facts were given."""

    kind: str  # all | any | not | leaf
    text: str
    holds: bool | None = None
    missing: bool = False
    children: list[Node] = field(default_factory=list)

    @property
    def mark(self) -> str:
        return "" if self.holds is None else (YES if self.holds else NO)

    def leaves(self) -> list[Node]:
        if self.kind == "leaf":
            return [self]
        return [leaf for child in self.children for leaf in child.leaves()]


def explain_condition(cond: Condition, observed: Mapping[str, Any] | None = None) -> Node:
    """The condition as a tree of words; with ``observed`` (fact → value, "missing" for an
    absent one) every part says whether it held."""
    if isinstance(cond, Leaf):
        expected = cond.value
        if isinstance(expected, tuple):
            expected = list(expected)
        if observed is None:
            return Node("leaf", condition_words(cond.fact, cond.op, expected))
        seen = observed.get(cond.fact, _ABSENT)
        if seen == MISSING_TEXT and isinstance(seen, str):
            seen = _ABSENT
        holds = bool(compile_condition(cond)(_context(cond.fact, seen)))
        text = _observed_words(cond.fact, cond.op, expected, seen)
        return Node("leaf", text, holds, missing=seen is _ABSENT)
    if isinstance(cond, NotOf):
        child = explain_condition(cond.not_, observed)
        holds = None if child.holds is None else not child.holds
        return Node("not", "not", holds, children=[child])
    kind = "all" if isinstance(cond, AllOf) else "any"
    items = cond.all if isinstance(cond, AllOf) else cond.any  # type: ignore[union-attr]
    children = [explain_condition(c, observed) for c in items]
    holds = None
    if observed is not None:
        results = [c.holds for c in children]
        holds = all(results) if kind == "all" else any(results)
    return Node(kind, "all of" if kind == "all" else "any of", holds, children=children)


def line(node: Node, sep: str = "; ") -> str:
    """The tree on one line: ``requested 300 ≥ 100 ✓; rating A in AAA/AA/A ✓``."""
    if node.kind == "leaf":
        return f"{node.text} {node.mark}".rstrip()
    inner = sep.join(line(c, sep) for c in node.children)
    if node.kind == "all":
        return inner
    if node.kind == "any":
        return f"any of ({inner.replace(sep, ' | ')})"
    return f"not ({inner})"


@dataclass
class RuleExplanation:
    policy: str
    version: str
    table: str
    rule: str
    description: str
    fired: bool
    condition: Node
    exact: bool  # False: the rule was not in the registry; the trace's flat leaves are shown

    @property
    def text(self) -> str:
        return line(self.condition)

    @property
    def has_missing(self) -> bool:
        return any(leaf.missing for leaf in self.condition.leaves())


RuleFinder = Callable[[str, str, str, str], Rule | None]  # (policy, version, table, rule id)


def explain_trace(
    trace: Iterable[Mapping[str, Any]], find_rule: RuleFinder | None = None
) -> list[RuleExplanation]:
    """Each trace entry explained; ``find_rule`` gives the policy's rule for its real tree."""
    out = []
    for entry in trace:
        leaves: Sequence[Mapping[str, Any]] = entry.get("leaves") or []
        observed = {leaf["fact"]: leaf.get("observed") for leaf in leaves}
        rule = None
        if find_rule is not None:
            rule = find_rule(entry["policy"], entry["version"], entry["table"], entry["rule"])
        if rule is not None:
            node, exact = explain_condition(rule.when, observed), True
        else:
            flat = AllOf.model_validate(
                {"all": [{"fact": lf["fact"], lf["op"]: lf["expected"]} for lf in leaves]}
            ) if leaves else None
            node = (
                explain_condition(flat, observed) if flat is not None
                else Node("all", "all of", bool(entry.get("fired")))
            )
            exact = False
        out.append(
            RuleExplanation(
                policy=entry["policy"],
                version=entry["version"],
                table=entry["table"],
                rule=entry["rule"],
                description=entry.get("description", ""),
                fired=bool(entry.get("fired")),
                condition=node,
                exact=exact,
            )
        )
    return out


def headline(decision: Mapping[str, Any], explained: Sequence[RuleExplanation]) -> str:
    """Why the segment: ``high-net-worth because rule `hnw-large-need`: requested 300 ≥ 100 ✓;
    …`` (or "… by default: no classification rule matched")."""
    segment = decision.get("segment") or {}
    words = segment_words(segment.get("value"))
    rule_id = segment.get("rule")
    if rule_id is None:
        return f"{words} by default: no classification rule matched"
    # The classification policy is the first one listed (pipeline order, contract §2).
    policies = decision.get("policies") or [{}]
    first = policies[0].get("id")
    for item in explained:
        if item.policy == first and item.rule == rule_id and item.fired:
            return f"{words} because rule `{rule_id}`: {item.text}"
    return f"{words} because rule `{rule_id}`"
