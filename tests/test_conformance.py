"""Conformance: the compiled and the durable engine must give identical decisions.

- every shared example (and each version set in force in 2026) through both engines;
- every example with each thresholded fact set exactly on, just below and just above each
  threshold any default policy version uses (rules and SWOT bands), or removed;
- thousands of hypothesis-generated facts documents: boundary values, extremes (0, 1e-05,
  1e20, very large integers), missing groups and fields.

A disagreement is a bug in one engine. Decisions are compared whole (with the trace), only
``engine`` differs; a refusal must be the same refusal.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from functools import lru_cache
from typing import Any

import pytest
from decide_support import (
    EXAMPLE_NAMES,
    FROZEN_AT,
    ROOT,
    decider,
    example,
    registry,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import DecisionRefused
from engine.model import SwotPolicy, leaves, rule_tables

SCHEMA = json.loads((ROOT / "schemas" / "facts.schema.json").read_text(encoding="utf-8"))
EXTREMES: tuple[int | float, ...] = (
    0, 0.0, 1e-05, 5e-05, 0.1, 1, 1e20, 1e-300, 1.7976931348623157e308,
    2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 + 7, 10**30,
)
AS_OF = ("2026-03-01", "2026-06-30", "2026-07-01", "2026-11-30")


def outcome(engine: str, facts: Any, **kwargs: Any) -> Any:
    """The decision as JSON (``engine`` blanked), or the refusal's errors."""
    try:
        d = decider(engine).decide(
            facts, explain=True, decision_id="conformance", decided_at=FROZEN_AT, **kwargs
        )
    except DecisionRefused as exc:
        return ("refused", [e.to_json() for e in exc.errors])
    return {**d.model_dump(mode="json"), "engine": "*"}


def assert_same(facts: Any, **kwargs: Any) -> None:
    assert outcome("compiled", facts, **kwargs) == outcome("durable", facts, **kwargs), facts


# --- thresholds of the default policies ------------------------------------------------------


@lru_cache(maxsize=1)
def thresholds() -> dict[str, tuple[Any, ...]]:
    """Every constant a default policy compares a fact with, by fact path."""
    found: dict[str, set[Any]] = {}
    for lp in registry().all():
        for table in rule_tables(lp.policy).values():
            for rule in table:
                for leaf in leaves(rule.when):
                    values = leaf.value if isinstance(leaf.value, list | tuple) else [leaf.value]
                    found.setdefault(leaf.fact, set()).update(
                        v for v in values if not isinstance(v, bool)
                    )
        if isinstance(lp.policy, SwotPolicy):
            for ind in lp.policy.indicators:
                for band in ind.bands or ():
                    bounds = (band.gte, band.gt, band.lte, band.lt)
                    found.setdefault(ind.fact, set()).update(b for b in bounds if b is not None)
    return {path: tuple(sorted(v, key=repr)) for path, v in found.items()}


def field_schema(path: str) -> dict[str, Any] | None:
    group, _, name = path.partition(".")
    props = SCHEMA["properties"].get(group, {})
    if group == "swot":
        return props.get("additionalProperties")
    return props.get("properties", {}).get(name)


