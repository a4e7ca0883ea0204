"""The durable_rules engine: operators, missing facts, numbers, registration, sessions."""

from __future__ import annotations

import math
import random

import pytest
from durable_support import (
    constants,
    expected,
    loaded,
    random_context,
    shipped,
    warnings_policy,
)

from engine import durable, durable_compile
from engine.durable import DurableEngine, DurableError
from engine.errors import PolicyError

ENGINE = DurableEngine()
DSCR = "financials.dscr"

# One trigger per (operator, value) on a numeric, a string and a boolean fact.
OPERATORS = {
    "eq_num": {"fact": "financials.dscr", "eq": 1.3},
    "eq_int_float": {"fact": "monitoring.days_past_due", "eq": 30.0},
    "eq_str": {"fact": "financials.credit_rating", "eq": "AA"},
    "eq_true": {"fact": "monitoring.sponsor_distress", "eq": True},
    "eq_false": {"fact": "monitoring.sponsor_distress", "eq": False},
    "ne_str": {"fact": "financials.credit_rating", "ne": "AA"},
    "ne_num": {"fact": "financials.dscr", "ne": 1.3},
    "lt": {"fact": "financials.dscr", "lt": 1.1},
    "lte": {"fact": "financials.dscr", "lte": 1.1},
    "gt": {"fact": "financials.dscr", "gt": 1.2},
    "gte": {"fact": "financials.dscr", "gte": 1.2},
    "in": {"fact": "financials.credit_rating", "in": ["AAA", "AA", "A"]},
    "in_num": {"fact": "monitoring.days_past_due", "in": [0, 30, 90]},
    "not_in": {"fact": "financials.credit_rating", "not_in": ["CCC", "CC", "C", "D"]},
    "between": {"fact": "financials.ebitda_margin", "between": [-0.1, 0.2]},
    "exists": {"fact": "financials.dscr", "exists": True},
    "absent": {"fact": "financials.dscr", "exists": False},
    "not_gt": {"not": {"fact": "financials.dscr", "gt": 1.2}},
    "not_eq_str": {"not": {"fact": "financials.credit_rating", "eq": "AA"}},
    "not_in_neg": {"not": {"fact": "financials.credit_rating", "in": ["AAA", "AA"]}},
    "not_between": {"not": {"fact": "financials.ebitda_margin", "between": [-0.1, 0.2]}},
    "not_exists": {"not": {"fact": "financials.dscr", "exists": True}},
}
OPS = warnings_policy("durable_ops", OPERATORS)


def match(lp, ctx) -> frozenset[str]:
    return ENGINE.match(ENGINE.prepare(lp), ctx)


def test_every_operator_on_present_facts():
    ctx = {
        "financials": {"dscr": 1.2, "credit_rating": "AA", "ebitda_margin": -0.1},
        "monitoring": {"days_past_due": 30, "sponsor_distress": False},
    }
    assert match(OPS, ctx) == {
        "eq_int_float", "eq_str", "eq_false", "ne_num", "gte", "in", "in_num", "not_in",
        "between", "exists", "not_gt",
    }
    assert match(OPS, ctx) == expected(OPS, ctx)


def test_every_leaf_on_a_missing_fact_is_false_and_its_negation_true():
    assert match(OPS, {}) == {"absent", "not_gt", "not_eq_str", "not_in_neg",
                              "not_between", "not_exists"}
    # a group present but without the fact, or a group that is not an object
    assert match(OPS, {"financials": {}, "monitoring": {}}) == match(OPS, {})
    assert match(OPS, {"financials": "AA", "monitoring": 3}) == match(OPS, {})


