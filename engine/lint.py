"""``crmc lint``: static analysis of policy versions, exact over intervals and enum sets.

Each rule condition becomes a region of the facts space (:mod:`engine.lint_space`), and
the checks are set algebra on regions — no sampling, so a finding is a proof and comes with
a concrete counter-example facts document where one helps.

Finding codes (severity: ``error`` unless noted):

==================  ==========================================================================
``shadowed``        a first-match rule no client can reach: earlier rules cover it
``gap``             facts a first-match table without ``default`` gives no outcome for
``overlap``         (info, only with ``--overlaps``) two first-match rules with different
                    outcomes both match some facts: their order decides
``duplicate``       a collect rule with the same condition as an earlier one (triggers: and
                    the same code; adjustments: and an outcome on the same keys)
``contradiction``   a condition (or part of one) whose own tests exclude each other
``unsatisfiable``   a condition (or part) no valid facts document can meet: outside the facts
                    schema's range or enumeration, an integer fact between two integers, ...
``band-gap``        values of an indicator's fact that no band / map entry scores, with no
                    else band and no ``otherwise``
``missing-unhandled`` (warning) a rule that fires *because* a fact is missing, or a quadrant
                    that drops out of the SWOT score when one optional fact is missing
``no-actions``      a trigger with a severity whose actions are all blank
``unknown-fact``    a fact path that does not exist (with "did you mean")
``invalid``         the file is not a valid policy (``crmc validate`` says why)
==================  ==========================================================================

Why overlaps are opt-in: classification, risk and proposal-base tables are *first match
wins* by definition (DMN hit policy "F"), and their authors express priority through order
(a default history beats a thin DSCR). An overlap there is the mechanism, not a defect; the
defect is an overlap so complete that a rule can never win, which ``shadowed`` reports.
``--overlaps`` lists every place where order decides, for reviewing a reordering.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from engine.errors import Problem
from engine.load import Document
from engine.model import Policy, PolicyDocument
from engine.validate import check_file

__all__ = ["CODES", "Example", "Finding", "Target", "lint_file", "lint_files", "lint_paths",
           "load_target", "policy_files"]

CODES = {
    "shadowed": "error", "gap": "error", "overlap": "info", "duplicate": "error",
    "contradiction": "error", "unsatisfiable": "error", "band-gap": "error",
    "missing-unhandled": "warning", "no-actions": "error", "unknown-fact": "error",
    "invalid": "error", "too-complex": "info",
}
OUTPUTS = ("segment", "risk.grade", "swot.score", "swot.grade")
EXAMPLE_CLIENT = "lint-example"
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
_FIRST_MATCH_KINDS = {"classification": {"segment": "general"}, "risk": {"grade": "weak"},
                      "proposal": {"tenor_years": 1, "rate_type": "fixed",
                                   "interest_only_years": 0, "repayment": "amortising"}}
_ADAPTER: TypeAdapter[Any] = TypeAdapter(PolicyDocument)


@dataclass(frozen=True)
class Example:
    """A counter-example: a valid facts document (plus the earlier steps' outputs it
    assumes) and what the engines must do on it — the claim a test can check."""

    facts: dict[str, Any]
    outputs: dict[str, Any]
    table: str
    matches: tuple[str, ...] = ()  # rule ids whose conditions hold
    misses: tuple[str, ...] = ()  # rule ids whose conditions do not hold

    def text(self) -> str:
        out = json.dumps(self.facts, ensure_ascii=False, separators=(", ", ": "))
        if self.outputs:
            out += " with " + ", ".join(f"{k}={json.dumps(v)}" for k, v in self.outputs.items())
        return out

    def to_json(self) -> dict[str, Any]:
        return {"facts": self.facts, "outputs": self.outputs, "table": self.table,
                "matches": list(self.matches), "misses": list(self.misses)}


@dataclass(frozen=True, order=True)
class Finding:
    problem: Problem
    severity: str = field(default="error", compare=False)
    example: Example | None = field(default=None, compare=False)

    @property
    def code(self) -> str:
        return self.problem.code

    @property
    def line(self) -> int:
        return self.problem.line

    def __str__(self) -> str:
        return str(self.problem)

    def to_json(self) -> dict[str, Any]:
        out = self.problem.to_json()
        out["severity"] = self.severity
        if self.example is not None:
            out["example"] = self.example.to_json()
        return out


def example_document(point: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a point (fact path -> value, ABSENT left out) into a nested facts document
    and the outputs of earlier steps it assumes."""
    from engine.lint_space import ABSENT

    facts: dict[str, Any] = {"client_id": EXAMPLE_CLIENT}
    outputs: dict[str, Any] = {}
    for path, value in sorted(point.items()):
        if value is ABSENT:
            continue
        if path in OUTPUTS:
            outputs[path] = value
        elif "." in path:
            group, name = path.split(".", 1)
            facts.setdefault(group, {})[name] = value
        else:
            facts[path] = value
    return facts, outputs


