"""Policy test cases: load case files, decide each case, check its expectations.

One runner, two front doors: ``crmc test`` and ``tests/test_policy_cases.py`` both call
:func:`load_suite` and :func:`run_case`, so a case means the same thing in either.

A case file (``schemas/testcase.schema.json``) is validated with its source marks, so a
problem prints as ``file:line:col: code: $.path: message``. Facts come inline, from a
file, or from a base document varied with ``set``/``unset`` by dotted path. Expectations
address the decision (contract §2) by dotted path and are checked by
:mod:`engine.casematch`.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from engine.casematch import MISSING, Mismatch, check
from engine.errors import DecisionRefused, NoPolicyInForce, Problem, UnknownPolicyVersion
from engine.load import Document, LoadError, load_file

__all__ = ["SCHEMA_PATH", "Case", "CaseResult", "Suite", "discover", "fired_rules",
           "load_registry", "load_suite", "make_decider", "run_case", "run_suite"]

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "testcase.schema.json"
CASE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Case:
    """A ready-to-run case: its facts are built, its source location kept for reports."""

    name: str
    file: str
    line: int
    facts: Mapping[str, Any]
    as_of: dt.date | None = None
    pins: Mapping[str, str] = field(default_factory=dict)
    expect: Mapping[str, Any] = field(default_factory=dict)
    expect_lines: Mapping[str, int] = field(default_factory=dict)
    error: tuple[str, ...] | None = None

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class CaseResult:
    case: Case
    passed: bool
    failures: list[Mismatch] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)  # "policy@version rule", in trace order
    decision: dict[str, Any] | None = None  # JSON form, with trace
    error: str | None = None  # the refusal, when the decision was refused

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.case.name,
            "file": self.case.file,
            "line": self.case.line,
            "passed": self.passed,
            "failures": [m.to_json() for m in self.failures],
            "fired": self.fired,
            "error": self.error,
        }

    def report(self) -> list[str]:
        """What a failure prints: the case's file:line, each expectation (at its own line)
        expected vs actual, and the rules that fired."""
        case = self.case
        lines = [f"FAIL {case.where}: {case.name}"]
        for m in self.failures:
            lines.append(f"  {case.file}:{m.line}: {m.path}: expected {_show(m.expected)}, "
                         f"got {_show(m.actual)}")
        if self.fired:
            lines.append("  fired: " + "; ".join(self.fired))
        elif self.error:
            lines.append("  fired: nothing (the decision was refused)")
        return lines


def _show(value: Any) -> str:
    return "<missing>" if value is MISSING else json.dumps(value, ensure_ascii=False)


@dataclass
class Suite:
    cases: list[Case] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


# --- loading ----------------------------------------------------------------------------


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """Case files under the given files/directories (recursively), sorted, deduplicated."""
    found: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in CASE_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            problems.append(Problem(str(path), 0, 0, "not-found", "no such file or directory"))
    unique = list(dict.fromkeys(found))
    return unique, problems


def load_suite(paths: Iterable[str | Path]) -> Suite:
    """Every case of every case file; problems are collected, never raised."""
    files, problems = discover(paths)
    suite = Suite(problems=problems, files=[_display(p) for p in files])
    for path in files:
        cases, file_problems = _load_file(path)
        suite.cases += cases
        suite.problems += file_problems
    suite.problems.sort()
    return suite


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _load_file(path: Path) -> tuple[list[Case], list[Problem]]:
    name = _display(path)
    try:
        doc = load_file(path, display=name)
    except LoadError as exc:
        return [], [exc.problem]
    errors = _schema_errors(doc.data)
    problems = [_schema_problem(doc, e) for e in errors]
    # A problem inside one case drops that case; anything else drops the whole file.
    broken = {e.absolute_path[1] for e in errors
              if len(e.absolute_path) >= 2 and e.absolute_path[0] == "cases"}
    if len(broken) < len(errors) and any(
            len(e.absolute_path) < 2 or e.absolute_path[0] != "cases" for e in errors):
        return [], problems
    data = doc.data
    defaults = data.get("defaults", {})
    bases: dict[str, Any] = data.get("bases", {})
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(data["cases"]):
        here = ("cases", i)
        if i in broken:
            continue
        if raw["name"] in seen:
            problems.append(doc.problem((*here, "name"), "duplicate-case",
                                        f"case name already used at line {seen[raw['name']]}"))
            continue
        seen[raw["name"]] = doc.loc(here).line
        facts, facts_problems = _facts(doc, path, here, raw, bases)
        problems += facts_problems
        if facts is None:
            continue
        as_of = raw.get("as_of", defaults.get("as_of"))
        cases.append(Case(
            name=raw["name"],
            file=name,
            line=doc.loc(here).line,
            facts=facts,
            as_of=dt.date.fromisoformat(as_of) if as_of else None,
            pins={**defaults.get("pins", {}), **raw.get("pins", {})},
            expect=raw.get("expect", {}),
            expect_lines={k: doc.loc((*here, "expect", k), key=True).line
                          for k in raw.get("expect", {})},
            error=_as_tuple(raw.get("error")),
        ))
    return cases, problems


# Friendlier words for the case-level oneOf choices than "is not valid under any of ...".
_ONE_OF = {
    frozenset({"facts", "file", "base"}): "give exactly one of facts, file and base",
    frozenset({"expect", "error"}): "give exactly one of expect and error",
}


def _schema_errors(data: Any) -> list[jsonschema.ValidationError]:
    errors = list(_validator().iter_errors(data))
    # An unexpected key (a typo) also breaks the oneOf choices; report the typo alone.
    typo_at = {tuple(e.absolute_path) for e in errors if e.validator == "additionalProperties"}
    errors = [e for e in errors
              if not (e.validator == "oneOf" and tuple(e.absolute_path) in typo_at)]
    return sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])


def _schema_problem(doc: Document, err: jsonschema.ValidationError) -> Problem:
    if err.validator == "oneOf" and isinstance(err.instance, dict):
        keys = frozenset(k for branch in err.validator_value for k in branch.get("required", ()))
        if keys in _ONE_OF:
            return doc.problem(list(err.absolute_path), "testcase-schema", _ONE_OF[keys])
    # other oneOf/anyOf failures: the most specific sub-error jsonschema can pick.
    best = jsonschema.exceptions.best_match([err]) if err.context else err
    return doc.problem(list(best.absolute_path), "testcase-schema", best.message)


def _as_tuple(value: str | list[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


def _facts(doc: Document, path: Path, here: tuple, raw: Mapping[str, Any],
           bases: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Build the case's facts document: inline, from a file, or a varied base."""
    if "facts" in raw:
        facts = copy.deepcopy(raw["facts"])
    else:
        key = "file" if "file" in raw else "base"
        ref = raw[key]
        source: Any = bases.get(ref, ref) if key == "base" else ref
        if isinstance(source, dict):
            facts = copy.deepcopy(source)
        else:
            try:
                facts = copy.deepcopy(_read_facts(str((path.parent / source).resolve())))
            except (OSError, ValueError, LoadError) as exc:
                detail = exc.problem.message if isinstance(exc, LoadError) else str(exc)
                return None, [doc.problem((*here, key), "facts-file",
                                          f"cannot read facts {source!r}: {detail}")]
        if not isinstance(facts, dict):
            return None, [doc.problem((*here, key), "facts-file",
                                      f"facts {ref!r} is not a JSON object")]
    for dotted, value in raw.get("set", {}).items():
        parts = dotted.split(".")
        node = facts
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = copy.deepcopy(value)
    for dotted in raw.get("unset", []):
        parts = dotted.split(".")
        node = facts
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or parts[-1] not in node:
            i = raw["unset"].index(dotted)
            return None, [doc.problem((*here, "unset", i), "unset-missing",
                                      f"{dotted} is not in the facts, nothing to unset")]
        del node[parts[-1]]
    return facts, []