def test_types_are_exact():
    ctx = {
        "financials": {"dscr": "1.3", "credit_rating": 1, "ebitda_margin": True},
        "monitoring": {"days_past_due": True, "sponsor_distress": 1},
    }
    got = match(OPS, ctx)
    # a string is never ordered against a number, a boolean is never the number 1
    assert not got & {"eq_num", "lt", "lte", "gt", "gte", "between", "eq_true", "in_num"}
    assert {"ne_num", "ne_str", "not_in", "not_gt", "not_between"} <= got
    assert got == expected(OPS, ctx)


def test_nested_all_any_not():
    lp = warnings_policy("durable_nested", {
        "deep": {"all": [
            {"any": [{"fact": "financials.dscr", "lt": 1.1},
                     {"not": {"all": [{"fact": "financials.leverage", "lte": 4},
                                      {"fact": "financials.credit_rating", "in": ["A", "BBB"]}]}}]},
            {"not": {"any": [{"fact": "monitoring.sponsor_distress", "eq": True},
                             {"fact": "project.phase", "eq": "construction"}]}},
        ]},
        "same_fact": {"all": [{"fact": "financials.dscr", "gte": 1.0},
                              {"not": {"fact": "financials.dscr", "between": [1.2, 1.3]}},
                              {"any": [{"fact": "financials.dscr", "lt": 1.25},
                                       {"fact": "financials.dscr", "gt": 2}]}]},
        "never": {"all": [{"fact": "financials.dscr", "lt": 1},
                          {"fact": "financials.dscr", "gt": 2}]},
        "always": {"any": [{"fact": "financials.dscr", "exists": True},
                           {"not": {"fact": "financials.dscr", "exists": True}}]},
    })
    rng = random.Random(7)
    consts = constants([lp])
    for _ in range(2000):
        ctx = random_context(rng, consts)
        assert match(lp, ctx) == expected(lp, ctx), ctx
    assert "always" in match(lp, {}) and "deep" in match(lp, {})


@pytest.mark.parametrize("value", [1e-05, 5e-05, 1.5e-05, 1e20, 1e+300, 0, 0.0, -0.0,
                                   2**53 + 1, 2**63 - 1, 2**63, 2**64 + 1, 10**30, -(10**30),
                                   math.inf, -math.inf, math.nan])
def test_numbers_that_break_durable_rules_unguarded(value):
    lp = warnings_policy("durable_numbers", {
        "tiny": {"fact": "project.expected_irr", "lt": 1e-04},
        "exactly_tiny": {"fact": "project.expected_irr", "eq": 1e-05},
        "huge": {"fact": "project.expected_irr", "gte": 1e20},
        "zero": {"fact": "project.expected_irr", "eq": 0},
        "int64": {"fact": "project.expected_irr", "gt": 2.0**63},
        "big_int": {"fact": "project.expected_irr", "eq": 2**64 + 1},
        "not_big_int": {"fact": "project.expected_irr", "ne": 2**64},
    })
    ctx = {"project": {"expected_irr": value}}
    assert match(lp, ctx) == expected(lp, ctx)


def test_negative_and_threshold_floats():
    lp = warnings_policy("durable_thresholds", {
        "loss": {"fact": "financials.ebitda_margin", "lt": 0},
        "deep_loss": {"fact": "financials.ebitda_margin", "lte": -0.25},
        "lockup": {"fact": "financials.dscr", "lt": 1.1},
        "covered": {"fact": "financials.dscr", "gte": 1.1},
    })
    for margin in (-1, -0.25, math.nextafter(-0.25, 0), -1e-05, 0, 0.3):
        for dscr in (1.1, math.nextafter(1.1, 0), math.nextafter(1.1, 2), 1.0999999999, 0.1 + 1.0):
            ctx = {"financials": {"ebitda_margin": margin, "dscr": dscr}}
            assert match(lp, ctx) == expected(lp, ctx), ctx
    assert match(lp, {"financials": {"dscr": 1.1, "ebitda_margin": -0.25}}) == {
        "loss", "deep_loss", "covered"}


