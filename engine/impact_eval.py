"""Evaluate one client under two policy selections, doing only the work that can differ.

The two selections differ in one policy (the version under test). Every step before it
in the pipeline gets the same inputs and the same policy, so it is evaluated once and
shared. The changed step is evaluated on both sides. A later step is evaluated twice only
for the clients whose earlier outputs it reads (``segment``, ``swot.*``, ``risk.grade``)
came out differently; otherwise once, and only if the report needs it (segment and risk
grade always; proposal and warnings only when they can change). For a classification
change that means: classification twice, risk once, proposal twice for the few clients
whose segment moved, SWOT and warnings never.

The steps themselves are ``engine.steps`` / ``engine.swot`` — the Decider's own code —
so a client's outcome here is the one ``Decider.decide`` gives (a test checks it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine import context as context_mod
from engine.context import OUTPUT_PATHS
from engine.errors import FieldError
from engine.facts import FACTS_SCHEMA_PATH, check_currency, check_requires, schema_errors
from engine.model import PIPELINE, SwotPolicy, leaves, rule_tables
from engine.steps import Prepared, classify, grade_risk, propose, warn
from engine.swot import score_swot
from engine.trace import Considered

__all__ = ["Outcome", "PairEvaluator"]

# Which output each step produces, as the context paths later steps read.
PRODUCES = {"classification": {"segment"}, "swot": {"swot.score", "swot.grade"},
            "risk": {"risk.grade"}, "proposal": set(), "early_warning": set()}


@dataclass
class Outcome:
    """The parts of a decision the impact report compares (None: not evaluated/refused)."""

    segment: str | None = None
    plan: dict[str, Any] | None = None
    swot_score: float | None = None
    swot_grade: str | None = None
    grade: str | None = None
    proposal: dict[str, Any] | None = None
    warnings: tuple[str, ...] | None = None
    refused: str | None = None


def _reads(p: Prepared) -> set[str]:
    """Pipeline outputs a policy version's conditions (or indicators) read."""
    facts = {leaf.fact for rules in rule_tables(p.loaded.policy).values()
             for rule in rules for leaf in leaves(rule.when)}
    if isinstance(p.loaded.policy, SwotPolicy):
        facts |= {ind.fact for ind in p.loaded.policy.indicators}
    return facts & OUTPUT_PATHS


def _fast_validator() -> Any:
    """jsonschema-rs when installed (a validity check in ~2 µs instead of ~200 µs); the
    errors themselves always come from ``engine.facts`` so they read the same."""
    try:
        import jsonschema_rs
    except ImportError:  # optional: only speed depends on it
        return None
    schema = json.loads(FACTS_SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema, validate_formats=True)


