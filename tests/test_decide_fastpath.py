"""The Decider's compiled hot path against the pipeline as first written.

``Decider.decide`` runs compiled steps (``engine.plan``, ``engine.swot_compiled``), builds
the ``Decision`` without re-validating it (``engine.decision.construct``) and records the
trace only when asked. ``reference_decide`` below is the pipeline as it was before those
optimisations — ``engine.steps`` hit policies, ``engine.swot.score_swot``, ``Considered``
for the missing facts, ``Decision.model_validate`` of plain data — and the two must give
*identical* models: same classes, same field values with the same Python types, same
fields set, with and without ``explain``, on the examples and on generated facts.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from decide_support import ENGINE_PARAMS, EXAMPLE_NAMES, FROZEN_AT, decider, example
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel
from test_conformance import AS_OF, facts_strategy

from engine import context as context_mod
from engine.decision import Decision
from engine.errors import DecisionRefused
from engine.evaluate import Decider
from engine.facts import check_currency, check_requires, schema_errors
from engine.model import SwotPolicy
from engine.steps import classify, grade_risk, propose, warn
from engine.swot import score_swot
from engine.trace import Considered


def reference_decide(
    decider: Decider, facts: Mapping[str, Any], *, as_of: dt.date | None = None,
    explain: bool = False, decision_id: str, decided_at: dt.datetime,
) -> Decision:
    """``Decider.decide`` as first written (before the compiled hot path)."""
    errors = schema_errors(facts)
    if errors:
        raise DecisionRefused(errors)
    if as_of is None:
        as_of = dt.date.fromisoformat(facts["as_of"]) if "as_of" in facts else dt.date.today()
    selected = decider.select(as_of)
    loaded = [p.loaded for p in selected.values()]
    errors = check_currency(facts, loaded) + check_requires(facts, loaded)
    if errors:
        raise DecisionRefused(errors)
    ctx = context_mod.build(facts)
    seen = Considered(ctx, explain)
    match = decider.engine.match
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
    return Decision.model_validate({
        "decision_id": decision_id,
        "client_id": facts["client_id"],
        "decided_at": decided_at,
        "as_of": as_of,
        "policies": [{"id": lp.id, "version": lp.version, "sha256": lp.sha256} for lp in loaded],
        "segment": classification["segment"],
        "service_plan": classification["plan"],
        "swot": {"score": swot.score, "grade": swot.grade, "quadrants": swot.quadrants,
                 "contributions": swot.contributions},
        "risk": risk,
        "proposal": proposal,
        "warnings": warnings,
        "missing_facts": sorted(seen.missing),
        "engine": decider.engine.name,
        "trace": seen.trace if explain else None,
    })


def assert_identical(a: Any, b: Any, where: str = "decision") -> None:
    """Equal values of the same types all the way down (``1`` is not ``1.0`` here)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, BaseModel):
        assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__, where
        assert a.__pydantic_extra__ == b.__pydantic_extra__, where
        assert type(a.__pydantic_extra__) is type(b.__pydantic_extra__), where
        assert list(a.__dict__) == list(b.__dict__), where
        for name in a.__dict__:
            assert_identical(a.__dict__[name], b.__dict__[name], f"{where}.{name}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def both(engine: str, facts: Any, explain: bool, **kwargs: Any) -> tuple[Any, Any]:
    d = decider(engine)
    fixed = {"decision_id": "fast-0001", "decided_at": FROZEN_AT, "explain": explain, **kwargs}
    try:
        new: Any = d.decide(facts, **fixed)
    except DecisionRefused as exc:
        new = ("refused", exc.errors)
    try:
        old: Any = reference_decide(d, facts, **fixed)
    except DecisionRefused as exc:
        old = ("refused", exc.errors)
    return new, old


@pytest.mark.parametrize("explain", [False, True])
@pytest.mark.parametrize("as_of", [None, *AS_OF])
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_examples_are_identical_to_the_reference(
    engine: str, name: str, as_of: str | None, explain: bool
) -> None:
    day = dt.date.fromisoformat(as_of) if as_of else None
    new, old = both(engine, example(name), explain, as_of=day)
    if isinstance(old, tuple):
        assert new[0] == "refused"
        assert [e.to_json() for e in new[1]] == [e.to_json() for e in old[1]]
    else:
        assert_identical(new, old)
        assert new.model_dump(mode="json") == old.model_dump(mode="json")


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(facts_strategy())
def test_generated_facts_are_identical_to_the_reference(facts: dict[str, Any]) -> None:
    for explain in (False, True):
        new, old = both("compiled", facts, explain)
        if isinstance(old, tuple):
            assert new[0] == "refused"
            assert [e.to_json() for e in new[1]] == [e.to_json() for e in old[1]]
        else:
            assert_identical(new, old)


def test_parts_of_one_decision_are_not_shared_with_the_next() -> None:
    """Lists and dicts in a decision are its own: changing one changes no other decision."""
    d = decider("compiled")
    first = d.decide(example("distressed-client"))
    first.service_plan.value_added_services.append("leak")
    first.risk.controls.append("leak")
    first.proposal.services.append("leak")
    first.proposal.rules.append("leak")
    first.swot.contributions.clear()
    first.policies.clear()
    for w in first.warnings:
        w.actions.append("leak")
        w.observed["leak"] = 1
    again = d.decide(example("distressed-client"))
    dumped = str(again.model_dump(mode="json"))
    assert "leak" not in dumped
    assert again.swot.contributions and again.policies


def test_ids_and_times_are_fresh_and_utc() -> None:
    d = decider("compiled")
    a, b = d.decide(example("seed-case")), d.decide(example("seed-case"))
    assert a.decision_id != b.decision_id
    assert uuid.UUID(hex=a.decision_id).version == 4
    assert a.decided_at.tzinfo is not None and a.decided_at.utcoffset() == dt.timedelta(0)
    naive = d.decide(example("seed-case"), decided_at=dt.datetime(2026, 1, 2, 3, 4, 5))
    assert naive.decided_at == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
