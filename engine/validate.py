"""Validate one policy version file: JSON Schema first, then semantic checks.

Stages, each adding located :class:`~engine.errors.Problem` values (never stopping at
the first): load (:mod:`engine.load`) → schema (jsonschema Draft 2020-12, its own error
paths) → model (pydantic) → semantics (this module). The full semantic checks need a
document that passed the schema; on one that did not, the conditions the schema did not
complain about are still checked (facts, operators, step order, unique ids), and the
file-name checks run whenever the fields are readable. Checks across versions live in
:mod:`engine.registry` (``effective-overlap``, ``kind-conflict``) and :mod:`engine.lock`
(``lock-changed``, ``lock-missing``, ``lock-orphan``, ``lock-format``).

Error codes: ``yaml-syntax yaml-encoding yaml-too-large yaml-duplicate-key yaml-alias
yaml-tag yaml-number yaml-key`` (loading), ``schema``, ``model`` (a schema/model gap;
should not happen), ``io``, and the semantic codes in :data:`SEMANTIC_CODES`.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import TypeAdapter, ValidationError

from engine.errors import Problem
from engine.factspace import FactInfo, FactSpace, default_factspace
from engine.load import Document, JsonPath, LoadError, json_path, load_file
from engine.model import (
    OPERATORS,
    PIPELINE,
    QUADRANTS,
    RISK_GRADES,
    SEGMENTS,
    AllOf,
    AnyOf,
    Band,
    ClassificationPolicy,
    Condition,
    Leaf,
    NotOf,
    Policy,
    PolicyDocument,
    RiskPolicy,
    SwotPolicy,
    rule_tables,
)
from engine.policy_schema import SCHEMA_PATH

__all__ = ["SEMANTIC_CODES", "Checked", "check_document", "check_file", "policy_validator"]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(PolicyDocument)


@dataclass
class Checked:
    """The outcome of checking one file: the document and policy when they could be built."""

    file: str
    document: Document | None
    policy: Policy | None
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


@cache
def policy_validator() -> jsonschema.Draft202012Validator:
    """The validator for ``schemas/policy.schema.json`` (with date format checking)."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def check_file(path: str | Path, *, display: str | None = None,
               factspace: FactSpace | None = None) -> Checked:
    """Load and check one version file (``<dir>/<policy-id>/<version>.yaml``)."""
    path = Path(path)
    name = display or str(path)
    try:
        doc = load_file(path, display=name)
    except LoadError as exc:
        return Checked(name, None, None, [exc.problem])
    except OSError as exc:
        return Checked(name, None, None, [Problem(name, 0, 0, "io", exc.strerror or str(exc))])
    return check_document(doc, file_path=path, factspace=factspace)


def check_document(doc: Document, *, file_path: Path | None = None,
                   factspace: FactSpace | None = None) -> Checked:
    """Check a loaded document. ``file_path`` enables the version/id vs file-name checks."""
    fs = factspace or default_factspace()
    problems: list[Problem] = []
    if not isinstance(doc.data, dict):
        what = "empty" if doc.data is None else f"a {type(doc.data).__name__}"
        problems.append(doc.problem((), "schema", f"a policy file is a mapping of keys; "
                                                  f"this document is {what}"))
        return Checked(doc.file, doc, None, problems)
    if file_path is not None:
        problems.extend(_file_name_problems(doc, file_path))
    schema_problems = [p for error in policy_validator().iter_errors(doc.data)
                       for p in _schema_problems(doc, error)]
    if schema_problems:
        partial = partial_semantics(doc, fs, schema_problems)
        return Checked(doc.file, doc, None, problems + schema_problems + partial)
    try:
        policy = _ADAPTER.validate_python(doc.data)
    except ValidationError as exc:
        # The schema is generated from the model, so this is a gap in the generator.
        for err in exc.errors():
            problems.append(doc.problem(tuple(err["loc"][1:]), "model", err["msg"]))
        return Checked(doc.file, doc, None, problems)
    problems.extend(check_semantics(doc, policy, fs))
    return Checked(doc.file, doc, policy, problems)


# --- schema errors --------------------------------------------------------------------------