@cache
def _read_facts(path: str) -> Any:
    """A facts file, parsed once per run (many cases vary the same base)."""
    if path.endswith(".json"):
        return json.loads(Path(path).read_text(encoding="utf-8"))
    return load_file(path).data


# --- running ----------------------------------------------------------------------------


def fired_rules(decision: Mapping[str, Any]) -> list[str]:
    """``policy@version rule`` for every rule whose condition held, from the trace."""
    return [f"{t['policy']}@{t['version']} {t['rule']}"
            for t in decision.get("trace") or () if t.get("fired")]


def run_case(case: Case, decider: Any) -> CaseResult:
    """Decide the case (with trace) and check its expectations; never raises for a case."""
    try:
        decision = decider.decide(case.facts, as_of=case.as_of, pins=dict(case.pins) or None,
                                  explain=True, decision_id=f"case:{case.name}"[:64])
    except (DecisionRefused, UnknownPolicyVersion, NoPolicyInForce) as exc:
        return _refused(case, exc)
    out = decision.model_dump(mode="json")
    fired = fired_rules(out)
    if case.error is not None:
        miss = Mismatch("error", case.expect_lines.get("error", case.line),
                        list(case.error), "a decision (not refused)")
        return CaseResult(case, False, [miss], fired, out)
    failures = [m for path, expected in case.expect.items()
                if (m := check(out, path, expected, case.expect_lines.get(path, case.line)))]
    return CaseResult(case, not failures, failures, fired, out)


def _refused(case: Case, exc: Exception) -> CaseResult:
    if isinstance(exc, DecisionRefused):
        texts = [f"{e.path} {e.path.strip('/').replace('/', '.')} {e.message}" for e in exc.errors]
    else:
        texts = [str(exc)]
    summary = str(exc)
    if case.error is None:
        miss = Mismatch("decision", case.line, "a decision", f"refused: {summary}")
        return CaseResult(case, False, [miss], error=summary)
    absent = [s for s in case.error if not any(s in t for t in texts)]
    if absent:
        miss = Mismatch("error", case.line, f"errors mentioning {absent}", summary)
        return CaseResult(case, False, [miss], error=summary)
    return CaseResult(case, True, error=summary)


def run_suite(cases: Sequence[Case], decider: Any) -> list[CaseResult]:
    return [run_case(case, decider) for case in cases]


def make_decider(policies_dir: str | Path, engine: str) -> Any:
    """A Decider over the policy versions in ``policies_dir`` (raises PolicyError)."""
    from engine.evaluate import Decider

    return Decider(load_registry(policies_dir), engine)


def load_registry(policies_dir: str | Path) -> Any:
    """The policy registry (``policies/tests`` holds test cases and is skipped by it)."""
    from engine.registry import Registry

    return Registry.load(policies_dir, lock=True)  # a deleted lock is refused, not skipped
