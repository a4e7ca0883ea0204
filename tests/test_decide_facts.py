"""Facts validation: every error located by a JSON pointer, refused before any engine runs."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from decide_support import decider, example

from engine.errors import DecisionRefused


def refused(facts: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(DecisionRefused) as info:
        decider("compiled").decide(facts, **kwargs)
    return {e.path: e.message for e in info.value.errors}


def seed() -> dict[str, Any]:
    return copy.deepcopy(example("seed-case"))


def test_string_where_a_number_belongs() -> None:
    facts = seed()
    facts["financials"]["dscr"] = "1.45"
    errors = refused(facts)
    assert list(errors) == ["/financials/dscr"]
    assert errors["/financials/dscr"] == 'expected a number, got string "1.45"'


def test_boolean_is_not_a_number_and_number_not_an_integer() -> None:
    facts = seed()
    facts["request"]["amount"] = True
    facts["monitoring"]["days_past_due"] = 4.5
    errors = refused(facts)
    assert errors["/request/amount"] == "expected a number, got boolean true"
    assert errors["/monitoring/days_past_due"] == "expected an integer, got number 4.5"


def test_every_error_is_reported_at_once() -> None:
    facts = seed()
    facts["financials"]["credit_rating"] = "A+"
    facts["financials"]["ebitda_margin"] = 1.5
    facts["request"]["amount"] = 0
    facts["as_of"] = "2026-02-30"
    del facts["client_id"]
    errors = refused(facts)
    assert set(errors) == {
        "/as_of", "/client_id", "/financials/credit_rating", "/financials/ebitda_margin",
        "/request/amount",
    }
    assert errors["/client_id"] == "required field is missing"
    assert errors["/request/amount"] == "expected a number > 0, got 0"
    assert errors["/financials/ebitda_margin"] == "expected a number <= 1, got 1.5"
    assert errors["/financials/credit_rating"].startswith('expected one of "AAA", "AA"')
    assert "valid date" in errors["/as_of"]


@pytest.mark.parametrize(
    ("where", "name", "pointer"),
    [
        (None, "finances", "/finances"),
        ("financials", "dscrr", "/financials/dscrr"),
        ("request", "tenor", "/request/tenor"),
    ],
)
def test_unknown_fields_are_rejected(where: str | None, name: str, pointer: str) -> None:
    facts = seed()
    (facts if where is None else facts[where])[name] = 1
    errors = refused(facts)
    assert list(errors) == [pointer]
    assert errors[pointer].startswith("unknown field")


def test_unknown_field_suggests_the_close_name() -> None:
    facts = seed()
    facts["financials"]["ebitda_margn"] = 0.2
    assert "did you mean 'ebitda_margin'?" in refused(facts)["/financials/ebitda_margn"]


def test_reserved_swot_names_are_rejected_at_the_name() -> None:
    facts = seed()
    facts["swot"] = {"score": 9, "management_quality": 11}
    errors = refused(facts)
    assert "reserved" in errors["/swot/score"]
    assert errors["/swot/management_quality"] == "expected a number <= 10, got 11"


def test_non_finite_numbers_are_refused() -> None:
    facts = seed()
    facts["financials"]["leverage"] = float("inf")
    facts["financials"]["dscr"] = float("nan")
    errors = refused(facts)
    assert errors["/financials/leverage"] == "expected a finite number, got inf"
    assert errors["/financials/dscr"] == "expected a finite number, got nan"


def test_not_an_object() -> None:
    assert refused([1, 2]) == {"/": "expected an object, got a list"}


def test_wrong_currency() -> None:
    facts = seed()
    facts["request"]["currency"] = "USD"
    errors = refused(facts)
    assert list(errors) == ["/request/currency"]
    assert "expected the policies' base currency CNY, got 'USD'" in errors["/request/currency"]


def test_wrong_currency_is_reported_with_the_schema_errors() -> None:
    facts = seed()
    facts["request"]["currency"] = "EUR"
    facts["financials"]["dscr"] = "high"
    assert set(refused(facts)) == {"/request/currency", "/financials/dscr"}


def test_required_facts_of_a_policy() -> None:
    facts = seed()
    del facts["financials"]["dscr"]
    errors = refused(facts)
    assert errors == {"/financials/dscr": "required by policy risk 1.0.0: fact is missing"}


def test_required_facts_when_the_whole_group_is_missing() -> None:
    facts = {"client_id": "NEW-1", "as_of": "2026-11-30"}
    assert list(refused(facts)) == ["/financials/dscr"]


def test_the_callers_facts_are_not_changed() -> None:
    facts = seed()
    facts["swot"] = {"management_quality": 7}
    before = copy.deepcopy(facts)
    decider("compiled").decide(facts)
    assert facts == before
