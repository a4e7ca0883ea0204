"""Impact analysis: what changing one policy version does to a portfolio.

    run(policies_dir, "classification", "1.0.0", "1.1.0", "portfolio.jsonl", as_of=...)

Every client is evaluated under the old and the new version of the policy, everything
else as in force on ``as_of`` (``engine.impact_eval`` skips the work that cannot differ).
The portfolio is streamed in byte ranges, one range per task, by worker processes that
each return counters, so memory stays flat whatever the portfolio size; only the first
``cap`` affected clients are kept (with their facts, to show whole before/after decisions
in the report), the rest are counted.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from engine.impact_eval import Outcome, PairEvaluator
from engine.model import RISK_GRADES, SEGMENTS

__all__ = ["CHUNK_BYTES", "ImpactResult", "chunks", "run"]

CHUNK_BYTES = 4 * 1024 * 1024
MAX_ERRORS = 50


@dataclass
class ImpactResult:
    """Counters over the portfolio; mergeable, so each worker returns one per chunk."""

    clients: int = 0
    affected: int = 0
    refused: Counter = field(default_factory=Counter)  # "old"/"new"/"both"
    segments: Counter = field(default_factory=Counter)  # (from, to)
    grades: Counter = field(default_factory=Counter)  # (from, to)
    proposals_changed: int = 0
    proposal_fields: Counter = field(default_factory=Counter)
    plans_changed: int = 0
    plan_fields: Counter = field(default_factory=Counter)
    warnings_added: Counter = field(default_factory=Counter)
    warnings_removed: Counter = field(default_factory=Counter)
    # (line, client_id, name, changes, facts) of the first affected clients
    listed: list[tuple[int, str, str, list[str], dict[str, Any]]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    lines: int = 0  # lines in the chunk (to turn chunk-relative line numbers absolute)

    def merge(self, other: ImpactResult, line_offset: int, cap: int) -> None:
        self.clients += other.clients
        self.affected += other.affected
        for name in ("refused", "segments", "grades", "proposal_fields", "plan_fields",
                     "warnings_added", "warnings_removed"):
            getattr(self, name).update(getattr(other, name))
        self.proposals_changed += other.proposals_changed
        self.plans_changed += other.plans_changed
        self.listed = sorted(self.listed + [(line + line_offset, *rest)
                                            for line, *rest in other.listed])[:cap]
        self.errors = sorted(self.errors + [(line + line_offset, msg)
                                            for line, msg in other.errors])[:MAX_ERRORS]


def _diff(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the fields that differ (one level into nested objects)."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if va == vb:
            continue
        if isinstance(va, dict) and isinstance(vb, dict) and not prefix:
            out += _diff(va, vb, f"{key}.")
        else:
            out.append(prefix + key)
    return out


def compare(r: ImpactResult, a: Outcome, b: Outcome) -> list[str]:
    """Count one client's outcomes into ``r``; the changes, in words, for the listing."""
    r.clients += 1
    if a.refused or b.refused:
        side = "both" if a.refused and b.refused else ("old" if a.refused else "new")
        r.refused[side] += 1
        return [] if side == "both" else [f"refused under the {side} version only"]
    changes = []
    r.segments[(a.segment, b.segment)] += 1
    r.grades[(a.grade, b.grade)] += 1
    if a.segment != b.segment:
        changes.append(f"segment {a.segment} → {b.segment}")
    if a.grade != b.grade:
        changes.append(f"risk grade {a.grade} → {b.grade}")
    if a.plan is not b.plan and a.plan != b.plan:
        fields = _diff(a.plan or {}, b.plan or {})
        r.plans_changed += 1
        r.plan_fields.update(fields)
        changes.append("service plan: " + ", ".join(fields))
    if a.proposal is not b.proposal and a.proposal != b.proposal:
        fields = _diff(a.proposal or {}, b.proposal or {})
        r.proposals_changed += 1
        r.proposal_fields.update(fields)
        changes.append("proposal: " + ", ".join(fields))
    if a.warnings is not b.warnings and a.warnings != b.warnings:
        added = sorted(set(b.warnings or ()) - set(a.warnings or ()))
        removed = sorted(set(a.warnings or ()) - set(b.warnings or ()))
        r.warnings_added.update(added)
        r.warnings_removed.update(removed)
        changes += [f"warning {c} added" for c in added] + [f"warning {c} removed" for c in removed]
    return changes