def test_booleans():
    lp = warnings_policy("durable_bools", {
        "distress": {"fact": "monitoring.sponsor_distress", "eq": True},
        "no_distress": {"fact": "monitoring.sponsor_distress", "ne": True},
        "one": {"fact": "monitoring.sponsor_distress", "eq": 1},
    })
    assert match(lp, {"monitoring": {"sponsor_distress": True}}) == {"distress"}
    assert match(lp, {"monitoring": {"sponsor_distress": False}}) == {"no_distress"}
    assert match(lp, {"monitoring": {"sponsor_distress": 1}}) == {"no_distress", "one"}
    assert match(lp, {}) == frozenset()


def test_shipped_policies_agree_with_the_reference_evaluator():
    lps = shipped()
    consts = constants(lps)
    rng = random.Random(2024)
    prepared = [(lp, ENGINE.prepare(lp)) for lp in lps]
    for _ in range(1500):
        ctx = random_context(rng, consts)
        for lp, prep in prepared:
            assert ENGINE.match(prep, ctx) == expected(lp, ctx), (lp.key, ctx)


def test_one_ruleset_per_version_registered_once():
    lps = shipped()
    first = [ENGINE.prepare(lp) for lp in lps]
    again = [DurableEngine().prepare(lp) for lp in shipped()]
    assert [(a.name, a.handle) for a in first] == [(b.name, b.handle) for b in again]
    # <policy-id>@<version>, with a digest when another test took the name for other rules
    assert all(p.name.split("#")[0] == lp.key for p, lp in zip(first, lps, strict=True))


def test_a_different_definition_under_a_taken_key_gets_its_own_ruleset():
    a = ENGINE.prepare(warnings_policy("durable_rekey", {"x": {"fact": DSCR, "lt": 1}}))
    b = ENGINE.prepare(warnings_policy("durable_rekey", {"x": {"fact": DSCR, "gt": 1}}))
    assert a.name == "durable_rekey@1.0.0" and b.name.startswith("durable_rekey@1.0.0#")
    assert ENGINE.match(a, {"financials": {"dscr": 0.5}}) == {"x"}
    assert ENGINE.match(b, {"financials": {"dscr": 0.5}}) == frozenset()


def test_more_evaluations_than_durable_rules_keeps_sessions():
    prep = ENGINE.prepare(OPS)
    for i in range(1100):  # 1,024 live sessions would raise MemoryError
        ctx = {"financials": {"dscr": 1 + i / 1000}}
        assert ENGINE.match(prep, ctx) == expected(OPS, ctx)


def test_an_exception_in_an_action_surfaces_and_leaves_no_session():
    prep = ENGINE.prepare(OPS)

    def failing(name: str) -> None:
        raise RuntimeError(f"action for {name} failed")

    for i in range(1100):  # each failed evaluation must still delete its session
        sid = f"failing-{i}"
        message = durable._message(prep, {"financials": {"dscr": 1.0}}, sid)
        with durable._ENGINE_LOCK, pytest.raises(RuntimeError, match=r"action for \w+ failed"):
            durable.run(prep, message, sid, failing)
    ctx = {"financials": {"dscr": 1.0}}
    assert ENGINE.match(prep, ctx) == expected(OPS, ctx)


def test_an_engine_error_surfaces():
    prep = ENGINE.prepare(OPS)
    with durable._ENGINE_LOCK, pytest.raises(DurableError):
        durable.run(prep, '{"sid":"broken","t":1,"f0":5e-05}', "broken", lambda name: None)
    assert ENGINE.match(prep, {}) == expected(OPS, {})


def test_a_condition_too_large_for_durable_rules_is_a_policy_error():
    # six any-of-four on distinct facts: 4**6 alternatives once expanded to $or branches
    many = {"all": [{"any": [{"fact": f"swot.s{i}_{j}", "gt": j} for j in range(4)]}
                    for i in range(6)]}
    with pytest.raises(PolicyError, match=r"brings the version to 4096 alternatives") as err:
        ENGINE.prepare(warnings_policy("durable_huge", {"huge": many}))
    assert err.value.problems[0].json_path == "$.triggers[0].when"


