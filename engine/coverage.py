"""Rule coverage of policy test cases, per policy version (``crmc test --coverage``).

What counts as covered, from the decisions the cases produced (with trace):

- a **rule** (any table) is covered when some case's trace shows it *fired*: its condition
  held where its table reached it (in a first-match table, rules after the winner are not
  reached, so a shadowed rule never counts);
- the **default** of a first-match table (classification, risk, proposal base) is covered
  when some case fell through every rule (``segment.rule``/``risk.rule`` null, no base rule
  in ``proposal.rules``);
- a **SWOT indicator band** is covered when some case's fact value fell in it (the first
  band whose bounds it meets, as ``engine.swot`` scores it).

The versions reported are those the cases exercised plus every active version, so a
version no case reaches shows up at 0 %.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.context import MISSING, lookup
from engine.model import (
    Band,
    ClassificationPolicy,
    Indicator,
    ProposalPolicy,
    RiskPolicy,
    SwotPolicy,
    rule_tables,
)
from engine.seam import LoadedPolicy

__all__ = ["VersionCoverage", "band_label", "coverage", "total_percent"]


@dataclass
class VersionCoverage:
    """Coverable items of one policy version, in policy order, and which cases hit."""

    policy: str
    version: str
    kind: str
    status: str
    items: list[str] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return f"{self.policy}@{self.version}"

    @property
    def uncovered(self) -> list[str]:
        return [item for item in self.items if item not in self.covered]

    @property
    def percent(self) -> float:
        return 100.0 if not self.items else 100.0 * len(self.covered) / len(self.items)

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "version": self.version, "kind": self.kind,
                "status": self.status, "items": len(self.items), "covered": len(self.covered),
                "percent": round(self.percent, 1), "uncovered": self.uncovered}


def _bound_text(band: Band) -> str:
    bounds = (("≥", band.gte), (">", band.gt), ("≤", band.lte), ("<", band.lt))
    parts = [f"{sym} {value:g}" for sym, value in bounds if value is not None]
    return " and ".join(parts) or "else"


def band_label(ind: Indicator, index: int) -> str:
    """``band debt_service_capacity[0] ≥ 1.5`` — index and bounds, for a reader."""
    assert ind.bands is not None
    return f"band {ind.id}[{index}] {_bound_text(ind.bands[index])}"


def _band_index(ind: Indicator, value: Any) -> int | None:
    """Index of the band ``value`` scores in (same order and test as ``engine.swot``)."""
    if value.__class__ not in (int, float) or ind.bands is None:
        return None
    for i, band in enumerate(ind.bands):
        if band.gte is not None and not value >= band.gte:
            continue
        if band.gt is not None and not value > band.gt:
            continue
        if band.lte is not None and not value <= band.lte:
            continue
        if band.lt is not None and not value < band.lt:
            continue
        return i
    return None


def _items(loaded: LoadedPolicy) -> list[str]:
    policy = loaded.policy
    items = [f"rule {rule.id}" for rules in rule_tables(policy).values() for rule in rules]
    if isinstance(policy, ClassificationPolicy | RiskPolicy):
        items.append("default")
    if isinstance(policy, ProposalPolicy):
        items.insert(len(policy.base), "default")  # right after the base rules
    if isinstance(policy, SwotPolicy):
        for ind in policy.indicators:
            items += [band_label(ind, i) for i in range(len(ind.bands or ()))]
    return items


def _hits(loaded: LoadedPolicy, decision: Mapping[str, Any],
          facts: Mapping[str, Any]) -> set[str]:
    """The items of ``loaded`` that one decision covered."""
    policy = loaded.policy
    hits = {f"rule {t['rule']}" for t in decision.get("trace") or ()
            if t["fired"] and t["policy"] == loaded.id and t["version"] == loaded.version}
    segment_rule, risk_rule = decision["segment"]["rule"], decision["risk"]["rule"]
    fell_through = ((isinstance(policy, ClassificationPolicy) and segment_rule is None)
                    or (isinstance(policy, RiskPolicy) and risk_rule is None))
    if fell_through:
        hits.add("default")
    elif isinstance(policy, ProposalPolicy):
        base_ids = {rule.id for rule in policy.base}
        if not base_ids.intersection(decision["proposal"]["rules"]):
            hits.add("default")
    elif isinstance(policy, SwotPolicy):
        for ind in policy.indicators:
            value = lookup(facts, ind.fact)
            index = None if value is MISSING else _band_index(ind, value)
            if index is not None:
                hits.add(band_label(ind, index))
    return hits


def coverage(policies: Iterable[LoadedPolicy],
             runs: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> list[VersionCoverage]:
    """Coverage of every active version and every version a run used.

    ``policies`` is every loaded version (``Registry.all()``); ``runs`` yields
    ``(facts, decision JSON with trace)`` for each case that produced a decision.
    """
    by_key = {lp.key: lp for lp in policies}
    report: dict[str, VersionCoverage] = {}

    def entry(lp: LoadedPolicy) -> VersionCoverage:
        if lp.key not in report:
            report[lp.key] = VersionCoverage(lp.id, lp.version, lp.kind, lp.policy.status,
                                             _items(lp))
        return report[lp.key]

    for lp in by_key.values():
        if lp.policy.status == "active":
            entry(lp)
    for facts, decision in runs:
        for ref in decision["policies"]:
            lp = by_key.get(f"{ref['id']}@{ref['version']}")
            if lp is not None:
                cov = entry(lp)
                cov.covered |= _hits(lp, decision, facts) & set(cov.items)
    return sorted(report.values(), key=lambda c: (c.policy, _semver(c.version)))


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


def total_percent(report: Sequence[VersionCoverage]) -> float:
    """Covered items over all items of the reported versions, in percent."""
    items = sum(len(c.items) for c in report)
    covered = sum(len(c.covered) for c in report)
    return 100.0 if items == 0 else 100.0 * covered / items