def _schema_problems(doc: Document, error: jsonschema.ValidationError) -> list[Problem]:
    path: JsonPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    validator = error.validator
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(schema.get("properties", {}))
        return [
            doc.problem((*path, key), "schema", f"unknown key '{key}'", key=True,
                        suggestion=_closest(key, known))
            for key in sorted(set(error.instance) - set(known))
        ]
    if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        allowed = schema.get("enum", [])
        return [doc.problem((*path, error.instance), "schema",
                            f"'{error.instance}' is not allowed here; expected one of "
                            f"{', '.join(map(str, allowed))}", key=True,
                            suggestion=_closest(error.instance, allowed))]
    if validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return [doc.problem(path, "schema", f"missing required key '{k}'") for k in missing]
    if validator in ("minProperties", "maxProperties") and "fact" in schema.get("properties", {}):
        ops = [k for k in error.instance if k != "fact"]
        found = f"found {', '.join(ops)}" if ops else "found none"
        return [doc.problem(path, "schema", f"a condition leaf has 'fact' and exactly one "
                                            f"operator ({', '.join(OPERATORS)}); {found}")]
    suggestion = None
    if validator == "enum" and isinstance(error.instance, str):
        suggestion = _closest(error.instance, [str(v) for v in error.validator_value])
    return [doc.problem(path, "schema", error.message, suggestion=suggestion)]


def _closest(word: str, candidates: list[str]) -> str | None:
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return match[0] if match else None


def _file_name_problems(doc: Document, file_path: Path) -> list[Problem]:
    """``version`` equals the file name, ``id`` equals the directory name."""
    problems = []
    version, policy_id = doc.data.get("version"), doc.data.get("id")
    if isinstance(version, str) and file_path.suffix == ".yaml" and version != file_path.stem:
        problems.append(doc.problem(("version",), "version-name",
                                    f"version '{version}' does not match the file name "
                                    f"'{file_path.name}' (expected {version}.yaml)"))
    directory = file_path.parent.name
    if isinstance(policy_id, str) and policy_id != directory:
        problems.append(doc.problem(("id",), "id-directory",
                                    f"policy id '{policy_id}' does not match its directory "
                                    f"'{directory}'"))
    return problems


# --- semantic checks ------------------------------------------------------------------------

SEMANTIC_CODES = {
    "duplicate-id": "a rule, trigger or indicator id is used twice in one version",
    "unknown-fact": "a fact path that is neither a client fact nor a step output",
    "step-order": "a rule reads the output of its own or a later pipeline step",
    "operator-type": "an ordering operator (lt, lte, gt, gte, between) on a non-number",
    "value-type": "a compared value of the wrong type, or outside the fact's enum",
    "between-order": "between [low, high] with low > high",
    "indicator-scoring": "an indicator needs exactly one of bands / map / direct fitting "
    "its fact's type",
    "bands-order": "bands in one direction, ordered, one bound each, else-band last",
    "map-key": "a map key that is not a value of the indicator's fact",
    "weights-sum": "indicator weights per quadrant, and quadrant weights, sum to 1",
    "grades-order": "grade bands descending by min, the last starting at 0",
    "service-plans": "a service plan for every segment",
    "risk-grades": "terms for every risk grade",
    "version-name": "version differs from the file name",
    "id-directory": "policy id differs from the directory name",
    "effective-range": "effective_to before effective_from",
}
WEIGHT_TOLERANCE = 1e-9


def check_semantics(doc: Document, policy: Policy, fs: FactSpace) -> list[Problem]:
    """Every semantic problem of a schema-valid policy, located in ``doc``."""
    return _Semantics(doc, policy, fs).run()


def partial_semantics(doc: Document, fs: FactSpace,
                      schema_problems: Iterable[Problem] = ()) -> list[Problem]:
    """The condition checks (facts, operators, step order) and id uniqueness of a document
    that failed the schema, on every part that is valid on its own, so that a typo in a
    key does not hide a misspelt fact elsewhere in the file."""
    data = doc.data
    kind = data.get("kind")
    if kind not in PIPELINE:
        return []
    checker = _Semantics(doc, None, fs, kind)
    broken = [p.json_path for p in schema_problems]
    seen: dict[str, JsonPath] = {}
    for table in ("rules", "base", "adjustments", "triggers", "indicators"):
        items = data.get(table)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("id"), str):
                checker.unique(item["id"], (table, i, "id"), seen)
            if table == "indicators" and isinstance(item.get("fact"), str):
                checker.fact(item["fact"], (table, i, "fact"))
            if "when" in item:
                _partial_condition(checker, item["when"], (table, i, "when"), broken)
    requires = data.get("requires")
    for i, fact in enumerate(requires if isinstance(requires, list) else []):
        if isinstance(fact, str):
            checker.fact(fact, ("requires", i))
    return checker.problems


