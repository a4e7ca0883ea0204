"""Schema patterns mean the same in Python as in ECMA-262: no trailing newline slips through.

Python's ``$`` also matches before a final ``\\n``; jsonschema uses Python's ``re``.
"""

from __future__ import annotations

import pytest

from engine.errors import DecisionRefused
from engine.evaluate import Decider
from engine.registry import Registry

BASE = {"client_id": "C-1", "financials": {"dscr": 1.3}}


@pytest.fixture(scope="module")
def decider() -> Decider:
    return Decider(Registry.load("policies"), "compiled")


@pytest.mark.parametrize(
    ("patch", "pointer"),
    [
        ({"client_id": "abc\n"}, "/client_id"),
        ({"as_of": "2026-11-30\n"}, "/as_of"),
        ({"request": {"currency": "CNY\n"}}, "/request/currency"),
        ({"swot": {"management_quality\n": 5}}, "/swot"),
    ],
)
def test_a_trailing_newline_is_refused(decider: Decider, patch: dict, pointer: str) -> None:
    facts = {**BASE, **patch}
    with pytest.raises(DecisionRefused) as refused:
        decider.decide(facts, as_of=None)
    assert any(e.path.startswith(pointer) for e in refused.value.errors), refused.value.errors
