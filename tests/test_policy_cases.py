"""Every policy test case in policies/tests, on both engines, through the same runner as
``crmc test`` (one runner, two front doors). A problem in a case file fails as its own
parameter, located."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.casetest import Case, load_suite, make_decider, run_case
from engine.config import ENGINES
from engine.errors import Problem

ROOT = Path(__file__).resolve().parent.parent
SUITE = load_suite([ROOT / "policies" / "tests"])
ITEMS: list[Case | Problem] = [*SUITE.problems, *SUITE.cases]
_DECIDERS: dict[str, object] = {}


def _decider(engine: str) -> object:
    # One Decider per engine per worker process: preparing the policies is the costly part.
    if engine not in _DECIDERS:
        _DECIDERS[engine] = make_decider(ROOT / "policies", engine)
    return _DECIDERS[engine]


def _id(item: Case | Problem) -> str:
    return item.id if isinstance(item, Case) else f"{item.file}:{item.line}:{item.code}"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("item", ITEMS, ids=_id)
def test_policy_case(item: Case | Problem, engine: str) -> None:
    if isinstance(item, Problem):
        pytest.fail(str(item), pytrace=False)
    result = run_case(item, _decider(engine))
    if not result.passed:
        pytest.fail("\n".join(result.report()), pytrace=False)
