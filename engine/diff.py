"""Rule-level, semantic diff of two versions of one policy (``crmc diff``, HTTP diff route).

Not a text diff of YAML: rules are matched by id, so moving a rule is a *reorder*, editing
one leaf of its condition is a *change of that leaf* (``request.amount >= 150`` →
``request.amount >= 100``), and comments, quoting or key order do not count. Order is
reported because it is meaning: in a first-match table a rule inserted above another can
take its clients.

The dict returned by :func:`diff_versions` is JSON-ready::

    {policy_id, kind, from: {version, sha256}, to: {...}, identical,
     metadata: [{field, old, new}],
     tables: [{table, hit_policy, added: [{id, position, rule}], removed: [...],
               changed: [{id, changes: [{path, old, new}]}], reordered: {old, new} | null}],
     settings: [{path, old, new}]}      # defaults, service plans, grades, weights, ...
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from engine.model import Metadata
from engine.seam import LoadedPolicy

__all__ = ["diff_versions", "format_text", "render_condition"]

# Keyed tables of each kind: (table, how matches combine). Indicators are keyed like rules.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "classification": (("rules", "first match wins"),),
    "risk": (("rules", "first match wins"),),
    "proposal": (("base", "first match wins"), ("adjustments", "all apply, in order")),
    "early_warning": (("triggers", "all fire"),),
    "swot": (("indicators", "all score"),),
}
METADATA = tuple(name for name in Metadata.model_fields if name != "kind")
SYMBOLS = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _plain(value: Any) -> Any:
    """JSON-ready copy of a loaded YAML value (dates as ISO text)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    return str(value)


def render_condition(cond: Any) -> str:
    """A condition as one line: ``(relationship.years >= 5 and request.amount >= 150)``."""
    if not isinstance(cond, Mapping):
        return _scalar(cond)
    for combinator in ("all", "any"):
        if combinator in cond:
            joiner = " and " if combinator == "all" else " or "
            return "(" + joiner.join(render_condition(c) for c in cond[combinator]) + ")"
    if "not" in cond:
        return "not " + render_condition(cond["not"])
    fact = cond.get("fact", "?")
    for op, value in cond.items():
        if op == "fact":
            continue
        if op in SYMBOLS:
            return f"{fact} {SYMBOLS[op]} {_scalar(value)}"
        if op == "between":
            return f"{fact} between {_scalar(value[0])} and {_scalar(value[1])}"
        if op == "exists":
            return f"{fact} {'is present' if value else 'is absent'}"
        return f"{fact} {op.replace('_', ' ')} {_scalar(value)}"
    return fact


def _is_condition(value: Any) -> bool:
    return isinstance(value, Mapping) and any(k in value for k in ("fact", "all", "any", "not"))


def _changes(old: Any, new: Any, path: str) -> list[dict[str, Any]]:
    """Every difference between two values, at the deepest path that still reads well."""
    if old == new:
        return []
    if _is_condition(old) and _is_condition(new):
        combinator = next((k for k in ("all", "any") if k in old and k in new), None)
        if combinator and len(old[combinator]) == len(new[combinator]):
            return [
                c
                for i, (o, n) in enumerate(zip(old[combinator], new[combinator], strict=True))
                for c in _changes(o, n, f"{path}.{combinator}[{i}]")
            ]
        if "not" in old and "not" in new:
            return _changes(old["not"], new["not"], f"{path}.not")
        return [{"path": path, "old": render_condition(old), "new": render_condition(new)}]
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out = []
        for key in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append({"path": sub, "old": old[key], "new": None})
            elif key not in old:
                out.append({"path": sub, "old": None, "new": new[key]})
            else:
                out += _changes(old[key], new[key], sub)
        return out
    return [{"path": path, "old": old, "new": new}]


