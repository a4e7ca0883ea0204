"""Replay: re-decide a logged request with the policy versions it was decided with.

For each policy version the record names, the registry's version of that id and version
is loaded and its sha256 compared with the recorded one: a difference means the policy
file was edited after it was used (replay still runs, and says so). The request is then
decided again — same facts, same ``as_of``, every recorded version pinned, same
``explain``, same engine unless another is asked for — and the result is compared with
the recorded decision ignoring only ``decision_id`` and ``decided_at`` (and ``engine``
when replaying on another engine on purpose). Numbers compare by value (5 == 5.0), as in
the canonical JSON that was hashed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import DecisionRefused, NoPolicyInForce, UnknownPolicyVersion
from engine.evaluate import Decider
from engine.model import RiskPolicy, SwotPolicy, leaves, rule_tables
from engine.registry import Registry
from engine.seam import LoadedPolicy

__all__ = ["ReplayResult", "Replayer", "compare", "facts_read", "format_result", "masked_reads"]

IGNORED = ("decision_id", "decided_at")


@dataclass
class ReplayResult:
    decision_id: str
    seq: int | None
    status: str  # identical | mismatch | policy_changed | unknown_policy | not_replayable
    differences: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.status == "identical"

    def to_json(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "seq": self.seq,
            "status": self.status,
            "identical": self.identical,
            "differences": self.differences,
            "notes": self.notes,
        }


def _normal(value: Any) -> Any:
    """The value as its canonical JSON reads back: integral floats become ints."""
    kind = type(value)
    if kind is dict:
        return {k: _normal(v) for k, v in value.items()}
    if kind is list:
        return [_normal(v) for v in value]
    if kind is float and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def compare(recorded: Any, replayed: Any, path: str = "") -> list[dict[str, Any]]:
    """Differences as JSON pointers with the recorded and replayed values."""
    if isinstance(recorded, dict) and isinstance(replayed, dict):
        out = []
        for key in sorted(set(recorded) | set(replayed)):
            sub = f"{path}/{key}"
            if key not in replayed:
                out.append({"path": sub, "recorded": recorded[key], "replayed": "(absent)"})
            elif key not in recorded:
                out.append({"path": sub, "recorded": "(absent)", "replayed": replayed[key]})
            else:
                out += compare(recorded[key], replayed[key], sub)
        return out
    if isinstance(recorded, list) and isinstance(replayed, list):
        out = []
        for i in range(max(len(recorded), len(replayed))):
            if i >= len(replayed):
                out.append({"path": f"{path}/{i}", "recorded": recorded[i], "replayed": "(absent)"})
            elif i >= len(recorded):
                out.append({"path": f"{path}/{i}", "recorded": "(absent)", "replayed": replayed[i]})
            else:
                out += compare(recorded[i], replayed[i], f"{path}/{i}")
        return out
    if recorded == replayed and type(recorded) is type(replayed):
        return []
    return [{"path": path or "/", "recorded": recorded, "replayed": replayed}]


# Read by the pipeline for every version whatever its rules say: the currency check
# (every version has a currency). Risk versions also read the tenor (facts_read).
_ALWAYS_READ = ("request.currency",)


def facts_read(lp: LoadedPolicy) -> set[str]:
    """Dotted fact paths a policy version reads: its rules' leaves, its SWOT indicators'
    facts, its ``requires`` (and what the pipeline reads for every version of its kind)."""
    policy = lp.policy
    paths = {*_ALWAYS_READ, *policy.requires}
    for rules in rule_tables(policy).values():
        paths |= {leaf.fact for rule in rules for leaf in leaves(rule.when)}
    if isinstance(policy, SwotPolicy):
        paths |= {indicator.fact for indicator in policy.indicators}
    if isinstance(policy, RiskPolicy):
        paths.add("request.tenor_years")
    return paths


def _pointer_path(pointer: str) -> str:
    """``/financials/dscr`` (a masked pointer, relative to the facts) as ``financials.dscr``."""
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.lstrip("/").split("/")]
    return ".".join(tokens)


def masked_reads(masked: list[str], read: set[str]) -> list[str]:
    """The masked pointers that are, contain or lie inside a fact the versions read."""
    def overlaps(path: str) -> bool:
        return any(path == r or r.startswith(path + ".") or path.startswith(r + ".")
                   for r in read)
    return [pointer for pointer in masked if overlaps(_pointer_path(pointer))]


class Replayer:
    """Replays records against one registry; one Decider per engine, prepared once."""

    def __init__(self, registry: Registry, engine: str | None = None):
        self.registry = registry
        self.engine = engine  # None: the engine each record names
        self._deciders: dict[str, Decider] = {}
        self._read: dict[tuple[str, str], set[str]] = {}

    def _reads(self, lp: LoadedPolicy) -> set[str]:
        """:func:`facts_read`, once per version (a long replay meets each one often)."""
        if (lp.key, lp.sha256) not in self._read:
            self._read[(lp.key, lp.sha256)] = facts_read(lp)
        return self._read[(lp.key, lp.sha256)]

    def _decider(self, name: str) -> Decider:
        if name not in self._deciders:
            self._deciders[name] = Decider(self.registry, name)
        return self._deciders[name]

    def _check_policies(self, record: Mapping[str, Any], result: ReplayResult
                        ) -> list[LoadedPolicy]:
        """The recorded versions as the registry has them; notes what changed or is gone."""
        found: list[LoadedPolicy] = []
        for ref in record.get("policies") or []:
            try:
                loaded = self.registry.get(ref["id"], ref["version"])
            except UnknownPolicyVersion:
                result.status = "unknown_policy"
                result.notes.append(
                    f"policy {ref['id']} {ref['version']} is no longer in the policy directory"
                )
                continue
            found.append(loaded)
            if loaded.sha256 != ref.get("sha256"):
                if result.status == "identical":
                    result.status = "policy_changed"
                result.notes.append(
                    f"policy {ref['id']} {ref['version']} changed after it was used: recorded "
                    f"sha256 {ref.get('sha256')}, {loaded.path} now has {loaded.sha256}"
                )
        return found

    def replay(self, record: Mapping[str, Any]) -> ReplayResult:
        decision = record["decision"]
        result = ReplayResult(record["decision_id"], record.get("seq"), "identical")
        versions = self._check_policies(record, result)
        if result.status == "unknown_policy":
            return result
        # A masked fact that a version reads would be decided on as "[masked]": the replay
        # would report a mismatch that is not one.
        masked = record.get("masked") or []
        hidden = masked and masked_reads(masked, set().union(*map(self._reads, versions)))
        if hidden:
            result.status = "not_replayable"
            result.notes.append(f"cannot decide again: the masked fields {', '.join(hidden)} "
                                f"are read by the recorded policy versions and not stored")
            return result
        request = record.get("request") or {}
        engine = self.engine or record.get("engine") or decision.get("engine") or "durable"
        ignored = IGNORED + (("engine",) if engine != decision.get("engine") else ())
        if engine != decision.get("engine"):
            result.notes.append(f"replayed on {engine}; recorded on {decision.get('engine')}")
        pins = {ref["id"]: ref["version"] for ref in record.get("policies") or []}
        try:
            replayed = self._decider(engine).decide(
                request.get("facts") or {},
                as_of=dt.date.fromisoformat(decision["as_of"]),
                pins=pins,
                explain=bool(request.get("explain")),
                decision_id=decision["decision_id"],
                decided_at=dt.datetime.fromisoformat(decision["decided_at"]),
            )
        except (DecisionRefused, NoPolicyInForce, UnknownPolicyVersion) as exc:
            masked = record.get("masked") or []
            why = f"the masked fields {', '.join(masked)} are not stored" if masked else str(exc)
            result.status = "not_replayable"
            result.notes.append(f"cannot decide again: {why} ({exc})")
            return result
        old = {k: v for k, v in decision.items() if k not in ignored}  # read from canonical
        new = {
            k: v for k, v in _normal(replayed.model_dump(mode="json")).items() if k not in ignored
        }
        # Strict and fast: equal JSON text (types included, 1 vs true differ) means identical.
        if json.dumps(old, sort_keys=True) != json.dumps(new, sort_keys=True):
            result.differences = compare(old, new) or [
                {"path": "/", "recorded": "(differs in JSON form)", "replayed": ""}
            ]
        if result.differences and result.status == "identical":
            result.status = "mismatch"
        return result


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def format_result(result: ReplayResult) -> str:
    """One line for an identical replay; otherwise the notes and a recorded → replayed diff."""
    head = f"{result.decision_id} (seq {result.seq}): {result.status.replace('_', ' ')}"
    lines = [head] + [f"  note: {n}" for n in result.notes]
    lines += [
        f"  {d['path']}: {_short(d['recorded'])} → {_short(d['replayed'])}"
        for d in result.differences
    ]
    return "\n".join(lines) + "\n"