class PairEvaluator:
    """Evaluates facts under the ``old`` and ``new`` selections (kind -> Prepared)."""

    def __init__(self, engine: Any, old: Mapping[str, Prepared], new: Mapping[str, Prepared]):
        self.match = engine.match
        self.old, self.new = old, new
        self.changed = {k for k in PIPELINE if old[k].loaded.key != new[k].loaded.key}
        self.reads = {k: _reads(old[k]) | _reads(new[k]) for k in PIPELINE}
        self.needed = {k for k in PIPELINE if self._needed(k)}
        self.validator = _fast_validator()
        self.old_loaded = [p.loaded for p in old.values()]
        self.new_loaded = [p.loaded for p in new.values()]
        same_checks = ({(lp.policy.currency, tuple(lp.policy.requires)) for lp in self.old_loaded}
                       == {(lp.policy.currency, tuple(lp.policy.requires))
                           for lp in self.new_loaded})
        self.same_checks = same_checks

    def _refusal(self, facts: Mapping[str, Any], loaded: list) -> str | None:
        errors: list[FieldError] = check_currency(facts, loaded) + check_requires(facts, loaded)
        return "; ".join(f"{e.path}: {e.message}" for e in errors) or None

    def evaluate(self, facts: Mapping[str, Any], *, owned: bool = False
                 ) -> tuple[Outcome, Outcome]:
        """Both outcomes; ``owned``: ``facts`` is a private dict (just parsed) that may
        serve as the evaluation context without a copy."""
        if self.validator is None or not self.validator.is_valid(facts):
            errors = schema_errors(facts)
            if errors:
                text = "; ".join(f"{e.path}: {e.message}" for e in errors)
                return Outcome(refused=text), Outcome(refused=text)
        refused_old = self._refusal(facts, self.old_loaded)
        refused_new = refused_old if self.same_checks else self._refusal(facts, self.new_loaded)
        if refused_old and refused_new:
            return Outcome(refused=refused_old), Outcome(refused=refused_new)
        if refused_old or refused_new:  # one side only: decide the other fully
            a, b = self._both(facts)
            return (Outcome(refused=refused_old) if refused_old else a,
                    Outcome(refused=refused_new) if refused_new else b)
        return self._both(facts, owned)

    def _both(self, facts: Mapping[str, Any], owned: bool = False) -> tuple[Outcome, Outcome]:
        # Outputs are added at the top level and into the facts' own "swot" group, so a
        # document parsed for this evaluation alone can be the context itself.
        ctx_a = facts if owned and isinstance(facts, dict) else context_mod.build(facts)
        ctx_b = ctx_a  # shared until an output differs
        a, b = Outcome(), Outcome()
        diverged: set[str] = set()
        for kind in PIPELINE:
            twice = kind in self.changed or bool(self.reads[kind] & diverged)
            if not twice and kind not in self.needed:
                continue
            if twice and ctx_b is ctx_a:
                ctx_b = _fork(ctx_a)
            self._step(kind, self.old[kind], ctx_a, a)
            if twice:
                self._step(kind, self.new[kind], ctx_b, b)
                if _outputs(kind, a) != _outputs(kind, b):
                    diverged |= PRODUCES[kind]
            else:
                _copy(kind, a, b)
                if ctx_b is not ctx_a:
                    _apply(kind, a, ctx_b)
        return a, b

    def _needed(self, kind: str) -> bool:
        if kind in ("classification", "risk"):
            return True  # the migration matrices need them for every client
        # Conservative: a step is needed when any later step reads what it produces.
        later = PIPELINE[PIPELINE.index(kind) + 1:]
        return any(PRODUCES[kind] & self.reads[k] for k in later)

    def _step(self, kind: str, p: Prepared, ctx: dict[str, Any], out: Outcome) -> None:
        seen = _QUIET
        if kind == "classification":
            result = classify(p, self.match(p.compiled, ctx), seen)
            out.segment, out.plan = result["segment"]["value"], result["plan"]
        elif kind == "swot":
            policy = p.loaded.policy
            assert isinstance(policy, SwotPolicy)
            swot = score_swot(policy, ctx)
            out.swot_score, out.swot_grade = swot.score, swot.grade
        elif kind == "risk":
            out.grade = grade_risk(p, self.match(p.compiled, ctx), seen)["grade"]
        elif kind == "proposal":
            result = propose(p, self.match(p.compiled, ctx), seen)
            result.pop("rules")
            out.proposal = result
        else:
            out.warnings = tuple(w["code"] for w in warn(p, self.match(p.compiled, ctx), seen))
        _apply(kind, out, ctx)


class _Quiet(Considered):
    """The Decider's hit policies without the trace and missing-facts bookkeeping, which
    the impact report does not show (a third of the time per client)."""

    def __init__(self) -> None:
        super().__init__({}, False)

    def first(self, loaded, views, matched):  # type: ignore[no-untyped-def, override]
        return next((view for view in views if view.rule.id in matched), None)

    def every(self, loaded, views, matched):  # type: ignore[no-untyped-def, override]
        return [view for view in views if view.rule.id in matched]

    def observed(self, view):  # type: ignore[no-untyped-def, override]
        return {}


_QUIET = _Quiet()


def _fork(ctx: dict[str, Any]) -> dict[str, Any]:
    forked = dict(ctx)
    if isinstance(forked.get("swot"), dict):
        forked["swot"] = dict(forked["swot"])
    return forked


def _apply(kind: str, out: Outcome, ctx: dict[str, Any]) -> None:
    if kind == "classification":
        context_mod.with_outputs(ctx, segment=out.segment)
    elif kind == "swot":
        context_mod.with_outputs(ctx, swot_score=out.swot_score, swot_grade=out.swot_grade)
    elif kind == "risk":
        context_mod.with_outputs(ctx, risk_grade=out.grade)


def _outputs(kind: str, out: Outcome) -> Any:
    return {"classification": out.segment, "swot": (out.swot_score, out.swot_grade),
            "risk": out.grade}.get(kind)


def _copy(kind: str, a: Outcome, b: Outcome) -> None:
    if kind == "classification":
        b.segment, b.plan = a.segment, a.plan
    elif kind == "swot":
        b.swot_score, b.swot_grade = a.swot_score, a.swot_grade
    elif kind == "risk":
        b.grade = a.grade
    elif kind == "proposal":
        b.proposal = a.proposal
    else:
        b.warnings = a.warnings
