"""The benchmark's contenders decide alike (correctness only; timings live in bench/).

The engine benchmark (``python -m bench``) compares our two engines with zen-engine, raw
durable_rules and a hand-written function on the peers' reference policy. Its ratios only
mean something if all five give the same decisions, and if the clients are the peers'.
"""

from __future__ import annotations

import pytest

from bench import contenders
from bench.peer_engines import plain_decide
from bench.reference_clients import (
    PEER_CLIENTS_SHA256,
    facts_clients,
    peer_clients,
    peer_clients_sha256,
)
from engine.facts import schema_errors

N = 300


@pytest.fixture(scope="module")
def reference() -> list[dict]:
    return [plain_decide(c) for c in peer_clients(N)]


def test_clients_are_the_peers_clients() -> None:
    # Same random call sequence as /work/shared/peers/gen_clients.py: same bytes.
    assert peer_clients_sha256(peer_clients()) == PEER_CLIENTS_SHA256


def test_facts_documents_are_valid_and_keep_the_values() -> None:
    for peer, facts in zip(peer_clients(N), facts_clients(N), strict=True):
        assert schema_errors(facts) == []
        assert facts["financials"]["dscr"] == peer["dscr"]
        assert facts["swot"]["threats"] == peer["threats"]
        # the only change: a negative overrun (forbidden by our schema) is clamped at 0
        assert facts["project"]["cost_overrun_pct"] == max(peer["cost_overrun_pct"], 0)


def test_reference_outputs_cover_every_branch(reference: list[dict]) -> None:
    # The comparison is only as good as the variety of the outcomes it sees.
    assert {o["classification"] for o in reference} == {
        "strategic_partner", "high_net_worth", "general"}
    assert {o["swot_grade"] for o in reference} == {"A", "B", "C"}
    assert {o["term_years"] for o in reference} == {3, 5, 7}
    assert {o["risk_sharing"] for o in reference} == {"none", "revenue_share"}
    codes = {w[0] for o in reference for w in o["warnings"]}
    assert codes == set(contenders.WARNING_ORDER)


@pytest.mark.parametrize("engine", ["compiled", "durable", "zen", "raw"])
def test_contender_gives_the_reference_decisions(engine: str, reference: list[dict]) -> None:
    if engine == "zen":
        pytest.importorskip("zen", reason="zen-engine is a bench extra ([bench])")
    decide = contenders.make(engine)
    outputs = [decide(c) for c in contenders.inputs(engine, N)]
    result = contenders.compare(reference, outputs)
    first = result["first_mismatch"]
    assert result["mismatches"] == 0, (result, None if first is None else outputs[first])
    assert result["order_only"] == 0


def test_compare_counts_a_changed_field(reference: list[dict]) -> None:
    changed = [dict(o) for o in reference]
    changed[7]["swot_grade"] = "Z"
    changed[9]["warnings"] = [*reversed(changed[9]["warnings"]), ["dscr_breach", "high"]]
    result = contenders.compare(reference, changed)
    assert result["mismatches"] == 2
    assert result["by_field"]["swot_grade"] == 1
    assert result["first_mismatch"] == 7