# --- files ----------------------------------------------------------------------------------


def policy_files(paths: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """Policy version files under ``paths`` (``<dir>/<policy-id>/<version>.yaml`` or
    ``<dir>/<version>.yaml`` for a directory; a file is taken as given), and the paths
    that do not exist."""
    found: list[Path] = []
    missing: list[str] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            # a policies directory (<dir>/<policy-id>/<version>.yaml) or one policy's
            found.extend(p for p in sorted([*path.glob("*.yaml"), *path.glob("*/*.yaml")])
                         if p.parent.name != "tests" and _SEMVER.fullmatch(p.stem))
        else:
            missing.append(str(path))
    return found, missing


def _without_default(doc: Document) -> Policy | None:
    """A first-match policy whose only fault is a missing ``default``: the gap analysis
    then shows what a default would have to catch (``crmc validate`` still rejects it)."""
    data = doc.data
    if not isinstance(data, dict) or "default" in data \
            or data.get("kind") not in _FIRST_MATCH_KINDS:
        return None
    try:
        return _ADAPTER.validate_python({**data, "default": _FIRST_MATCH_KINDS[data["kind"]]})
    except ValidationError:
        return None


@dataclass
class Target:
    """A policy file as lint sees it: the located document and the policy model (for a
    first-match policy without ``default``: with a stand-in default, ``has_default`` False)."""

    file: str
    document: Document | None
    policy: Policy | None
    has_default: bool
    problems: list[Problem]


def load_target(path: Path, *, display: str | None = None) -> Target:
    checked = check_file(path, display=display)
    doc, policy = checked.document, checked.policy
    has_default = True
    if doc is not None and policy is None:
        policy = _without_default(doc)
        has_default = policy is None
    return Target(checked.file, doc, policy, has_default, checked.problems)


def lint_file(path: Path, *, overlaps: bool = False, display: str | None = None) -> list[Finding]:
    """Every finding of one policy version file."""
    from engine.lint_rules import lint_policy

    target = load_target(path, display=display)
    if target.document is None or target.policy is None:
        first = sorted(target.problems)[0]
        return [Finding(Problem(first.file, first.line, first.col, "invalid",
                                f"not a valid policy ({first.code}: {first.message}); "
                                f"crmc validate lists every problem", first.json_path))]
    return sorted(lint_policy(target.document, target.policy, has_default=target.has_default,
                              overlaps=overlaps))


def lint_files(files: Iterable[Path], *, overlaps: bool = False) -> list[Finding]:
    """Findings of the given policy files (from :func:`policy_files`), sorted."""
    return sorted(f for path in files for f in lint_file(path, overlaps=overlaps))


def lint_paths(paths: Iterable[Path], *, overlaps: bool = False) -> tuple[list[Finding], list[str]]:
    """Findings of every policy file under ``paths``, sorted; and the paths not found."""
    files, missing = policy_files(list(paths))
    return lint_files(files, overlaps=overlaps), missing
