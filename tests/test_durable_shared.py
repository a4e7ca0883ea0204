"""Two policy versions under one key, prepared in one process, each keep their own meaning.

The durable engine codes constants as ranks, so two versions that differ only in their
thresholds compile to the same ruleset text; each must still code its facts its own way.
"""

from __future__ import annotations

from pathlib import Path

from engine.compiled import CompiledEngine
from engine.durable import DurableEngine
from engine.registry import Registry

ROOT = Path(__file__).resolve().parents[1]


def test_same_key_different_thresholds_match_independently() -> None:
    shipped = Registry.load(ROOT / "policies").get("classification", "1.0.0")
    reference = Registry.load(ROOT / "bench" / "reference_policies").get("classification", "1.0.0")
    assert shipped.key == reference.key and shipped.sha256 != reference.sha256
    durable, compiled = DurableEngine(), CompiledEngine()
    prepared = [(durable.prepare(p), compiled.prepare(p)) for p in (shipped, reference, shipped)]
    # 120 is on the high-net-worth side of the reference (>= 100), not of 1.0.0 (>= 150)
    for amount in (90, 100, 120, 150, 200):
        context = {
            "client_id": "C",
            "request": {"amount": amount},
            "financials": {"credit_rating": "A"},
            "relationship": {"years": 6, "annual_contribution": 19.5},
        }
        for on_durable, on_compiled in prepared:
            assert durable.match(on_durable, context) == compiled.match(on_compiled, context)
