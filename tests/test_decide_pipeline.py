"""The pipeline: version selection, pins, missing facts, trace, decision schema."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from decide_support import decider, example, frozen
from jsonschema import Draft202012Validator

from engine.decision import SCHEMA_PATH, render_schema
from engine.errors import NoPolicyInForce, UnknownPolicyVersion


def seed() -> dict[str, Any]:
    return copy.deepcopy(example("seed-case"))


def versions(decision: dict[str, Any]) -> dict[str, str]:
    return {p["id"]: p["version"] for p in decision["policies"]}


def borderline() -> dict[str, Any]:
    """Outcomes that differ between the versions in force in March and in November 2026."""
    facts = seed()
    facts["request"]["amount"] = 120  # high-net-worth from 100 (1.1.0), not from 150 (1.0.0)
    facts["monitoring"]["days_past_due"] = 30  # payment delay: >= 30 (1.0.0), > 30 (1.1.0)
    facts["monitoring"]["covenant_breaches_12m"] = 1  # trigger added in 1.1.0
    del facts["as_of"]
    return facts


def test_as_of_march_selects_the_first_versions() -> None:
    d = frozen("compiled", borderline(), as_of=dt.date(2026, 3, 1))
    assert d["as_of"] == "2026-03-01"
    assert versions(d) == {
        "classification": "1.0.0", "swot": "1.0.0", "risk": "1.0.0", "proposal": "1.0.0",
        "early_warning": "1.0.0",
    }
    assert d["segment"]["value"] == "general"
    assert [w["code"] for w in d["warnings"]] == ["payment_delay"]


def test_as_of_november_selects_the_new_versions() -> None:
    d = frozen("compiled", borderline(), as_of=dt.date(2026, 11, 30))
    assert versions(d)["classification"] == "1.1.0"
    assert versions(d)["early_warning"] == "1.1.0"
    assert d["segment"] == {"value": "high_net_worth", "rule": "hnw-large-need"}
    assert [w["code"] for w in d["warnings"]] == ["covenant_breach"]


def test_as_of_defaults_to_the_facts_date_then_today() -> None:
    facts = borderline()
    facts["as_of"] = "2026-03-01"
    assert frozen("compiled", facts)["as_of"] == "2026-03-01"
    del facts["as_of"]
    today = dt.datetime.now(dt.UTC).date()
    around = {today.isoformat(), (today + dt.timedelta(1)).isoformat()}  # midnight UTC
    assert frozen("compiled", facts)["as_of"] in around


def test_pins_override_the_date() -> None:
    d = frozen("compiled", borderline(), as_of=dt.date(2026, 11, 30),
               pins={"classification": "1.0.0"})
    assert versions(d)["classification"] == "1.0.0"
    assert versions(d)["early_warning"] == "1.1.0"
    assert d["segment"]["value"] == "general"


def test_unknown_pin() -> None:
    with pytest.raises(UnknownPolicyVersion):
        decider("compiled").decide(seed(), pins={"classification": "9.9.9"})


def test_no_policy_in_force() -> None:
    with pytest.raises(NoPolicyInForce):
        decider("compiled").decide(seed(), as_of=dt.date(2020, 1, 1))


def test_missing_facts_are_false_and_listed() -> None:
    facts = seed()
    del facts["project"]
    del facts["profile"]["market_position"]
    d = frozen("compiled", facts)
    # premium-construction reads project.phase: absent, so false; premium-operating wins.
    assert d["proposal"]["rules"][0] == "premium-operating"
    assert d["proposal"]["risk_sharing"] == {"type": "none", "share": None}
    assert {"project.phase", "project.cost_overrun_pct", "project.expected_irr",
            "profile.market_position"} <= set(d["missing_facts"])
    assert d["missing_facts"] == sorted(d["missing_facts"])


def test_rules_after_the_first_match_are_not_considered() -> None:
    facts = copy.deepcopy(example("strategic-partner"))
    del facts["relationship"]["products_held"]  # read only by the 2nd classification rule
    d = frozen("compiled", facts, explain=True)
    assert d["segment"]["rule"] == "strategic-long-high-contribution"
    assert "relationship.products_held" not in d["missing_facts"]
    considered = [t["rule"] for t in d["trace"] if t["table"] == "rules"
                  and t["policy"] == "classification"]
    assert considered == ["strategic-long-high-contribution"]


def test_trace_shape() -> None:
    facts = seed()
    del facts["relationship"]["products_held"]
    d = frozen("compiled", facts, explain=True)
    first = d["trace"][0]
    assert first == {
        "policy": "classification", "version": "1.1.0", "table": "rules",
        "rule": "strategic-long-high-contribution",
        "description": first["description"],
        "fired": False,
        "leaves": [
            {"fact": "relationship.years", "op": "gte", "expected": 5, "observed": 1},
            {"fact": "relationship.annual_contribution", "op": "gte", "expected": 20,
             "observed": 2.5},
        ],
    }
    broad = d["trace"][1]["leaves"][1]
    assert broad == {"fact": "relationship.products_held", "op": "gte", "expected": 5,
                     "observed": "missing"}
    fired = [(t["policy"], t["rule"]) for t in d["trace"] if t["fired"]]
    assert ("classification", "hnw-large-need") in fired
    assert ("proposal", "premium-construction") in fired
    # every early-warning trigger is considered (collect-all), none fired
    triggers = [t for t in d["trace"] if t["table"] == "triggers"]
    assert len(triggers) == 9 and not any(t["fired"] for t in triggers)


def test_no_trace_unless_asked() -> None:
    assert "trace" not in frozen("compiled", seed())


def test_short_tenor_uses_the_short_figures() -> None:
    facts = seed()
    facts["request"]["tenor_years"] = 2
    risk = frozen("compiled", facts)["risk"]
    assert (risk["grade"], risk["risk_weight"], risk["expected_loss_rate"]) == ("strong", 0.5, 0.0)


def test_decision_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        "schemas/decision.schema.json is stale: run python -m engine.decision"
    )


@pytest.mark.parametrize("name", ["seed-case", "distressed-client"])
def test_decisions_match_the_schema(name: str) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for explain in (False, True):
        d = decider("compiled").decide(example(name), explain=explain).model_dump(mode="json")
        assert list(validator.iter_errors(d)) == []
        assert d["decided_at"].endswith("Z")