_CONDITION: TypeAdapter[Any] = TypeAdapter(Condition)


def _partial_condition(checker: _Semantics, raw: Any, path: JsonPath,
                       broken: list[str]) -> None:
    """Check what the schema accepted of one condition: a part without a schema problem
    is checked whole; inside a broken part each sub-condition on its own, and a broken
    leaf's fact name (a type error beside a misspelt fact must not hide it)."""
    where = json_path(path)
    if not any(b == where or b.startswith((where + ".", where + "[")) for b in broken):
        try:
            cond = _CONDITION.validate_python(raw)
        except ValidationError:
            return
        checker.condition(cond, path)
        return
    if not isinstance(raw, dict):
        return
    for key in ("all", "any"):
        items = raw.get(key)
        for j, item in enumerate(items if isinstance(items, list) else []):
            _partial_condition(checker, item, (*path, key, j), broken)
    if "not" in raw:
        _partial_condition(checker, raw["not"], (*path, "not"), broken)
    fact = raw.get("fact")
    if isinstance(fact, str) and json_path((*path, "fact")) not in broken:
        checker.fact(fact, (*path, "fact"))


class _Semantics:
    def __init__(self, doc: Document, policy: Policy | None, fs: FactSpace,
                 kind: str | None = None):
        self.doc, self.fs = doc, fs
        self.policy: Policy = policy  # type: ignore[assignment]  # None: partial checks only
        self.kind = kind or policy.kind  # type: ignore[union-attr]
        self.problems: list[Problem] = []

    def add(self, path: JsonPath, code: str, message: str, *, key: bool = False,
            suggestion: str | None = None) -> None:
        self.problems.append(self.doc.problem(path, code, message, key=key,
                                              suggestion=suggestion))

    def run(self) -> list[Problem]:
        p = self.policy
        if p.effective_to is not None and p.effective_to < p.effective_from:
            self.add(("effective_to",), "effective-range",
                     f"effective_to {p.effective_to} is before effective_from {p.effective_from}")
        for i, fact in enumerate(p.requires):
            self.fact(fact, ("requires", i))
        seen: dict[str, JsonPath] = {}
        for table, rules in rule_tables(p).items():
            for i, rule in enumerate(rules):
                self.unique(rule.id, (table, i, "id"), seen)
                self.condition(rule.when, (table, i, "when"))
        if isinstance(p, ClassificationPolicy):
            missing = [s for s in SEGMENTS if s not in p.service_plans]
            if missing:
                self.add(("service_plans",), "service-plans",
                         f"no service plan for {', '.join(missing)}; every segment needs one")
        elif isinstance(p, RiskPolicy):
            missing = [g for g in RISK_GRADES if g not in p.grades]
            if missing:
                self.add(("grades",), "risk-grades",
                         f"no terms for grade {', '.join(missing)}; every grade needs an entry")
        elif isinstance(p, SwotPolicy):
            self.swot(p, seen)
        return self.problems

    def unique(self, ident: str, path: JsonPath, seen: dict[str, JsonPath]) -> None:
        if ident in seen:
            first = self.doc.loc(seen[ident])
            self.add(path, "duplicate-id",
                     f"id '{ident}' is already used at line {first.line} "
                     f"({json_path(seen[ident][:-1])}); ids are unique in a version")
        else:
            seen[ident] = path

    # conditions -------------------------------------------------------------------------

    def condition(self, cond: Condition, path: JsonPath) -> None:
        if isinstance(cond, AllOf | AnyOf):
            name = "all" if isinstance(cond, AllOf) else "any"
            for j, child in enumerate(cond.all if isinstance(cond, AllOf) else cond.any):
                self.condition(child, (*path, name, j))
        elif isinstance(cond, NotOf):
            self.condition(cond.not_, (*path, "not"))
        else:
            self.leaf(cond, path)

    def fact(self, fact: str, path: JsonPath) -> FactInfo | None:
        """The fact's info if the policy may read it; otherwise report and return None."""
        info = self.fs.lookup(fact)
        if info is None:
            self.add(path, "unknown-fact", f"unknown fact '{fact}'",
                     suggestion=self.fs.suggest(fact))
            return None
        if not self.fs.readable_by(fact, self.kind):
            kind = self.kind
            when = ("this step's own output" if info.step == kind
                    else f"an output of the {info.step} step, which runs after {kind}")
            self.add(path, "step-order",
                     f"'{fact}' is {when}; a {kind} policy can only read the outputs of "
                     f"earlier steps ({', '.join(PIPELINE[:PIPELINE.index(kind)]) or 'none'})")
            return None
        return info

    def leaf(self, leaf: Leaf, path: JsonPath) -> None:
        info = self.fact(leaf.fact, (*path, "fact"))
        if info is None:
            return
        op, value = leaf.op, leaf.value
        if op == "exists":
            return
        if op in ("lt", "lte", "gt", "gte", "between"):
            if not info.numeric:
                self.add((*path, op), "operator-type",
                         f"'{op}' compares numbers, but {leaf.fact} is {info.describe()}; "
                         f"use eq, ne, in or not_in")
            elif op == "between" and value[0] > value[1]:
                self.add((*path, op), "between-order",
                         f"between [{value[0]:g}, {value[1]:g}]: low is above high")
            return
        if op in ("in", "not_in"):
            for k, item in enumerate(value):
                self.value(item, info, (*path, op, k), op)
        else:
            self.value(value, info, (*path, op), op)

    def value(self, value: Any, info: FactInfo, path: JsonPath, op: str) -> None:
        """Is ``value`` something the fact can equal? (eq, ne, in, not_in)"""
        problem = None
        if info.type == "boolean":
            if not isinstance(value, bool):
                problem = f"{info.path} is boolean; compare it with true or false, not {value!r}"
        elif isinstance(value, bool):
            problem = (f"'{op}: {str(value).lower()}' only applies to boolean facts; "
                       f"{info.path} is {info.describe()}")
        elif info.numeric:
            if not isinstance(value, int | float):
                problem = f"{info.path} is a {info.type}; {value!r} is not a number"
            elif info.type == "integer" and not float(value).is_integer():
                problem = f"{info.path} is an integer; it never equals {value!r}"
        elif not isinstance(value, str):
            problem = f"{info.path} is {info.describe()}; {value!r} is not a string"
        elif info.enum is not None and value not in info.enum:
            self.add(path, "value-type", f"'{value}' is not a value of {info.path} "
                                         f"({', '.join(info.enum)})",
                     suggestion=_closest(value, list(info.enum)))
            return
        if problem:
            self.add(path, "value-type", problem)

    # swot -------------------------------------------------------------------------------

    def swot(self, p: SwotPolicy, seen: dict[str, JsonPath]) -> None:
        by_quadrant: dict[str, list[int]] = {q: [] for q in QUADRANTS}
        for i, ind in enumerate(p.indicators):
            here = ("indicators", i)
            self.unique(ind.id, (*here, "id"), seen)
            by_quadrant[ind.quadrant].append(i)
            info = self.fact(ind.fact, (*here, "fact"))
            modes = [m for m in ("bands", "map", "direct") if getattr(ind, m) not in (None, False)]
            if len(modes) != 1:
                found = " and ".join(modes) if modes else "none"
                self.add(here, "indicator-scoring", f"indicator '{ind.id}' needs exactly one of "
                                                    f"bands, map or direct: true (found {found})")
                continue
            if info is None:
                continue
            if modes == ["bands"] or modes == ["direct"]:
                if not info.numeric:
                    self.add((*here, modes[0]), "indicator-scoring",
                             f"{modes[0]} scores a number, but {ind.fact} is {info.describe()}; "
                             f"use map")
                elif ind.bands is not None:
                    self.bands(ind.bands, (*here, "bands"))
            else:
                self.map_keys(ind.map or {}, info, (*here, "map"))
        self.weights(p, by_quadrant)
        self.grades(p)

    def bands(self, bands: Iterable[Band], path: JsonPath) -> None:
        bands = list(bands)
        bounded: list[tuple[int, str, float]] = []
        for j, band in enumerate(bands):
            bounds = [op for op in ("gte", "gt", "lte", "lt") if getattr(band, op) is not None]
            if len(bounds) > 1:
                self.add((*path, j), "bands-order",
                         f"a band has at most one bound; found {' and '.join(bounds)}")
            elif not bounds and j != len(bands) - 1:
                self.add((*path, j), "bands-order",
                         "the band without a bound (the else band) must be the last")
            elif bounds:
                bounded.append((j, bounds[0], getattr(band, bounds[0])))
        if {op in ("gte", "gt") for _, op, _ in bounded} == {True, False}:
            self.add(path, "bands-order", "bands mix lower bounds (gte/gt) and upper bounds "
                                          "(lt/lte); use one direction per indicator")
            return
        for (pj, pop, pv), (j, op, v) in itertools.pairwise(bounded):
            down = op in ("gte", "gt")
            # gt x sits just above gte x; lt x just below lte x
            prev_key = (pv, pop in ("gt", "lte"))
            key = (v, op in ("gt", "lte"))
            if (key >= prev_key) if down else (key <= prev_key):
                order = "highest bound first" if down else "lowest bound first"
                self.add((*path, j, op), "bands-order",
                         f"band {j} ({op} {v:g}) can never apply after band {pj} "
                         f"({pop} {pv:g}); order bands {order}, without overlap")

    def map_keys(self, mapping: dict[str, float], info: FactInfo, path: JsonPath) -> None:
        if info.numeric:
            self.add(path, "indicator-scoring",
                     f"map scores enumerated values, but {info.path} is a {info.type}; use bands")
            return
        allowed = ["true", "false"] if info.type == "boolean" else info.enum
        if allowed is None:
            return  # a free-text fact: any key is a possible value
        for key in mapping:
            if key not in allowed:
                self.add((*path, key), "map-key",
                         f"'{key}' is not a value of {info.path} ({', '.join(allowed)})",
                         key=True, suggestion=_closest(key, list(allowed)))

    def weights(self, p: SwotPolicy, by_quadrant: dict[str, list[int]]) -> None:
        for q, members in by_quadrant.items():
            if not members:
                if p.quadrant_weights.get(q):
                    self.add(("quadrant_weights", q), "weights-sum",
                             f"quadrant '{q}' has a weight but no indicators")
                continue
            if q not in p.quadrant_weights:
                self.add(("quadrant_weights",), "weights-sum",
                         f"quadrant '{q}' has indicators but no weight")
            total = math.fsum(p.indicators[i].weight for i in members)
            if abs(total - 1) > WEIGHT_TOLERANCE:
                parts = ", ".join(f"{p.indicators[i].id} {p.indicators[i].weight:g}"
                                  for i in members)
                self.add(("indicators", members[0], "weight"), "weights-sum",
                         f"weights of the {q} indicators sum to {total:.10g}, not 1 ({parts})")
        total = math.fsum(p.quadrant_weights.values())
        if abs(total - 1) > WEIGHT_TOLERANCE:
            self.add(("quadrant_weights",), "weights-sum",
                     f"quadrant weights sum to {total:.10g}, not 1")

    def grades(self, p: SwotPolicy) -> None:
        labels: dict[str, int] = {}
        for j, band in enumerate(p.grades):
            if band.grade in labels:
                self.add(("grades", j, "grade"), "grades-order",
                         f"grade '{band.grade}' is already band {labels[band.grade]}")
            labels.setdefault(band.grade, j)
            if j and band.min >= p.grades[j - 1].min:
                self.add(("grades", j, "min"), "grades-order",
                         f"grade bands go from the highest min down; {band.min:g} is not below "
                         f"{p.grades[j - 1].min:g}")
        if p.grades[-1].min != 0:
            self.add(("grades", len(p.grades) - 1, "min"), "grades-order",
                     f"the last grade band must start at 0, not {p.grades[-1].min:g}, "
                     f"so every score has a grade")