def valid_number(spec: dict[str, Any], v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return False
    if spec.get("type") == "integer" and not float(v).is_integer():
        return False
    return (
        v >= spec.get("minimum", -math.inf)
        and v <= spec.get("maximum", math.inf)
        and v > spec.get("exclusiveMinimum", -math.inf)
    )


def boundary_values(path: str) -> list[Any]:
    """Values on, just below and just above each threshold of ``path``, valid for it."""
    spec = field_schema(path) or {}
    if spec.get("type") == "boolean":
        return [True, False]
    out: list[Any] = []
    for t in thresholds().get(path, ()):
        if isinstance(t, str):
            out.append(t)
            continue
        candidates = [t, math.nextafter(t, -math.inf), math.nextafter(t, math.inf)]
        if float(t).is_integer():
            candidates += [int(t), int(t) - 1, int(t) + 1]
        out += [c for c in candidates if valid_number(spec, c)]
    return out


FACT_PATHS = sorted(
    p for p in thresholds() if p.split(".")[0] in SCHEMA["properties"] and field_schema(p)
)


# --- deterministic cases ---------------------------------------------------------------------


@pytest.mark.parametrize("as_of", [None, *AS_OF])
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_examples_agree(name: str, as_of: str | None) -> None:
    day = dt.date.fromisoformat(as_of) if as_of else None
    assert_same(example(name), as_of=day)


@pytest.mark.parametrize("path", FACT_PATHS)
def test_every_threshold_agrees(path: str) -> None:
    group, _, name = path.partition(".")
    values = boundary_values(path)
    assert values or path.startswith("swot."), f"no boundary value for {path}"
    for base in EXAMPLE_NAMES:
        for value in [*values, None]:
            facts = copy.deepcopy(example(base))
            target = facts.setdefault(group, {})
            if value is None:
                target.pop(name, None)
            else:
                target[name] = value
            for as_of in ("2026-03-01", "2026-11-30"):
                facts["as_of"] = as_of
                assert_same(facts)


# --- generated facts -------------------------------------------------------------------------


def number_strategy(path: str, spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    special = [v for v in (*boundary_values(path), *EXTREMES) if valid_number(spec, v)]
    lo = spec.get("minimum", spec.get("exclusiveMinimum", -1e21))
    hi = spec.get("maximum", 1e21)
    if spec.get("type") == "integer":
        generic: st.SearchStrategy[Any] = st.integers(max(0, int(lo)), 2**70)
    else:
        generic = st.one_of(
            st.floats(lo, hi, allow_nan=False, allow_infinity=False,
                      exclude_min="exclusiveMinimum" in spec),
            st.integers(max(0, math.ceil(lo)), 10**25),
        ).filter(lambda v: valid_number(spec, v))
    return st.one_of(st.sampled_from(special), generic) if special else generic


def field_strategy(path: str, spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in spec:
        return st.sampled_from(spec["enum"])
    kind = spec.get("type")
    if kind in ("number", "integer"):
        return number_strategy(path, spec)
    if kind == "boolean":
        return st.booleans()
    if path == "request.currency":
        return st.just("CNY")
    return st.text(alphabet="abcdefgh_", max_size=12)


def group_strategy(group: str, spec: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    if group == "swot":
        score = number_strategy("swot.x", spec["additionalProperties"])
        return st.fixed_dictionaries({}, optional={"management_quality": score, "extra": score})
    fields = {
        name: field_strategy(f"{group}.{name}", fspec)
        for name, fspec in spec["properties"].items()
    }
    return st.fixed_dictionaries({}, optional=fields)


def facts_strategy() -> st.SearchStrategy[dict[str, Any]]:
    groups = {
        g: group_strategy(g, spec)
        for g, spec in SCHEMA["properties"].items()
        if spec.get("type") == "object"
    }
    optional: dict[str, Any] = {**groups, "as_of": st.sampled_from(AS_OF)}
    # financials.dscr is required by the risk policy: usually present, so that most
    # generated documents are decided rather than refused.
    with_dscr = st.fixed_dictionaries(
        {"financials": st.tuples(groups["financials"], field_strategy(
            "financials.dscr", SCHEMA["properties"]["financials"]["properties"]["dscr"]
        )).map(lambda fd: {**fd[0], "dscr": fd[1]})},
        optional={k: v for k, v in optional.items() if k != "financials"},
    )
    anything = st.fixed_dictionaries({}, optional=optional)
    body = st.integers(0, 9).flatmap(lambda n: anything if n == 0 else with_dscr)
    return body.map(lambda b: {"client_id": "GEN-1", **b})


@settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(facts_strategy())
def test_generated_facts_agree(facts: dict[str, Any]) -> None:
    assert_same(facts)
