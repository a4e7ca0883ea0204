"""Facts validation never raises, whatever the document: deep nesting and huge error counts.

Every facts document gets an answer (a list of located errors), never an exception: the
HTTP service turns an exception into a 500. These tests run the validation under a caller
that already uses part of the stack (as a web server does), since a RecursionError
depends on how deep the caller is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from decide_support import decider, example

from engine.errors import DecisionRefused
from engine.facts import MAX_DEPTH, MAX_ERRORS, schema_errors

CALLER_FRAMES = 150  # roughly a Flask request handler's depth, plus pytest's own


def nested(levels: int) -> list[Any]:
    """``levels`` nested lists (built in a loop: ``json.loads`` of them would itself need
    the stack this test takes away; the HTTP service parses a body at a shallow depth)."""
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


def under_a_deep_caller(call: Callable[[], Any], frames: int = CALLER_FRAMES) -> Any:
    if frames:
        return under_a_deep_caller(call, frames - 1)
    return call()


def refused(facts: Any) -> list[tuple[str, str]]:
    def decide() -> None:
        decider("compiled").decide(facts)

    with pytest.raises(DecisionRefused) as info:
        under_a_deep_caller(decide)
    return [(e.path, e.message) for e in info.value.errors]


def seed() -> dict[str, Any]:
    return copy.deepcopy(example("seed-case"))


def test_a_deeply_nested_value_is_refused_at_its_pointer() -> None:
    facts = {"client_id": "a", "profile": {"name": nested(975)}}
    errors = refused(facts)
    # the document is level 1, profile 2, the outer list 3: level 33 is 30 lists further in
    deep = "/profile/name" + "/0" * (MAX_DEPTH - 2)
    assert errors[0] == (deep, f"nested too deeply (more than {MAX_DEPTH} levels)")
    # then what the selected policies miss, as for any refused document
    assert [path for path, _ in errors[1:]] == ["/financials/dscr"]


def test_nesting_up_to_the_limit_gets_the_ordinary_schema_error() -> None:
    facts = seed()
    facts["profile"]["name"] = nested(MAX_DEPTH - 2)  # deepest list: level MAX_DEPTH
    assert refused(facts) == [("/profile/name", "expected a string, got a list")]
    facts["profile"]["name"] = nested(MAX_DEPTH - 1)
    assert refused(facts)[0][1].startswith("nested too deeply")


@pytest.mark.parametrize("where", ["as_of", "client_id", "request.currency", "swot.x"])
def test_deep_values_where_policies_look_are_refused_too(where: str) -> None:
    # as_of and the currency are read again to find the policies' own errors
    facts = seed()
    group, _, name = where.rpartition(".")
    (facts.setdefault(group, {}) if group else facts)[name] = nested(980)
    errors = refused(facts)
    assert errors[0][0].startswith("/" + where.replace(".", "/") + "/0/0")
    assert errors[0][1].startswith("nested too deeply")


def test_a_deep_document_is_answered_by_schema_errors_too() -> None:
    doc = {"client_id": "a", "profile": {"name": {"a": nested(2000)}}, "swot": nested(2000)}
    errors = under_a_deep_caller(lambda: schema_errors(doc))
    assert [e.path[:12] for e in errors] == [
        "/profile/nam", "/swot/0/0/0/",
    ]


def test_many_unknown_fields_give_a_capped_list_of_errors() -> None:
    facts = seed()
    facts.update({f"x{i:05d}": 1 for i in range(20_000)})
    facts["client_idd"] = "typo"
    errors = refused(facts)
    assert len(errors) == MAX_ERRORS + 1
    assert errors[-1] == ("/", f"... and {20_001 - MAX_ERRORS} more errors")
    # the errors shown are the first by pointer, and keep their "did you mean" hint
    assert errors[0][0] == "/client_idd"
    assert "did you mean 'client_id'?" in errors[0][1]
    assert errors[1][0] == "/x00000"


def test_exactly_max_errors_are_not_capped() -> None:
    facts = seed()
    facts.update({f"x{i:03d}": 1 for i in range(MAX_ERRORS)})
    errors = refused(facts)
    assert len(errors) == MAX_ERRORS
    assert all(message.startswith("unknown field") for _, message in errors)


def test_many_deep_branches_are_capped_too() -> None:
    doc = {"client_id": "a", "profile": {f"k{i:04d}": nested(40) for i in range(MAX_ERRORS + 5)}}
    errors = schema_errors(doc)
    assert len(errors) == MAX_ERRORS + 1
    assert errors[-1].path == "/" and errors[-1].message == "... and 5 more errors"