# --- streaming over byte ranges -----------------------------------------------------------


def chunks(path: Path, size: int = CHUNK_BYTES) -> list[tuple[int, int]]:
    """Byte ranges of whole lines, about ``size`` bytes each, covering the file."""
    total = path.stat().st_size
    bounds = [0]
    with path.open("rb") as f:
        while bounds[-1] < total:
            f.seek(min(bounds[-1] + size, total))
            f.readline()  # to the end of the line the cut fell in
            bounds.append(min(f.tell(), total))
    return list(itertools.pairwise(bounds))


_WORKER: dict[str, Any] = {}


def _init(policies_dir: str, policy_id: str, v_old: str, v_new: str, as_of: dt.date,
          cap: int) -> None:
    """Per worker process: load and compile the policies once."""
    from engine.casetest import make_decider

    decider = make_decider(policies_dir, "compiled")
    old = decider.select(as_of, {policy_id: v_old})
    new = decider.select(as_of, {policy_id: v_new})
    _WORKER.update(evaluator=PairEvaluator(decider.engine, old, new), cap=cap)


def _chunk(task: tuple[str, int, int]) -> tuple[int, int, ImpactResult]:
    path, start, end = task
    evaluator: PairEvaluator = _WORKER["evaluator"]
    cap: int = _WORKER["cap"]
    r = ImpactResult()
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    r.lines = len(lines)
    loads = json.loads
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            facts = loads(raw)
        except ValueError as exc:
            r.errors.append((number, f"invalid JSON: {exc}"))
            continue
        if not isinstance(facts, dict):
            r.errors.append((number, "not a JSON object"))
            continue
        a, b = evaluator.evaluate(facts, owned=True)
        changes = compare(r, a, b)
        if a.refused and b.refused and len(r.errors) < MAX_ERRORS:
            r.errors.append((number, a.refused))
        if changes:
            r.affected += 1
            if len(r.listed) < cap:
                facts = json.loads(raw)  # pristine: the evaluation added its outputs
                profile = facts.get("profile")
                name = profile.get("name", "") if isinstance(profile, dict) else ""
                r.listed.append((number, str(facts.get("client_id")), name, changes, facts))
    return start, end, r


def run(policies_dir: str | Path, policy_id: str, v_old: str, v_new: str,
        portfolio: str | Path, *, as_of: dt.date, workers: int | None = None, cap: int = 100,
        progress: Callable[[int], None] | None = None) -> ImpactResult:
    """Evaluate the portfolio under both versions; ``progress`` gets bytes done."""
    path = Path(portfolio)
    ranges = chunks(path)
    workers = max(1, workers or os.cpu_count() or 1)
    init_args = (str(policies_dir), policy_id, v_old, v_new, as_of, cap)
    tasks = [(str(path), start, end) for start, end in ranges]

    def results() -> Iterator[tuple[int, int, ImpactResult]]:
        if workers == 1 or len(tasks) == 1:
            _init(*init_args)
            yield from map(_chunk, tasks)
            return
        # spawn, not fork: safe beside threads (durable_rules, the server); each worker
        # loads and compiles the policies once. imap keeps file order, so each chunk is
        # merged (and dropped) as it arrives: memory does not grow with the portfolio.
        with get_context("spawn").Pool(workers, _init, init_args) as pool:
            yield from pool.imap(_chunk, tasks)

    total = ImpactResult()
    for start, end, part in results():
        total.merge(part, total.lines, cap)
        total.lines += part.lines
        if progress:
            progress(end - start)
    return total


