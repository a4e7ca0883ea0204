"""The canonical form that record hashes cover: numbers, members joined under the lock.

``canonical`` takes shortcuts for speed (floats in the range where Python's repr and
ECMAScript agree pass through untouched; a record's members are canonicalised before the
chain lock and joined under it); these tests pin the output to the rules of the module
docstring, so a shortcut can never change a stored hash.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from audit_support import make_entry
from hypothesis import given
from hypothesis import strategies as st

from engine.chain import _es_number, canonical, canonical_parts, join_parts
from engine.record import DecisionLog

# (value, ECMAScript Number::toString) — the cases where it differs from repr, and some
# where it does not.
NUMBERS = [
    (0.0, "0"), (-0.0, "0"), (5.0, "5"), (-5.0, "-5"), (1e20, "100000000000000000000"),
    (1e21, "1e+21"), (1.5e22, "1.5e+22"), (1e16, "10000000000000000"),
    (1.5e16, "15000000000000000"), (1.2345e17, "123450000000000000"),
    (9.999999999999998e15, "9999999999999998"), (0.15, "0.15"), (-0.75, "-0.75"),
    (1e-4, "0.0001"), (1.5e-5, "0.000015"), (1e-6, "0.000001"), (1e-7, "1e-7"),
    (1.5e-7, "1.5e-7"), (-2.5e-8, "-2.5e-8"), (123456.789, "123456.789"),
    (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
]  # fmt: skip


@pytest.mark.parametrize(("value", "text"), NUMBERS)
def test_numbers_in_ecmascript_form(value: float, text: str) -> None:
    assert canonical(value).decode() == text
    assert canonical({"x": [value]}).decode() == f'{{"x":[{text}]}}'


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        canonical({"a": {"b": [value]}})


def test_non_string_keys_are_refused() -> None:
    with pytest.raises(TypeError, match="keys must be strings"):
        canonical({"a": {1: "x"}})
    with pytest.raises(TypeError, match="keys must be strings"):
        canonical_parts({2: "x"})


def test_keys_sorted_text_as_is_and_tuples_as_lists() -> None:
    doc = {"b": ("é", True, None), "a": {"z": 1, "ä": "\u0001"}, "A": []}
    assert canonical(doc).decode() == '{"A":[],"a":{"z":1,"ä":"\\u0001"},"b":["é",true,null]}'


# JSON-like values: what a record holds (facts, decisions), floats of every magnitude.
_floats = st.floats(allow_nan=False, allow_infinity=False)
_leaves = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _floats | st.text(max_size=8)
_json = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=4),
    max_leaves=20,
)


def _reference(value: object) -> str:
    """The module docstring's rules, written plainly (no shortcuts)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _es_number(value) if not (value.is_integer() and abs(value) < 1e21) else str(
            int(value)
        )
    if isinstance(value, list):
        return "[" + ",".join(_reference(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ",".join(
        json.dumps(k, ensure_ascii=False) + ":" + _reference(value[k]) for k in sorted(value)
    ) + "}"


@given(_json)
def test_canonical_matches_the_plain_rules(value: object) -> None:
    assert canonical(value).decode() == _reference(value)


@given(st.dictionaries(st.text(max_size=6), _json, max_size=6), st.integers(1, 2**40))
def test_joined_parts_equal_the_whole(body: dict, seq: int) -> None:
    prev = "ab" * 32
    whole = canonical({**body, "seq": seq, "prev_hash": prev}).decode()
    joined = join_parts({**canonical_parts(body), "seq": str(seq), "prev_hash": f'"{prev}"'})
    assert joined == whole


def _slow_parts(entry: dict) -> dict[str, str]:
    """The record members as the log first made them: a plain-JSON copy, then canonical."""
    from engine.record import _jsonable

    plain = {**entry, "decision": _jsonable(entry["decision"]),
             "request": _jsonable(entry["request"])}
    return DecisionLog(None, None, checkpoint_every=0).prepare(plain).parts  # type: ignore[arg-type]


def test_log_entries_with_dates_are_recorded_as_their_plain_json_copy() -> None:
    entry = make_entry(3)
    entry["decision"]["decided_at"] = dt.datetime(2026, 12, 4, 9, 30, tzinfo=dt.UTC)
    entry["request"]["as_of"] = dt.date(2026, 11, 30)
    entry["request"]["pins"] = {"risk": "1.0.0"}
    fast = DecisionLog(None, None, checkpoint_every=0).prepare(entry)  # type: ignore[arg-type]
    assert fast.parts == _slow_parts(entry)
    assert json.loads(fast.parts["request"])["as_of"] == "2026-11-30"
    assert json.loads(fast.parts["decided_at"]) == "2026-12-04T09:30:00+00:00"


def test_non_string_keys_in_a_log_entry_are_made_strings_as_before() -> None:
    entry = make_entry(4)
    entry["request"]["facts"]["swot"] = {1: 5.0}
    parts = DecisionLog(None, None, checkpoint_every=0).prepare(entry).parts  # type: ignore[arg-type]
    assert json.loads(parts["request"])["facts"]["swot"] == {"1": 5}


def test_a_non_finite_number_fails_the_entry_before_anything_is_written() -> None:
    entry = make_entry(5, risk={"grade": "good", "expected_loss_rate": math.nan})
    with pytest.raises(ValueError, match="cannot be recorded"):
        DecisionLog(None, None, checkpoint_every=0).prepare(entry)  # type: ignore[arg-type]


def test_a_lone_surrogate_fails_the_entry_before_anything_is_written() -> None:
    # JSON's "\ud800" parses to a str that has no UTF-8 form: the hash could not be taken.
    entry = make_entry(6)
    entry["request"]["facts"]["profile"]["name"] = "\ud800"
    with pytest.raises(ValueError, match="cannot be recorded"):
        DecisionLog(None, None, checkpoint_every=0).prepare(entry)  # type: ignore[arg-type]
