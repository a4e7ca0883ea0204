"""Helpers for the durable engine tests: policies from data, and an independent evaluator.

``expected`` evaluates the *raw* YAML/dict conditions in a few lines of plain Python,
sharing no code with either engine, so that the durable engine is checked against the
written semantics, not against itself.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter

from engine.model import PolicyDocument
from engine.seam import LoadedPolicy

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
_ADAPTER: TypeAdapter[Any] = TypeAdapter(PolicyDocument)
_ABSENT = object()
RULE_TABLES = ("rules", "base", "adjustments", "triggers")


def loaded(raw: dict[str, Any], path: str = "inline.yaml") -> LoadedPolicy:
    return LoadedPolicy(_ADAPTER.validate_python(raw), "inline", Path(path), raw)


def shipped() -> list[LoadedPolicy]:
    """Every shipped policy version (version files only; test cases live beside them)."""
    out = []
    for path in sorted(POLICIES.glob("*/[0-9]*.yaml")):
        out.append(loaded(yaml.safe_load(path.read_text(encoding="utf-8")), str(path)))
    return out


def warnings_policy(
    policy_id: str, conditions: dict[str, Any], version: str = "1.0.0"
) -> LoadedPolicy:
    """An early-warning policy with one trigger per condition (rule id -> condition)."""
    return loaded({
        "kind": "early_warning", "id": policy_id, "version": version,
        "effective_from": "2025-01-01", "status": "draft", "owner": "tests",
        "change_note": "test policy",
        "triggers": [
            {"id": rid, "description": rid, "when": cond, "code": "c", "severity": "low",
             "actions": ["a"]}
            for rid, cond in conditions.items()
        ],
    })


def rules_of(lp: LoadedPolicy) -> list[tuple[str, Any]]:
    raw = lp.raw
    return [(r["id"], r["when"]) for t in RULE_TABLES for r in raw.get(t) or []]


def expected(lp: LoadedPolicy, ctx: dict[str, Any]) -> frozenset[str]:
    return frozenset(rid for rid, cond in rules_of(lp) if holds(cond, ctx))


def _get(ctx: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(ctx, dict) or part not in ctx:
            return _ABSENT
        ctx = ctx[part]
    return ctx


def _kind(v: Any) -> str:
    if v.__class__ is bool:
        return "bool"
    if v.__class__ in (int, float):
        return "number"
    if v.__class__ is str:
        return "string"
    return "other"


def _same(a: Any, b: Any) -> bool:
    return _kind(a) == _kind(b) != "other" and a == b


def holds(cond: dict[str, Any], ctx: dict[str, Any]) -> bool:
    if "all" in cond:
        return all(holds(c, ctx) for c in cond["all"])
    if "any" in cond:
        return any(holds(c, ctx) for c in cond["any"])
    if "not" in cond:
        return not holds(cond["not"], ctx)
    (op,) = (k for k in cond if k != "fact")
    x, v = cond[op], _get(ctx, cond["fact"])
    if op == "exists":
        return (v is not _ABSENT) == x
    if v is _ABSENT:
        return False
    if op in ("eq", "in"):
        return any(_same(v, y) for y in (x if op == "in" else [x]))
    if op in ("ne", "not_in"):
        return not any(_same(v, y) for y in (x if op == "not_in" else [x]))
    if _kind(v) != "number":
        return False
    if op == "between":
        return x[0] <= v <= x[1]
    return {"lt": v < x, "lte": v <= x, "gt": v > x, "gte": v >= x}[op]


def constants(lps: list[LoadedPolicy]) -> dict[str, list[Any]]:
    """Fact path -> every constant the policies compare it with."""
    out: dict[str, list[Any]] = {}

    def walk(cond: dict[str, Any]) -> None:
        for key in ("all", "any"):
            for c in cond.get(key, []):
                walk(c)
        if "not" in cond:
            walk(cond["not"])
        if "fact" in cond:
            (op,) = (k for k in cond if k != "fact")
            x = cond[op]
            out.setdefault(cond["fact"], []).extend(x if isinstance(x, list) else [x])

    for lp in lps:
        for _, cond in rules_of(lp):
            walk(cond)
    return out


EXTREMES = [0, 0.0, -0.5, 1e-05, 5e-05, 1e20, 1e+300, 2**53 + 1, 2**63, 2**64 + 1, 10**30]


def random_context(rng: random.Random, consts: dict[str, list[Any]]) -> dict[str, Any]:
    """A context where each path is absent, a constant, next to one, extreme or odd-typed."""
    ctx: dict[str, Any] = {}
    for path, values in consts.items():
        r = rng.random()
        if r < 0.25:
            continue
        c = rng.choice(values)
        if r < 0.55:
            v = c
        elif r < 0.75 and isinstance(c, float | int) and not isinstance(c, bool):
            v = rng.choice([c + 1e-9, c - 1e-9, c * 1.5, -c, int(c), float(c), c + 1])
        elif r < 0.85:
            v = rng.choice(EXTREMES)
        else:
            v = rng.choice([True, False, "AAA", "x", 3, 1.1, "general", "weak"])
        head, *rest = path.split(".")
        if rest:
            ctx.setdefault(head, {})[rest[0]] = v
        else:
            ctx[head] = v
    return ctx
