"""The decision pipeline: facts in, a whole decision (contract §2) out.

``Decider.decide`` runs, in order:

1. validate the facts (``engine.facts``: schema, then currency and ``requires`` of the
   selected versions) — any problem refuses the decision with every error located;
2. select the policy versions in force on the as-of date (the ``as_of`` argument, else the
   facts' ``as_of``, else today in UTC), with pins overriding the date;
3. classification (first match, else the default) → SWOT (scored by
   ``engine.swot_compiled.SwotScorer``; ``engine.swot`` is its readable reference) → risk
   (first match, else the default) → proposal (base: first match, else the default;
   adjustments: every match, in order) → early warnings (every match, in order). Each step
   sees the outputs of the earlier ones through the context (``engine.context``);
4. assemble the ``Decision`` with the policy versions used, the missing facts and, when
   asked, the trace.

Only step 3's condition matching goes through the engine (``engine.seam``); everything
else is this shared code, so the two engines can only differ in matching.

Hot path (per-decision cost is what bulk runs and the HTTP service pay): everything that
depends only on a policy version is compiled when the Decider is built — the steps' hit
policies and outcomes (``engine.plan``), the SWOT scorer (``engine.swot_compiled``) — and
the versions for an as-of date and pins are selected once (``_Selection``). The facts
check is the schema compiled into closures (``engine.facts``); the ``Decision`` is built
from parts that already have validated types (``engine.decision.construct``); the trace is
recorded only with ``explain``. ``engine.steps``/``engine.swot.score_swot`` state the same
pipeline readably (the Decider does not run them; impact analysis and the tests do), and
``tests/test_decide_fastpath.py`` checks the two give identical decisions.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pydantic import TypeAdapter

from engine import context as context_mod
from engine.context import MISSING, getter
from engine.decision import Decision, PolicyRef, Swot, TraceEntry, construct
from engine.engines import get_engine
from engine.errors import DecisionRefused, FieldError, NoPolicyInForce
from engine.facts import certainly_valid, check_currency, check_requires, schema_errors
from engine.model import PIPELINE
from engine.plan import ClassificationPlan, ProposalPlan, RiskPlan, WarningPlan
from engine.seam import Engine, LoadedPolicy
from engine.steps import Prepared
from engine.swot_compiled import SwotScorer
from engine.trace import Considered, views_of

__all__ = ["Decider", "PolicySource"]


class PolicySource(Protocol):
    """What the Decider needs of ``engine.registry.Registry``."""

    def all(self) -> list[LoadedPolicy]: ...

    def select(
        self, on: dt.date, pins: Mapping[str, str] | None = None
    ) -> dict[str, LoadedPolicy]: ...


_PLANS: dict[str, Callable[[Prepared], Any]] = {
    "classification": ClassificationPlan,
    "swot": lambda p: SwotScorer(p.loaded.policy),  # type: ignore[arg-type]
    "risk": RiskPlan,
    "proposal": ProposalPlan,
    "early_warning": WarningPlan,
}
_SELECTIONS_LIMIT = 4096  # (as-of date, pins) pairs kept per Decider
_CURRENCY = getter("request.currency")
_DATE = TypeAdapter(dt.date)
_DATETIME = TypeAdapter(dt.datetime)


# uuid.uuid4().hex without building a UUID: 122 random bits, version 4, RFC 4122 variant
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def _new_id() -> str:
    return (int.from_bytes(os.urandom(16), "big") & _V4_CLEAR | _V4_SET).to_bytes(16, "big").hex()


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:  # a naive time is taken to be UTC already
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


class Decider:
    """Decides on facts with the policies of a registry; prepares every version once."""

    def __init__(self, registry: PolicySource, engine: str | Engine = "durable"):
        self.registry = registry
        self.engine: Engine = get_engine(engine) if isinstance(engine, str) else engine
        self._lock = threading.Lock()
        self._prepared: dict[str, Prepared] = {}
        self._plans: dict[str, Any] = {}  # version key -> its compiled step (engine.plan)
        self._selections: dict[tuple[Any, ...], _Selection] = {}
        for loaded in registry.all():
            self._prepare(loaded)

    def _prepare(self, loaded: LoadedPolicy) -> Prepared:
        prepared = self._prepared.get(loaded.key)
        if prepared is not None:
            return prepared
        with self._lock:  # an engine must never compile one version twice (durable)
            prepared = self._prepared.get(loaded.key)
            if prepared is None:
                compiled = self.engine.prepare(loaded)
                prepared = Prepared(loaded, compiled, views_of(loaded))
                self._plans[loaded.key] = _PLANS[loaded.kind](prepared)
                self._prepared[loaded.key] = prepared
        return prepared

    def select(self, on: dt.date, pins: Mapping[str, str] | None = None) -> dict[str, Prepared]:
        """The prepared versions for a date and pins, by kind in pipeline order."""
        chosen = self.registry.select(on, pins)
        for kind in PIPELINE:
            if kind not in chosen:
                raise NoPolicyInForce(kind, on)
        return {kind: self._prepare(chosen[kind]) for kind in PIPELINE}

    def _policy_errors_anyway(
        self, facts: Any, as_of: dt.date | None, pins: Mapping[str, str] | None,
        found: list[FieldError],
    ) -> list[FieldError]:
        """Currency and ``requires`` errors of facts that already fail the schema, so that
        one answer lists every problem; nothing if the policies cannot be selected."""
        if not isinstance(facts, Mapping):
            return []
        stated = facts.get("as_of")
        try:  # the stated date only if it is one (str() of a deep list would recurse)
            day = as_of or dt.date.fromisoformat(stated if isinstance(stated, str) else "")
        except ValueError:
            day = dt.datetime.now(dt.UTC).date()
        try:
            loaded = [p.loaded for p in self.select(day, pins).values()]
        except LookupError:
            return []
        reported = {e.path for e in found}
        extra = check_currency(facts, loaded) + check_requires(facts, loaded)
        return [e for e in extra if e.path not in reported]

    def _selection(self, as_of: dt.date, pins: Mapping[str, str] | None) -> _Selection:
        key = (as_of, tuple(sorted(pins.items())) if pins else ())
        found = self._selections.get(key)
        if found is None:
            # The registry never changes under a Decider (a reload builds a new one), so
            # the versions for a date and pins are selected once; failures are not kept.
            found = _Selection(self.select(as_of, pins), self._plans)
            if len(self._selections) >= _SELECTIONS_LIMIT:
                self._selections.clear()
            self._selections[key] = found
        return found

    def decide(
        self,
        facts: Mapping[str, Any],
        *,
        as_of: dt.date | None = None,
        pins: Mapping[str, str] | None = None,
        explain: bool = False,
        decision_id: str | None = None,
        decided_at: dt.datetime | None = None,
    ) -> Decision:
        """The decision on ``facts``; raises DecisionRefused, UnknownPolicyVersion,
        NoPolicyInForce."""
        plain = certainly_valid(facts)
        if not plain:
            errors = schema_errors(facts)
            if errors:
                errors += self._policy_errors_anyway(facts, as_of, pins, errors)
                raise DecisionRefused(errors)
        if as_of is None:
            as_of = (
                dt.date.fromisoformat(facts["as_of"])
                if "as_of" in facts
                else dt.datetime.now(dt.UTC).date()
            )
        sel = self._selection(as_of, pins)
        # plain dicts all the way down once the fast check passed: share what is not written
        ctx = context_mod.build_validated(facts) if plain else context_mod.build(facts)  # type: ignore[arg-type]
        if not sel.accepts(ctx):
            errors = check_currency(facts, sel.loaded) + check_requires(facts, sel.loaded)
            if errors:
                raise DecisionRefused(errors)

        missing: set[str] = set()
        match = self.engine.match
        seen = Considered(ctx, True) if explain else None

        p = sel.classification
        matched = match(p.compiled, ctx)
        segment_value, segment, service_plan = sel.classify.run(matched, ctx, missing)
        if seen:
            seen.first(p.loaded, p.tables["rules"], matched)
        ctx["segment"] = segment_value

        score, grade, quadrants, contributions = sel.swot.score(ctx, missing)
        if score is not None or grade is not None:
            context_mod.with_outputs(ctx, swot_score=score, swot_grade=grade)

        p = sel.risk
        matched = match(p.compiled, ctx)
        risk = sel.grade.run(matched, ctx, missing)
        if seen:
            seen.first(p.loaded, p.tables["rules"], matched)
        ctx["risk"] = {"grade": risk.grade}

        p = sel.proposal
        matched = match(p.compiled, ctx)
        if seen:
            seen.first(p.loaded, p.tables["base"], matched)
            seen.every(p.loaded, p.tables.get("adjustments", ()), matched)
        proposal = sel.propose.run(matched, ctx, missing)

        p = sel.early_warning
        matched = match(p.compiled, ctx)
        if seen:
            seen.every(p.loaded, p.tables["triggers"], matched)
        warnings = sel.warn.run(matched, ctx, missing)

        if as_of.__class__ is not dt.date:  # a date subclass: let pydantic say what it is
            as_of = _DATE.validate_python(as_of)
        if decided_at is None:
            decided_at = dt.datetime.now(dt.UTC)
        else:
            decided_at = _utc(decided_at)
            if decided_at.__class__ is not dt.datetime:
                decided_at = _DATETIME.validate_python(decided_at)
        return construct(Decision, {
            "decision_id": decision_id or _new_id(),
            "client_id": facts["client_id"],
            "decided_at": decided_at,
            "as_of": as_of,
            "policies": list(sel.policies),
            "segment": segment,
            "service_plan": service_plan,
            "swot": construct(Swot, {
                "score": score,
                "grade": grade,
                "quadrants": quadrants,
                "contributions": list(contributions),
            }),
            "risk": risk,
            "proposal": proposal,
            "warnings": warnings,
            "missing_facts": sorted(missing),
            "engine": self.engine.name,
            "trace": [TraceEntry.model_validate(e) for e in seen.trace] if seen else None,
        })


class _Selection:
    """The prepared versions for one as-of date and pins, with their compiled steps and
    what the decision reports about them (kept by the Decider per date and pins)."""

    def __init__(self, prepared: dict[str, Prepared], plans: dict[str, Any]):
        self.classification = prepared["classification"]
        self.risk = prepared["risk"]
        self.proposal = prepared["proposal"]
        self.early_warning = prepared["early_warning"]
        self.loaded = [p.loaded for p in prepared.values()]
        keys = {kind: p.loaded.key for kind, p in prepared.items()}
        self.classify: ClassificationPlan = plans[keys["classification"]]
        self.swot: SwotScorer = plans[keys["swot"]]
        self.grade: RiskPlan = plans[keys["risk"]]
        self.propose: ProposalPlan = plans[keys["proposal"]]
        self.warn: WarningPlan = plans[keys["early_warning"]]
        # PolicyRef holds strings only: one instance serves every decision
        self.policies = tuple(
            construct(PolicyRef, {"id": lp.id, "version": lp.version, "sha256": lp.sha256})
            for lp in self.loaded
        )
        bases = {lp.policy.currency for lp in self.loaded}
        self.base = bases.pop() if len(bases) == 1 else None
        self.requires = tuple(
            getter(path) for path in dict.fromkeys(
                path for lp in self.loaded for path in lp.policy.requires
            )
        )

    def accepts(self, ctx: Mapping[str, Any]) -> bool:
        """True when ``check_currency`` and ``check_requires`` certainly find nothing
        (else they are asked, for the located errors)."""
        currency = _CURRENCY(ctx)
        if currency is not MISSING and currency != self.base:
            return False
        return all(get(ctx) is not MISSING for get in self.requires)
