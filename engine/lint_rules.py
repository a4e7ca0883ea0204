"""The checks of ``crmc lint`` on rule tables (see :mod:`engine.lint` for the codes).

Hit policies: ``rules`` (classification, risk) and ``base`` (proposal) are first match;
``adjustments`` (proposal) and ``triggers`` (early warning) collect every match.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.errors import Problem
from engine.factspace import default_factspace
from engine.lint import CODES, Example, Finding, example_document
from engine.lint_sets import FinSet, NumSet
from engine.lint_space import Box, FactSet, Space, TooComplex
from engine.load import Document, JsonPath
from engine.model import (
    Adjustment,
    AllOf,
    AnyOf,
    Condition,
    EarlyWarningPolicy,
    Leaf,
    NotOf,
    Policy,
    Rule,
    SwotPolicy,
    Trigger,
    leaves,
    rule_tables,
)

__all__ = ["Linter", "box_text", "leaf_text", "lint_policy", "outcome_text", "walk"]

FIRST_MATCH = ("rules", "base")
_OPS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥", "in": "in",
        "not_in": "not in"}


def lint_policy(doc: Document, policy: Policy, *, has_default: bool = True,
                overlaps: bool = False) -> list[Finding]:
    return Linter(doc, policy, has_default=has_default, overlaps=overlaps).run()


def walk(cond: Condition, path: JsonPath) -> Iterator[tuple[Condition, JsonPath]]:
    """Every node of a condition with its JSON path, parents before children."""
    yield cond, path
    if isinstance(cond, AllOf | AnyOf):
        name = "all" if isinstance(cond, AllOf) else "any"
        for j, child in enumerate(cond.all if isinstance(cond, AllOf) else cond.any):
            yield from walk(child, (*path, name, j))
    elif isinstance(cond, NotOf):
        yield from walk(cond.not_, (*path, "not"))


def children(cond: Condition, path: JsonPath) -> list[tuple[Condition, JsonPath]]:
    if isinstance(cond, AllOf | AnyOf):
        name = "all" if isinstance(cond, AllOf) else "any"
        items = cond.all if isinstance(cond, AllOf) else cond.any
        return [(c, (*path, name, j)) for j, c in enumerate(items)]
    if isinstance(cond, NotOf):
        return [(cond.not_, (*path, "not"))]
    return []


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def leaf_text(leaf: Leaf) -> str:
    op, value = leaf.op, leaf.value
    if op == "exists":
        return f"{leaf.fact} {'is present' if value else 'is missing'}"
    if op == "between":
        return f"{leaf.fact} between {_fmt(value[0])} and {_fmt(value[1])}"
    return f"{leaf.fact} {_OPS[op]} {_fmt(value)}"


def set_text(path: str, fs: FactSet, order: tuple = ()) -> str:
    if fs.values.empty:
        return f"{path} missing"
    if isinstance(fs.values, NumSet):
        text = " or ".join(f"{path} {part}" for part in fs.values.describe().split(" or "))
    else:
        text = f"{path} {'is' if len(fs.values.values) == 1 and not fs.values.co else 'in'} " \
               f"{fs.values.describe(order)}"
    return f"{text} or missing" if fs.absent else text


def box_text(box: Box, space: Space) -> str:
    return "; ".join(set_text(p, fs, space.domain(p).order)
                     for p, fs in sorted(box.items())) or "any facts"


def outcome_text(rule: Rule) -> str:
    then = rule.then.model_dump(exclude_none=True)  # type: ignore[attr-defined]
    return ", ".join(f"{k}={_fmt(v)}" for k, v in then.items())


class Linter:
    """Runs every check on one policy version; findings collect in ``self.findings``."""

    def __init__(self, doc: Document, policy: Policy, *, has_default: bool, overlaps: bool):
        self.doc, self.policy = doc, policy
        self.has_default, self.overlaps = has_default, overlaps
        self.space = Space(requires=frozenset(policy.requires))
        self.loose = Space(loose=True)
        self.factspace = default_factspace()
        self.findings: list[Finding] = []

    # --- reporting ------------------------------------------------------------------------

    def add(self, path: JsonPath, code: str, message: str, *, example: Example | None = None,
            suggestion: str | None = None, key: bool = False) -> None:
        problem = self.doc.problem(path, code, message, key=key, suggestion=suggestion)
        if example is not None:
            problem = Problem(problem.file, problem.line, problem.col, problem.code,
                              f"{message}; e.g. {example.text()}", problem.json_path,
                              problem.suggestion)
        self.findings.append(Finding(problem, CODES[code], example))

    def example(self, point: dict[str, Any], table: str, matches: tuple[str, ...] = (),
                misses: tuple[str, ...] = ()) -> Example:
        facts, outputs = example_document(point)
        return Example(facts, outputs, table, matches, misses)

    def unknown(self, fact: str) -> bool:
        return self.factspace.lookup(fact) is None

    # --- the run --------------------------------------------------------------------------

    def run(self) -> list[Finding]:
        from engine.lint_swot import lint_swot

        for i, fact in enumerate(self.policy.requires):
            self.fact_ref(fact, ("requires", i))
        for table, rules in rule_tables(self.policy).items():
            for i, rule in enumerate(rules):
                for node, path in walk(rule.when, (table, i, "when")):
                    if isinstance(node, Leaf):
                        self.fact_ref(node.fact, (*path, "fact"))
            try:
                self.table(table, rules)
            except TooComplex as exc:
                self.add((table,), "too-complex", f"not analysed: the conditions of this "
                         f"table expand to {exc}", key=True)
        if isinstance(self.policy, EarlyWarningPolicy):
            self.actions(self.policy.triggers)
        if isinstance(self.policy, SwotPolicy):
            lint_swot(self, self.policy)
        return self.findings

    def fact_ref(self, fact: str, path: JsonPath) -> None:
        if self.unknown(fact):
            self.add(path, "unknown-fact", f"unknown fact '{fact}': no client fact or step "
                     "output has this path, so a test on it never holds",
                     suggestion=self.factspace.suggest(fact))

    def table(self, table: str, rules: list[Rule]) -> None:
        for i, rule in enumerate(rules):
            if not any(self.unknown(leaf.fact) for leaf in leaves(rule.when)):
                self.dead(rule.when, (table, i, "when"))
            self.fires_on_missing(table, i, rule)
        regions = [self.space.dnf(rule.when) for rule in rules]
        reads = sorted({leaf.fact for rule in rules for leaf in leaves(rule.when)})
        if table in FIRST_MATCH:
            from engine.lint_tables import first_match

            first_match(self, table, rules, regions, reads)
        else:
            self.duplicates(table, rules, regions)

    # --- contradiction / unsatisfiable ----------------------------------------------------

    def dead(self, cond: Condition, path: JsonPath) -> tuple[bool, bool]:
        """Report the smallest parts of ``cond`` that can never hold; returns whether
        ``cond`` itself is empty over the loose domain (types only) and the strict one."""
        below = [self.dead(child, p) for child, p in children(cond, path)]
        dead_loose = not self.loose.dnf(cond)
        dead_strict = dead_loose or not self.space.dnf(cond)
        if dead_loose and not any(d for d, _ in below):
            self.add(path, "contradiction", self.contradiction_text(cond))
        elif dead_strict and not dead_loose and not any(s for _, s in below):
            self.add(path, "unsatisfiable", self.unsatisfiable_text(cond))
        return dead_loose, dead_strict

    def contradiction_text(self, cond: Condition) -> str:
        if isinstance(cond, Leaf):
            dom = self.space.domain(cond.fact)
            if cond.op in ("lt", "lte", "gt", "gte", "between") and not dom.numeric:
                return f"{leaf_text(cond)} never holds: {cond.fact} is not a number"
            return f"{leaf_text(cond)} never holds: no value of the right type is listed"
        if isinstance(cond, NotOf):
            return "negates a condition that always holds, so it never holds"
        if isinstance(cond, AllOf) and (clash := _clashing_leaves(cond, self.loose)):
            tests = " and ".join(leaf_text(leaf) for leaf in clash[1])
            return f"contradicts itself: {tests} cannot both hold, so it never holds"
        return "contradicts itself: its parts exclude each other, so it never holds"

    def unsatisfiable_text(self, cond: Condition) -> str:
        if isinstance(cond, Leaf):
            dom = self.space.domain(cond.fact)
            values = dom.full.values
            if values.empty or (cond.op == "exists" and not cond.value):
                allowed = "is always present (a required fact)" if not dom.full.absent \
                    else "never has a value"
            elif isinstance(values, NumSet):
                kind = "an integer " if values.integer else ""
                allowed = f"is {kind}{values.describe()}"
            else:
                allowed = f"is one of {values.describe()}"
            return (f"{leaf_text(cond)} can never hold: in a valid facts document "
                    f"{cond.fact} {allowed}")
        if isinstance(cond, AllOf) and (clash := _clashing_leaves(cond, self.space)):
            fact, group = clash
            tests = " and ".join(leaf_text(leaf) for leaf in group)
            values = self.space.full(fact).values
            kind = "an integer " if isinstance(values, NumSet) and values.integer else ""
            return (f"can never hold: no valid value meets {tests} "
                    f"({fact} is {kind}{values.describe()})")
        return "can never hold for valid facts: its parts only meet outside the facts " \
               "schema's ranges and enumerations"

    # --- missing facts --------------------------------------------------------------------

    def fires_on_missing(self, table: str, i: int, rule: Rule) -> None:
        """A rule that holds *because* a fact is missing — a ``not`` over a test on it —
        while a present value of the fact would not make it hold: the missing value is
        silently read as a failing one. An ``exists`` test on the fact (or ``requires``)
        is how a policy says what missing means; such facts are not reported."""
        all_leaves = leaves(rule.when)
        said = {leaf.fact for leaf in all_leaves if leaf.op == "exists"}
        pos = self.space.dnf(rule.when)
        if not pos:
            return
        neg = self.space.dnf(rule.when, negate=True)
        seen: set[str] = set()
        for node, leaf_path in walk(rule.when, (table, i, "when")):
            if not isinstance(node, Leaf):
                continue
            fact = node.fact
            if fact in seen or fact in said or self.unknown(fact):
                continue
            seen.add(fact)
            full = self.space.full(fact)
            if not full.absent:
                continue  # required, or an output that is always there
            none = NumSet() if isinstance(full.values, NumSet) else FinSet()
            found = self._absent_vs_present(pos, neg, fact, FactSet(none, True),
                                            FactSet(full.values, False))
            if found is None:
                continue
            point, value = found
            self.add(leaf_path, "missing-unhandled",
                     f"rule '{rule.id}' fires when {fact} is missing, though with "
                     f"{fact} = {_fmt(value)} and the same other facts it does not: the "
                     f"missing value is read as a failing test (a 'not' over it); say what "
                     f"missing means with an exists test, or list {fact} under requires",
                     example=self.example(point, table, matches=(rule.id,)))

    def _absent_vs_present(self, pos: list[Box], neg: list[Box], fact: str,
                           absent: FactSet, present: FactSet) -> tuple[dict, Any] | None:
        for a in pos:
            a_abs = self.space.meet(a, {fact: absent})
            if a_abs is None:
                continue
            for n in neg:
                n_pres = self.space.meet(n, {fact: present})
                if n_pres is None:
                    continue
                rest_a = {k: v for k, v in a_abs.items() if k != fact}
                rest_n = {k: v for k, v in n_pres.items() if k != fact}
                both = self.space.meet(rest_a, rest_n)
                if both is not None:
                    point = self.space.point(both)
                    value = self.space.point({fact: n_pres[fact]})[fact]
                    return point, value
        return None

    # --- collect tables -------------------------------------------------------------------

    def duplicates(self, table: str, rules: list[Rule], regions: list[list[Box]]) -> None:
        for j, rule in enumerate(rules):
            for i in range(j):
                if not regions[i] or not regions[j]:
                    continue
                same = _same_outcome_keys(rules[i], rule)
                if same is None:
                    continue
                if self.space.covers(regions[i], regions[j]) and \
                        self.space.covers(regions[j], regions[i]):
                    self.add((table, j), "duplicate",
                             f"'{rule.id}' has the same condition as '{rules[i].id}' "
                             f"(line {self.doc.loc((table, i)).line}) and {same}: one of "
                             f"them is redundant or silently overridden")
                    break

    def actions(self, triggers: list[Trigger]) -> None:
        for i, trig in enumerate(triggers):
            if all(not a.strip() for a in trig.actions):
                self.add(("triggers", i, "actions"), "no-actions",
                         f"trigger '{trig.id}' has severity {trig.severity} but no action: "
                         f"name what the warning requires (notify_relationship_manager, ...)")


def _clashing_leaves(cond: AllOf, space: Space) -> tuple[str, list[Leaf]] | None:
    """The first fact that two or more of ``cond``'s direct leaves test and that no value
    of ``space`` meets together (what a contradiction or unsatisfiability message names)."""
    by_fact: dict[str, list[Leaf]] = {}
    for child in cond.all:
        if isinstance(child, Leaf):
            by_fact.setdefault(child.fact, []).append(child)
    for fact, group in by_fact.items():
        if len(group) < 2:
            continue
        fs = space.full(fact)
        for leaf in group:
            fs = fs & space.leaf(leaf)
        if fs.empty:
            return fact, group
    return None


def _outcome_keys(then: Adjustment) -> set[str]:
    keys: set[str] = set()
    if then.risk_sharing is not None:
        keys.add("risk_sharing")
    if then.covenants is not None:
        keys |= {f"covenants.{k}" for k in then.covenants.model_dump(exclude_none=True)}
    keys |= {f"services.{s}" for s in then.services or ()}
    return keys


def _same_outcome_keys(a: Rule, b: Rule) -> str | None:
    """Why two collect rules with one condition clash (None: they do not)."""
    if isinstance(a, Trigger) and isinstance(b, Trigger):
        return f"the same code '{a.code}'" if a.code == b.code else None
    then_a, then_b = getattr(a, "then", None), getattr(b, "then", None)
    if isinstance(then_a, Adjustment) and isinstance(then_b, Adjustment):
        common = sorted(_outcome_keys(then_a) & _outcome_keys(then_b))
        return f"sets the same {', '.join(common)}" if common else None
    return None