def test_a_version_never_reaches_the_rule_count_where_durable_rules_hangs():
    # 3 alternatives per trigger (absent, below 1, above 1): 171 triggers are 513 rules,
    # one more than create_ruleset survives (it loops forever from 514 with the open rule)
    cond = {"not": {"fact": "financials.dscr", "eq": 1}}
    fits = {f"t{i}": cond for i in range(170)}
    assert len(match(warnings_policy("durable_many", fits), {})) == 170
    with pytest.raises(PolicyError, match="at most 512") as err:
        ENGINE.prepare(warnings_policy("durable_too_many", {**fits, "t170": cond}))
    assert err.value.problems[0].json_path == "$.triggers[170].when"


def test_deeply_nested_conditions_compile_flat():
    # 20 ranges in an all, inside any/not: nested $and/$or groups in one durable_rules
    # pattern fail from about 14 on (error 113); the compiled patterns are flat.
    ranges = [{"fact": f"swot.s{i}", "between": [2, 8]} for i in range(20)]
    lp = warnings_policy("durable_deep", {
        "deep": {"any": [{"all": ranges}, {"not": {"fact": "financials.dscr", "exists": True}}]},
    })
    inside = {"financials": {"dscr": 1}, "swot": {f"s{i}": 5 for i in range(20)}}
    outside = {"financials": {"dscr": 1}, "swot": {f"s{i}": 5 for i in range(19)}}
    assert match(lp, inside) == {"deep"}
    assert match(lp, outside) == frozenset()
    assert match(lp, {}) == {"deep"}


def test_swot_has_no_rules_to_match():
    swot = next(lp for lp in shipped() if lp.kind == "swot")
    assert ENGINE.match(ENGINE.prepare(swot), {"swot": {"strengths": 5}}) == frozenset()


def test_inline_classification_with_outputs_in_the_context():
    lp = loaded({
        "kind": "proposal", "id": "durable_outputs", "version": "1.0.0",
        "effective_from": "2025-01-01", "status": "draft", "owner": "t", "change_note": "t",
        "base": [{"id": "premium", "description": "d",
                  "when": {"all": [{"fact": "segment", "in": ["high_net_worth", "strategic"]},
                                   {"fact": "swot.score", "gte": 70}]},
                  "then": {"tenor_years": 5, "rate_type": "fixed", "interest_only_years": 3,
                           "repayment": "sculpted"}}],
        "default": {"tenor_years": 3, "rate_type": "floating", "interest_only_years": 0,
                    "repayment": "amortising"},
        "adjustments": [{"id": "weak", "description": "d",
                         "when": {"fact": "risk.grade", "in": ["weak", "default"]},
                         "then": {"services": ["x"]}}],
    })
    ctx = {"segment": "strategic", "swot": {"score": 70.0, "grade": "A"},
           "risk": {"grade": "weak"}}
    assert match(lp, ctx) == {"premium", "weak"}
    assert match(lp, {"segment": "general", "swot": {"score": 69.9}}) == frozenset()


def test_the_message_property_limit_is_checked_when_preparing():
    def reading(n: int):
        leaves = [{"fact": f"swot.s{i}", "gte": 5} for i in range(n)]
        return warnings_policy(f"durable_wide_{n}", {"wide": {"all": leaves}})

    widest = reading(durable_compile.MAX_FACTS)  # sid, id, t + 250 facts: 253 < 255
    ctx = {"swot": {f"s{i}": 5 for i in range(durable_compile.MAX_FACTS)}}
    assert match(widest, ctx) == {"wide"}
    with pytest.raises(PolicyError, match="durable_rules messages hold at most 250"):
        ENGINE.prepare(reading(durable_compile.MAX_FACTS + 1))
