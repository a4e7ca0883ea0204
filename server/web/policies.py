"""Policies: every policy with its versions on a timeline, and one version as rule tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, render_template

from engine.explain import explain_condition, segment_words, value_words
from engine.model import (
    ClassificationPolicy,
    EarlyWarningPolicy,
    ProposalPolicy,
    RiskPolicy,
    SwotPolicy,
)
from engine.seam import LoadedPolicy
from server.app import services
from server.web.session import signed_in

__all__ = ["bp", "outcome_items"]

bp = Blueprint("policies", __name__)
HIT = {
    "rules": "first matching rule wins",
    "base": "first matching rule wins",
    "adjustments": "every matching rule applies, in order",
    "triggers": "every matching trigger fires",
}
# The timeline is drawn in SVG with presentation attributes (no inline CSS: the CSP has
# no 'unsafe-inline'); the same facts are in the table next to it.
TIMELINE_WIDTH = 600


def _registry() -> Any:
    return services().runtime.current().registry


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _timeline(versions: list[LoadedPolicy], today: dt.date) -> dict[str, Any]:
    starts = [v.policy.effective_from for v in versions]
    ends = [v.policy.effective_to for v in versions if v.policy.effective_to]
    low = min([*starts, today])
    high = max([*ends, *starts, today]) + dt.timedelta(days=180)
    span = max((high - low).days, 1)

    def x(day: dt.date) -> int:
        return round((day - low).days / span * TIMELINE_WIDTH)

    bars = []
    for row, v in enumerate(versions):
        p = v.policy
        start, end = x(p.effective_from), x(p.effective_to or high)
        bars.append({"y": row * 28 + 4, "x": start, "width": max(end - start, 3),
                     "label": v.version, "status": p.status, "open": p.effective_to is None})
    years = [
        {"x": x(dt.date(year, 1, 1)), "label": str(year)}
        for year in range(low.year, high.year + 1)
        if dt.date(year, 1, 1) >= low
    ]
    return {"bars": bars, "today": x(today), "height": len(versions) * 28 + 22,
            "width": TIMELINE_WIDTH, "low": low, "high": high, "years": years}


@bp.get("/policies")
@signed_in()
def index() -> Any:
    registry = _registry()
    today = _today()
    policies = []
    for policy_id in registry.ids():
        versions = registry.versions(policy_id)
        policies.append({
            "id": policy_id,
            "kind": versions[-1].kind,
            "versions": versions,
            "timeline": _timeline(versions, today),
            "in_force": {v.version for v in versions if v.in_force(today)},
        })
    return render_template("web/policies.html", policies=policies, today=today)


def outcome_items(then: Any) -> list[tuple[str, str]]:
    """A rule's outcome as (what, value) pairs: ("segment", "high-net-worth")."""
    data = then.model_dump(exclude_none=True, by_alias=True)
    items = []
    for name, value in data.items():
        if name == "segment":
            items.append(("segment", segment_words(value)))
        elif isinstance(value, dict):
            inner = ", ".join(f"{k.replace('_', ' ')} {value_words(v)}" for k, v in value.items())
            items.append((name.replace("_", " "), inner))
        else:
            items.append((name.replace("_", " "), value_words(value)))
    return items


def _rows(rules: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for pos, rule in enumerate(rules, start=1):
        row = {"pos": pos, "id": rule.id, "description": rule.description,
               "condition": explain_condition(rule.when)}
        if hasattr(rule, "then"):
            row["outcome"] = outcome_items(rule.then)
        else:  # an early-warning trigger: its code, severity and actions are the outcome
            row["outcome"] = [("warning", rule.code), ("severity", rule.severity),
                              ("actions", value_words(rule.actions))]
            row["severity"] = rule.severity
        rows.append(row)
    return rows


def version_view(lp: LoadedPolicy) -> dict[str, Any]:
    p = lp.policy
    tables: list[dict[str, Any]] = []
    sections: list[dict[str, Any]] = []
    if isinstance(p, ClassificationPolicy | RiskPolicy):
        tables.append({"name": "rules", "hit": HIT["rules"], "rows": _rows(list(p.rules)),
                       "default": outcome_items(p.default)})
    if isinstance(p, ClassificationPolicy):
        sections.append({"template": "plans", "plans": {
            segment_words(k): v for k, v in p.service_plans.items()}})
    if isinstance(p, RiskPolicy):
        sections.append({"template": "grades", "grades": p.grades,
                         "short_tenor_years": p.short_tenor_years})
    if isinstance(p, ProposalPolicy):
        tables.append({"name": "base", "hit": HIT["base"], "rows": _rows(list(p.base)),
                       "default": outcome_items(p.default)})
        tables.append({"name": "adjustments", "hit": HIT["adjustments"],
                       "rows": _rows(list(p.adjustments)), "default": None})
    if isinstance(p, EarlyWarningPolicy):
        tables.append({"name": "triggers", "hit": HIT["triggers"],
                       "rows": _rows(list(p.triggers)), "default": None})
    if isinstance(p, SwotPolicy):
        sections.append({"template": "swot", "policy": p,
                         "scoring": {i.id: _scoring(i) for i in p.indicators}})
    return {"loaded": lp, "policy": p, "tables": tables, "sections": sections}


def _scoring(indicator: Any) -> str:
    """How an indicator scores, in words: ``≥ 1.5 → 10; ≥ 1.3 → 7; otherwise 0``."""
    if indicator.direct:
        return "the analyst's score, as given (0–10)"
    parts = []
    if indicator.bands:
        for band in indicator.bands:
            bounds = [f"{sym} {value_words(getattr(band, op))}" for op, sym in
                      (("gte", "≥"), ("gt", ">"), ("lte", "≤"), ("lt", "<"))
                      if getattr(band, op) is not None]
            parts.append(f"{' and '.join(bounds) or 'otherwise'} → {value_words(band.score)}")
    if indicator.map:
        parts += [f"{k} → {value_words(v)}" for k, v in indicator.map.items()]
    if indicator.otherwise is not None:
        parts.append(f"anything else → {value_words(indicator.otherwise)}")
    return "; ".join(parts)


@bp.get("/policies/<policy_id>/<version>")
@signed_in()
def version(policy_id: str, version: str) -> Any:
    registry = _registry()
    lp = registry.get(policy_id, version)  # UnknownPolicyVersion → 404 page
    others = [v.version for v in registry.versions(policy_id)]
    return render_template("web/policy_version.html", view=version_view(lp), others=others,
                           in_force=lp.in_force(_today()))