def _table(name: str, hit: str, old: list[dict], new: list[dict]) -> dict[str, Any]:
    old_ids = [r["id"] for r in old]
    new_ids = [r["id"] for r in new]
    old_by, new_by = dict(zip(old_ids, old, strict=True)), dict(zip(new_ids, new, strict=True))
    common_old = [i for i in old_ids if i in new_by]
    common_new = [i for i in new_ids if i in old_by]
    changed = []
    for rule_id in common_new:
        body_old = {k: v for k, v in old_by[rule_id].items() if k != "id"}
        body_new = {k: v for k, v in new_by[rule_id].items() if k != "id"}
        changes = _changes(body_old, body_new, "")
        if changes:
            changed.append({"id": rule_id, "changes": changes})
    return {
        "table": name,
        "hit_policy": hit,
        "added": [
            {"id": i, "position": pos + 1, "rule": new_by[i]}
            for pos, i in enumerate(new_ids)
            if i not in old_by
        ],
        "removed": [
            {"id": i, "position": pos + 1, "rule": old_by[i]}
            for pos, i in enumerate(old_ids)
            if i not in new_by
        ],
        "changed": changed,
        "reordered": None if common_old == common_new else {"old": common_old, "new": common_new},
    }


def diff_versions(a: LoadedPolicy, b: LoadedPolicy) -> dict[str, Any]:
    """What changed from version ``a`` to version ``b`` of one policy."""
    if a.id != b.id:
        raise ValueError(f"cannot diff different policies: {a.id} and {b.id}")
    old, new = _plain(a.raw), _plain(b.raw)
    tables = TABLES.get(a.kind, ())
    table_names = {name for name, _ in tables}
    metadata = [
        {"field": name, "old": old.get(name), "new": new.get(name)}
        for name in METADATA
        if old.get(name) != new.get(name)
    ]
    result_tables = [
        _table(name, hit, list(old.get(name) or []), list(new.get(name) or []))
        for name, hit in tables
    ]
    rest_old = {
        k: v for k, v in old.items() if k not in table_names and k not in Metadata.model_fields
    }
    rest_new = {
        k: v for k, v in new.items() if k not in table_names and k not in Metadata.model_fields
    }
    settings = _changes(rest_old, rest_new, "")
    kind_changed = a.kind != b.kind
    identical = not (
        kind_changed
        or [m for m in metadata if m["field"] != "version"]
        or settings
        or any(t["added"] or t["removed"] or t["changed"] or t["reordered"] for t in result_tables)
    )
    return {
        "policy_id": a.id,
        "kind": b.kind if not kind_changed else f"{a.kind} → {b.kind}",
        "from": {"version": a.version, "sha256": a.sha256},
        "to": {"version": b.version, "sha256": b.sha256},
        "identical": identical,
        "metadata": metadata,
        "tables": result_tables,
        "settings": settings,
    }


def _show(value: Any) -> str:
    if value is None:
        return "(absent)"
    if _is_condition(value):
        return render_condition(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return _scalar(value)


def _rule_lines(rule: Mapping[str, Any]) -> list[str]:
    lines = []
    for key, value in rule.items():
        if key in ("id", "description"):
            continue
        lines.append(f"      {key}: {_show(value)}")
    return lines


def format_text(diff: Mapping[str, Any]) -> str:
    """The diff for people: ``+`` added, ``-`` removed, ``~`` changed, old → new."""
    out = [f"{diff['policy_id']} {diff['from']['version']} → {diff['to']['version']}"]
    if diff["identical"]:
        out.append("  no change in rules, settings or metadata (only the version)")
    if diff["metadata"]:
        out.append("metadata:")
        out += [f"  {m['field']}: {_show(m['old'])} → {_show(m['new'])}" for m in diff["metadata"]]
    for table in diff["tables"]:
        if not (table["added"] or table["removed"] or table["changed"] or table["reordered"]):
            continue
        out.append(f"{table['table']} ({table['hit_policy']}):")
        for item in table["added"]:
            rule = item["rule"]
            out.append(
                f"  + {item['id']} (position {item['position']}): {rule.get('description', '')}"
            )
            out += _rule_lines(rule)
        for item in table["removed"]:
            rule = item["rule"]
            out.append(
                f"  - {item['id']} (was position {item['position']}): {rule.get('description', '')}"
            )
        for item in table["changed"]:
            out.append(f"  ~ {item['id']}")
            out += [
                f"      {c['path']}: {_show(c['old'])} → {_show(c['new'])}" for c in item["changes"]
            ]
        if table["reordered"]:
            order = table["reordered"]
            out.append(f"  order: {', '.join(order['old'])} → {', '.join(order['new'])}")
    if diff["settings"]:
        out.append("settings:")
        out += [f"  {c['path']}: {_show(c['old'])} → {_show(c['new'])}" for c in diff["settings"]]
    return "\n".join(out) + "\n"
