"""Whole decisions for the shared examples, against golden files (id and clock frozen).

Regenerate after an intended change with ``CRMC_UPDATE_GOLDEN=1 pytest
tests/test_decide_golden.py`` and review the diff like code.
"""

from __future__ import annotations

import json
import os

import pytest
from decide_support import ENGINE_PARAMS, EXAMPLE_NAMES, GOLDEN, example, frozen

UPDATE = os.environ.get("CRMC_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_golden_decision(name: str, engine: str) -> None:
    got = frozen(engine, example(name), explain=True)
    path = GOLDEN / f"{name}.json"
    if UPDATE and engine == "compiled":
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    want = json.loads(path.read_text(encoding="utf-8"))
    assert got["engine"] == engine
    assert {**got, "engine": "*"} == {**want, "engine": "*"}


def test_seed_case_outcome() -> None:
    """The method's reference outcome (shared/examples/README.md), exactly."""
    d = frozen("compiled", example("seed-case"))
    assert d["segment"] == {"value": "high_net_worth", "rule": "hnw-large-need"}
    p = d["proposal"]
    assert (p["tenor_years"], p["rate_type"], p["interest_only_years"]) == (5, "fixed", 3)
    assert p["risk_sharing"]["type"] == "revenue_share"
    assert p["services"] == ["progress_reports", "financial_analysis"]
    assert d["warnings"] == []
    assert d["risk"]["grade"] == "strong"
    assert d["swot"] == {**d["swot"], "score": 83.1, "grade": "A"}


def test_strategic_partner_outcome() -> None:
    d = frozen("compiled", example("strategic-partner"))
    assert d["segment"]["value"] == "strategic_partner"
    assert d["service_plan"]["relationship_manager"] == "senior_director"
    p = d["proposal"]
    assert (p["tenor_years"], p["rate_type"], p["repayment"]) == (15, "floating", "sculpted")
    assert p["covenants"]["hedging_pct"] == 75
    assert d["warnings"] == []


def test_general_client_outcome() -> None:
    d = frozen("compiled", example("general-client"))
    assert d["segment"] == {"value": "general", "rule": None}
    assert d["risk"]["grade"] == "satisfactory"
    assert d["proposal"]["rules"][0] == "short-standard"
    assert d["warnings"] == []


def test_distressed_client_outcome() -> None:
    d = frozen("compiled", example("distressed-client"))
    assert d["segment"]["value"] == "general"
    assert d["risk"]["grade"] == "weak"
    assert [w["code"] for w in d["warnings"]] == [
        "dscr_breach", "payment_delay", "cost_overrun", "construction_delay",
        "rating_pressure", "over_leveraged", "covenant_breach",
    ]
    dscr = d["warnings"][0]
    assert dscr["severity"] == "high" and dscr["observed"] == {"financials.dscr": 1.04}
    assert d["proposal"]["covenants"]["cash_sweep"] is True  # weak-risk-protection applied
