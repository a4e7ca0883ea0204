"""engine.explain: conditions in words, and explanations that agree with the engine (issue 7)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from engine.evaluate import Decider
from engine.explain import (
    condition_words,
    explain_condition,
    explain_trace,
    headline,
    segment_words,
    value_words,
)
from engine.model import Condition
from engine.registry import Registry
from server.web.present import rule_finder

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "policies" / "tests" / "examples").glob("*.json"))
CONDITION = TypeAdapter(Condition)


@pytest.fixture(scope="module")
def registry():
    return Registry.load(REPO / "policies")


@pytest.fixture(scope="module")
def decider(registry):
    return Decider(registry, "compiled")


@pytest.mark.parametrize(
    ("fact", "op", "expected", "words"),
    [
        ("financials.dscr", "gte", 1.3, "DSCR ≥ 1.3"),
        ("financials.credit_rating", "in", ["AAA", "AA", "A"], "rating in AAA, AA, A"),
        ("request.amount", "lt", 100.0, "requested < 100"),
        ("profile.market_position", "ne", "leader", "market position ≠ leader"),
        ("financials.leverage", "between", [1, 2.5], "leverage between 1 and 2.5"),
        ("financials.dscr", "exists", True, "DSCR is present"),
        ("monitoring.sponsor_distress", "eq", True, "sponsor distress = yes"),
        ("swot.management_quality", "gte", 7, "analyst score management quality ≥ 7"),
        ("project.unknown_thing", "not_in", ["a"], "project.unknown_thing not in a"),
    ],
)
def test_condition_words(fact, op, expected, words):
    assert condition_words(fact, op, expected) == words


def test_values_read_like_numbers_not_floats():
    assert value_words(5.0) == "5" and value_words(0.15) == "0.15"
    assert value_words([True, None]) == "yes, none"


def _cond(doc):
    return CONDITION.validate_python(doc)


def test_leaves_say_what_they_saw_and_missing_is_named():
    node = explain_condition(
        _cond({"all": [{"fact": "request.amount", "gte": 100},
                       {"fact": "financials.credit_rating", "in": ["AAA", "AA", "A"]}]}),
        {"request.amount": 300, "financials.credit_rating": "missing"},
    )
    texts = [(leaf.text, leaf.holds, leaf.missing) for leaf in node.leaves()]
    assert texts == [
        ("requested 300 ≥ 100", True, False),
        ("rating missing (needs in AAA/AA/A)", False, True),
    ]
    assert node.holds is False


def test_any_and_not_follow_the_tree_and_the_engine_semantics():
    cond = _cond({"any": [{"not": {"fact": "financials.dscr", "exists": True}},
                          {"fact": "financials.leverage", "ne": 2}]})
    # ne needs the fact present: on a missing leverage it is false, not "not equal".
    node = explain_condition(cond, {"financials.dscr": 1.2})
    assert node.kind == "any" and node.holds is False
    assert [c.holds for c in node.children] == [False, False]
    node = explain_condition(cond, {})
    assert node.holds is True  # not(exists) on a missing DSCR holds
    # a boolean is never equal to 1 (exact types, as the engines compare)
    eq_one = _cond({"fact": "monitoring.sponsor_distress", "eq": 1})
    assert explain_condition(eq_one, {"monitoring.sponsor_distress": True}).holds is False


def _variants():
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in EXAMPLES]
    out = []
    for doc in docs:
        out.append(doc)
        thin = copy.deepcopy(doc)  # facts missing: every "missing" path is explained too
        for group in ("financials", "request", "monitoring"):
            thin.pop(group, None)
        thin.setdefault("financials", {})["dscr"] = 1.2  # risk requires it
        out.append(thin)
    return out


@pytest.mark.parametrize("facts", _variants(), ids=lambda f: f["client_id"])
def test_every_explained_rule_agrees_with_the_engine(registry, decider, facts):
    decision = decider.decide(facts, explain=True).model_dump(mode="json")
    explained = explain_trace(decision["trace"], rule_finder(registry))
    assert explained and all(e.exact for e in explained)
    for item in explained:
        assert item.condition.holds is item.fired, (item.rule, item.text)
    assert headline(decision, explained).startswith(segment_words(decision["segment"]["value"]))


def test_the_seed_case_headline(registry, decider):
    seed = json.loads((REPO / "tests" / "data" / "http" / "seed-case.json").read_text())
    decision = decider.decide(seed, explain=True).model_dump(mode="json")
    explained = explain_trace(decision["trace"], rule_finder(registry))
    assert headline(decision, explained) == (
        "high-net-worth because rule `hnw-large-need`: requested 300 ≥ 100 ✓; "
        "rating A in AAA/AA/A ✓"
    )


def test_without_the_policy_the_trace_leaves_are_shown_flat(decider):
    seed = json.loads((REPO / "tests" / "data" / "http" / "seed-case.json").read_text())
    decision = decider.decide(seed, explain=True).model_dump(mode="json")
    explained = explain_trace(decision["trace"])  # no registry at hand
    winner = next(e for e in explained if e.rule == "hnw-large-need")
    assert not winner.exact and winner.condition.holds is True
    assert winner.text == "requested 300 ≥ 100 ✓; rating A in AAA/AA/A ✓"
