"""The decision pipeline: facts in, a whole decision (contract §2) out.

``Decider.decide`` runs, in order:

1. validate the facts (``engine.facts``: schema, then currency and ``requires`` of the
   selected versions) — any problem refuses the decision with every error located;
2. select the policy versions in force on the as-of date (the ``as_of`` argument, else the
   facts' ``as_of``, else today in UTC), with pins overriding the date;
3. classification (first match, else the default) → SWOT (``engine.swot``) → risk (first
   match, else the default) → proposal (base: first match, else the default; adjustments:
   every match, in order) → early warnings (every match, in order). Each step sees the
   outputs of the earlier ones through the context (``engine.context``);
4. assemble the ``Decision`` with the policy versions used, the missing facts and, when
   asked, the trace.

Only step 3's condition matching goes through the engine (``engine.seam``); everything
else is this shared code, so the two engines can only differ in matching.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from engine import context as context_mod
from engine.decision import Decision
from engine.engines import get_engine
from engine.errors import DecisionRefused, FieldError, NoPolicyInForce
from engine.facts import check_currency, check_requires, schema_errors
from engine.model import PIPELINE, SwotPolicy
from engine.seam import Engine, LoadedPolicy
from engine.steps import Prepared, classify, grade_risk, propose, warn
from engine.swot import score_swot
from engine.trace import Considered, views_of

__all__ = ["Decider", "PolicySource"]


class PolicySource(Protocol):
    """What the Decider needs of ``engine.registry.Registry``."""

    def all(self) -> list[LoadedPolicy]: ...

    def select(
        self, on: dt.date, pins: Mapping[str, str] | None = None
    ) -> dict[str, LoadedPolicy]: ...


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
        try:
            day = as_of or dt.date.fromisoformat(str(facts.get("as_of")))
        except ValueError:
            day = dt.datetime.now(dt.UTC).date()
        try:
            loaded = [p.loaded for p in self.select(day, pins).values()]
        except LookupError:
            return []
        reported = {e.path for e in found}
        extra = check_currency(facts, loaded) + check_requires(facts, loaded)
        return [e for e in extra if e.path not in reported]

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
        errors = schema_errors(facts)
        if errors:
            raise DecisionRefused(errors + self._policy_errors_anyway(facts, as_of, pins, errors))
        if as_of is None:
            as_of = (
                dt.date.fromisoformat(facts["as_of"])
                if "as_of" in facts
                else dt.datetime.now(dt.UTC).date()
            )
        selected = self.select(as_of, pins)
        loaded = [p.loaded for p in selected.values()]
        errors = check_currency(facts, loaded) + check_requires(facts, loaded)
        if errors:
            raise DecisionRefused(errors)

        ctx = context_mod.build(facts)
        seen = Considered(ctx, explain)
        match = self.engine.match

        p = selected["classification"]
        classification = classify(p, match(p.compiled, ctx), seen)
        context_mod.with_outputs(ctx, segment=classification["segment"]["value"])

        swot_policy = selected["swot"].loaded.policy
        assert isinstance(swot_policy, SwotPolicy)
        swot = score_swot(swot_policy, ctx)
        seen.missing.update(swot.missing)
        context_mod.with_outputs(ctx, swot_score=swot.score, swot_grade=swot.grade)

        p = selected["risk"]
        risk = grade_risk(p, match(p.compiled, ctx), seen)
        context_mod.with_outputs(ctx, risk_grade=risk["grade"])

        p = selected["proposal"]
        proposal = propose(p, match(p.compiled, ctx), seen)

        p = selected["early_warning"]
        warnings = warn(p, match(p.compiled, ctx), seen)

        return Decision.model_validate(
            {
                "decision_id": decision_id or uuid.uuid4().hex,
                "client_id": facts["client_id"],
                "decided_at": _utc(decided_at or dt.datetime.now(dt.UTC)),
                "as_of": as_of,
                "policies": [
                    {"id": lp.id, "version": lp.version, "sha256": lp.sha256} for lp in loaded
                ],
                "segment": classification["segment"],
                "service_plan": classification["plan"],
                "swot": {
                    "score": swot.score,
                    "grade": swot.grade,
                    "quadrants": swot.quadrants,
                    "contributions": swot.contributions,
                },
                "risk": risk,
                "proposal": proposal,
                "warnings": warnings,
                "missing_facts": sorted(seen.missing),
                "engine": self.engine.name,
                "trace": seen.trace if explain else None,
            }
        )