def ordered_matrix(counter: Counter, order: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """``{from: {to: n}}`` with rows and columns in policy order."""
    seen = {k for pair in counter for k in pair if k is not None}
    labels = [x for x in order if x in seen] + sorted(seen - set(order))
    return {f: {t: counter.get((f, t), 0) for t in labels} for f in labels}


SEGMENT_ORDER = SEGMENTS
GRADE_ORDER = RISK_GRADES


def _decide(decider: Any, facts: dict[str, Any], as_of: dt.date,
            pins: dict[str, str]) -> dict[str, Any]:
    from engine.errors import DecisionRefused

    try:
        decision = decider.decide(facts, as_of=as_of, pins=pins, explain=False)
    except DecisionRefused as exc:
        return {"refused": [e.to_json() for e in exc.errors]}
    return decision.model_dump(mode="json")


def report(result: ImpactResult, *, policy_id: str, v_old: str, v_new: str, as_of: dt.date,
           portfolio: str, decider: Any, seconds: float | None = None) -> dict[str, Any]:
    """The JSON report; the listed clients get their whole before/after decisions."""
    clients = []
    for line, client_id, name, changes, facts in result.listed:
        clients.append({
            "line": line, "client_id": client_id, "name": name, "changes": changes,
            "before": _decide(decider, facts, as_of, {policy_id: v_old}),
            "after": _decide(decider, facts, as_of, {policy_id: v_new}),
        })
    return {
        "policy": policy_id, "from": v_old, "to": v_new, "as_of": as_of.isoformat(),
        "portfolio": portfolio, "clients": result.clients, "affected": result.affected,
        "seconds": None if seconds is None else round(seconds, 2),
        "refused": {k: result.refused.get(k, 0) for k in ("old", "new", "both")},
        "segments": ordered_matrix(result.segments, SEGMENT_ORDER),
        "risk_grades": ordered_matrix(result.grades, GRADE_ORDER),
        "service_plans": {"changed": result.plans_changed,
                          "fields": dict(result.plan_fields.most_common())},
        "proposals": {"changed": result.proposals_changed,
                      "fields": dict(result.proposal_fields.most_common())},
        "warnings": {"added": dict(sorted(result.warnings_added.items())),
                     "removed": dict(sorted(result.warnings_removed.items()))},
        "listed": clients,
        "more_affected": max(0, result.affected - len(clients)),
        "errors": [{"line": line, "message": msg} for line, msg in result.errors],
    }


def summary(rep: dict[str, Any]) -> list[str]:
    """The terminal summary: matrices and change counts as plain-text tables."""
    out = [f"impact of {rep['policy']} {rep['from']} → {rep['to']} on {rep['clients']:,} "
           f"clients (as of {rep['as_of']}): {rep['affected']:,} affected"]
    for title, matrix in (("segment", rep["segments"]), ("risk grade", rep["risk_grades"])):
        labels = list(matrix)
        width = max([len(title) + 8, *map(len, labels)]) + 2
        out.append("")
        out.append(f"{title + ' from ↓ to →':<{width}}" + "".join(f"{t:>{width}}" for t in labels))
        for f in labels:
            out.append(f"{f:<{width}}" + "".join(f"{matrix[f][t]:>{width},}" for t in labels))
    for title, block in (("service plans", rep["service_plans"]), ("proposals", rep["proposals"])):
        out.append("")
        out.append(f"{title} changed: {block['changed']:,}")
        out += [f"  {name:<32}{n:>10,}" for name, n in block["fields"].items()]
    out.append("")
    out.append(f"{'warnings':<34}{'added':>10}{'removed':>10}")
    added, removed = rep["warnings"]["added"], rep["warnings"]["removed"]
    for code in sorted(set(added) | set(removed)):
        plus, minus = added.get(code, 0), removed.get(code, 0)
        out.append(f"  {code:<32}{f'+{plus:,}' if plus else '0':>10}"
                   f"{f'-{minus:,}' if minus else '0':>10}")
    if not added and not removed:
        out.append("  none")
    refused = rep["refused"]
    if any(refused.values()):
        out.append(f"refused: {refused['both']:,} under both versions, {refused['old']:,} only "
                   f"under {rep['from']}, {refused['new']:,} only under {rep['to']}")
    return out
