"""What a decision considered: the trace entries and the missing facts, engine-independent.

The engines only say *which* rules hold; everything a reader (or an auditor) sees about a
rule — its leaves, the values they read, whether it was considered at all — is computed
here from the policy and the context, so both engines produce identical traces.

A rule is *considered* when its table reached it: every rule of a collect-all table, and
in a first-match table the rules up to and including the winner (all of them when none
wins). ``missing_facts`` collects the facts the considered rules read and did not find.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.context import MISSING, OUTPUT_PATHS, lookup
from engine.model import Rule, leaves, rule_tables
from engine.seam import LoadedPolicy

__all__ = ["MISSING_TEXT", "Considered", "RuleView", "display", "views_of"]

MISSING_TEXT = "missing"  # what the trace shows for an absent fact


def display(value: Any) -> Any:
    """A JSON-friendly value for readers: ``5.0`` from a policy's ``gte: 5`` shows as 5."""
    if isinstance(value, tuple | list):
        return [display(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


@dataclass(frozen=True)
class RuleView:
    """A rule prepared for tracing: its leaves as (fact, op, expected) and its facts."""

    rule: Rule
    table: str
    leaves: tuple[tuple[str, str, Any], ...]
    facts: tuple[str, ...]  # distinct leaf facts, in document order

    @property
    def id(self) -> str:
        return self.rule.id


def views_of(loaded: LoadedPolicy) -> dict[str, tuple[RuleView, ...]]:
    """Every rule table of a policy version as RuleViews (built once per version)."""
    out = {}
    for table, rules in rule_tables(loaded.policy).items():
        views = []
        for rule in rules:
            lv = tuple((leaf.fact, leaf.op, display(leaf.value)) for leaf in leaves(rule.when))
            facts = tuple(dict.fromkeys(fact for fact, _, _ in lv))
            views.append(RuleView(rule, table, lv, facts))
        out[table] = tuple(views)
    return out


class Considered:
    """Collects the trace (when asked) and the missing facts of one decision."""

    def __init__(self, ctx: Mapping[str, Any], explain: bool):
        self.ctx = ctx
        self.explain = explain
        self.trace: list[dict[str, Any]] = []
        self.missing: set[str] = set()
        self._seen: dict[str, Any] = {}  # fact path -> value; facts never change mid-decision

    def value(self, path: str) -> Any:
        """The value of a fact or output (outputs are not memoised: steps add them)."""
        if path in OUTPUT_PATHS:
            return lookup(self.ctx, path)
        try:
            return self._seen[path]
        except KeyError:
            value = self._seen[path] = lookup(self.ctx, path)
            return value

    def observed(self, view: RuleView) -> dict[str, Any]:
        """The values of the facts a rule read, by path ("missing" if absent)."""
        out = {}
        for fact in view.facts:
            value = self.value(fact)
            out[fact] = MISSING_TEXT if value is MISSING else value
        return out

    def _record(self, loaded: LoadedPolicy, view: RuleView, fired: bool) -> None:
        for fact in view.facts:
            if fact not in OUTPUT_PATHS and self.value(fact) is MISSING:
                self.missing.add(fact)
        if not self.explain:
            return
        leaf_entries = []
        for fact, op, expected in view.leaves:
            value = self.value(fact)
            leaf_entries.append(
                {
                    "fact": fact,
                    "op": op,
                    "expected": expected,
                    "observed": MISSING_TEXT if value is MISSING else value,
                }
            )
        self.trace.append(
            {
                "policy": loaded.id,
                "version": loaded.version,
                "table": view.table,
                "rule": view.id,
                "description": view.rule.description,
                "fired": fired,
                "leaves": leaf_entries,
            }
        )

    def first(
        self, loaded: LoadedPolicy, views: tuple[RuleView, ...], matched: frozenset[str]
    ) -> RuleView | None:
        """First-match hit policy: the first rule that holds; later rules are not considered."""
        for view in views:
            fired = view.id in matched
            self._record(loaded, view, fired)
            if fired:
                return view
        return None

    def every(
        self, loaded: LoadedPolicy, views: tuple[RuleView, ...], matched: frozenset[str]
    ) -> list[RuleView]:
        """Collect-all hit policy: every rule that holds, in policy order."""
        fired_views = []
        for view in views:
            fired = view.id in matched
            self._record(loaded, view, fired)
            if fired:
                fired_views.append(view)
        return fired_views
