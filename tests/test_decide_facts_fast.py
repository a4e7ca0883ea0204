"""The fast facts check may only say "valid" when jsonschema finds no error."""

from __future__ import annotations

import copy
import json
from typing import Any

from decide_support import EXAMPLE_NAMES, ROOT, example
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from engine.facts import _all_finite, _fast_check, schema_errors
from engine.facts_fast import compile_schema

SCHEMA = json.loads((ROOT / "schemas" / "facts.schema.json").read_text(encoding="utf-8"))
SLOW = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
FAST = _fast_check()

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 10**21), st.floats(allow_nan=True),
    st.text(max_size=8), st.sampled_from(["A", "AAA", "CNY", "usd", "2026-11-30", "2026-02-30",
                                          "construction", "leader", "x" * 70, "score"]),
)
NAMES = sorted({name for g in SCHEMA["properties"].values() for name in g.get("properties", {})}
               | set(SCHEMA["properties"]) | {"management_quality", "score", "Bad"})


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """An example with a few fields replaced, added or removed, anywhere."""
    facts = copy.deepcopy(example(draw(st.sampled_from(EXAMPLE_NAMES))))
    for _ in range(draw(st.integers(1, 4))):
        group = draw(st.sampled_from([*SCHEMA["properties"], "other"]))
        name = draw(st.sampled_from(NAMES))
        value = draw(st.one_of(scalars, st.dictionaries(st.sampled_from(NAMES), scalars,
                                                         max_size=3)))
        action = draw(st.sampled_from(["set", "delete", "group"]))
        if action == "group":
            facts[group] = value
        elif isinstance(facts.get(group), dict):
            if action == "set":
                facts[group][name] = value
            else:
                facts[group].pop(name, None)
        else:
            facts[group] = {name: value}
    return facts


def test_the_facts_schema_compiles() -> None:
    assert FAST is not None


def test_unsupported_keywords_disable_the_fast_path() -> None:
    assert compile_schema({"type": "object", "oneOf": [{}]}) is None


@settings(max_examples=500, deadline=None)
@given(mutated())
def test_fast_valid_implies_schema_valid(facts: Any) -> None:
    assert FAST is not None
    slow_valid = not list(SLOW.iter_errors(facts))
    if FAST(facts):  # the fast check includes finiteness
        assert slow_valid and _all_finite(facts), facts
    # whatever the path, the answer is jsonschema's
    assert (schema_errors(facts) == []) == (slow_valid and _all_finite(facts))


def test_every_example_takes_the_fast_path() -> None:
    assert FAST is not None
    assert all(FAST(example(name)) for name in EXAMPLE_NAMES)


def test_the_fast_check_refuses_what_is_not_finite_or_plain_json() -> None:
    nan, inf = float("nan"), float("inf")
    free = compile_schema({"type": "object"})  # no type below: values walked as JSON
    assert free is not None
    assert free({"a": [1, "x", {"b": 2.5, "c": True}]})
    assert not free({"a": [1, {"b": inf}]})
    assert not free({"a": nan})
    assert not free({"a": None})
    assert not free({"a": (1, 2)})
    number = compile_schema({"type": "number"})
    assert number is not None
    assert number(1e308) and number(10**30)
    assert not number(nan) and not number(-inf) and not number(True)
    assert FAST is not None
    assert not FAST({"client_id": "A", "swot": {"x": nan}})
    assert not FAST({"client_id": "A", "financials": {"dscr": inf}})
