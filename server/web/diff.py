"""Diff: two versions of a policy side by side, rule by rule (``engine.diff``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, render_template, request

from engine.diff import diff_versions, render_condition
from engine.explain import explain_condition, value_words
from engine.model import rule_tables
from server.app import services
from server.web.policies import outcome_items
from server.web.session import signed_in

__all__ = ["bp"]

bp = Blueprint("diff", __name__)


def _show(value: Any) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, Mapping) and any(k in value for k in ("fact", "all", "any", "not")):
        return render_condition(value)
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value_words(value)


def _rule_view(rule: Any) -> dict[str, Any]:
    node = explain_condition(rule.when)
    if hasattr(rule, "then"):
        outcome = outcome_items(rule.then)
    else:
        outcome = [("warning", rule.code), ("severity", rule.severity),
                   ("actions", value_words(rule.actions))]
    return {"id": rule.id, "description": rule.description, "condition": node,
            "leaves": [leaf.text for leaf in node.leaves()], "outcome": outcome}


def _side_by_side(table: Mapping[str, Any], old_rules: list[Any],
                  new_rules: list[Any]) -> list[dict[str, Any]]:
    """Rows in the new order, removed rules at their old place; each with its status."""
    old_by = {r.id: _rule_view(r) for r in old_rules}
    new_by = {r.id: _rule_view(r) for r in new_rules}
    changed = {c["id"]: c["changes"] for c in table["changed"]}
    moved = set()
    if table["reordered"]:
        old_order, new_order = table["reordered"]["old"], table["reordered"]["new"]
        moved = {i for i in new_order if old_order.index(i) != new_order.index(i)}
    order: list[str] = [r.id for r in new_rules]
    for pos, rule in enumerate(old_rules):
        if rule.id not in new_by:
            order.insert(min(pos, len(order)), rule.id)
    rows = []
    for rule_id in order:
        old, new = old_by.get(rule_id), new_by.get(rule_id)
        if old is None:
            status = "added"
        elif new is None:
            status = "removed"
        elif rule_id in changed:
            status = "changed"
        else:
            status = "unchanged"
        rows.append({
            "id": rule_id, "status": status, "moved": rule_id in moved,
            "old": old, "new": new,
            "changes": [{"path": c["path"] or "(rule)", "old": _show(c["old"]),
                         "new": _show(c["new"])} for c in changed.get(rule_id, [])],
            # leaves only on one side are highlighted on that side
            "gone": set(old["leaves"]) - set(new["leaves"]) if old and new else set(),
            "came": set(new["leaves"]) - set(old["leaves"]) if old and new else set(),
        })
    return rows


@bp.get("/policies/<policy_id>/diff")
@signed_in()
def diff(policy_id: str) -> Any:
    registry = services().runtime.current().registry
    versions = [v.version for v in registry.versions(policy_id)]  # unknown id → 404 page
    if len(versions) < 2:
        return render_template("web/diff.html", policy_id=policy_id, versions=versions,
                               diff=None, rows=None, old=None, new=None)
    old_v = request.args.get("from") or versions[-2]
    new_v = request.args.get("to") or versions[-1]
    old, new = registry.get(policy_id, old_v), registry.get(policy_id, new_v)
    result = diff_versions(old, new)
    old_tables, new_tables = rule_tables(old.policy), rule_tables(new.policy)
    tables = []
    for table in result["tables"]:
        name = table["table"]
        if name not in old_tables and name not in new_tables:
            continue  # swot indicators: listed under "changes" below
        rows = _side_by_side(table, old_tables.get(name, []), new_tables.get(name, []))
        counts = {s: sum(1 for r in rows if r["status"] == s)
                  for s in ("added", "removed", "changed", "unchanged")}
        tables.append({"name": name, "hit": table["hit_policy"], "rows": rows,
                       "counts": counts, "reordered": table["reordered"]})
    indicator_changes = [t for t in result["tables"] if t["table"] not in old_tables
                         and (t["added"] or t["removed"] or t["changed"])]
    return render_template(
        "web/diff.html", policy_id=policy_id, versions=versions, diff=result, tables=tables,
        indicator_changes=indicator_changes, old=old, new=new, show=_show,
    )
