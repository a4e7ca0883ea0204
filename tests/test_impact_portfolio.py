"""bench.portfolio: valid facts, reproducible from a seed, thresholds pinned."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from bench.portfolio import generate, main, thresholds

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"


def test_documents_are_valid_facts():
    schema = json.loads((ROOT / "schemas/facts.schema.json").read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for doc in generate(400, seed=5, policies_dir=POLICIES):
        errors = list(validator.iter_errors(doc))
        assert not errors, (doc["client_id"], errors[0].message)


def test_same_seed_same_portfolio_and_file_output(tmp_path):
    out = tmp_path / "p.jsonl"
    assert main(["--n", "50", "--seed", "9", "-o", str(out), "--policies", str(POLICIES)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 50
    assert [json.loads(line) for line in lines] == list(generate(50, 9, POLICIES))
    assert list(generate(5, 10, POLICIES)) != list(generate(5, 9, POLICIES))


def test_thresholds_are_pinned():
    pins = thresholds(POLICIES)
    assert {1.1, 1.2, 1.3}.issubset(pins["financials.dscr"])
    assert {100.0, 150.0}.issubset(pins["request.amount"])
    docs = list(generate(2000, seed=3, policies_dir=POLICIES))
    on = sum(d["financials"].get("dscr") in pins["financials.dscr"] for d in docs)
    amounts = sum(d["request"].get("amount") in pins["request.amount"] for d in docs)
    assert 0.07 * len(docs) < on < 0.2 * len(docs)
    assert 0.07 * len(docs) < amounts < 0.2 * len(docs)
    segments = {d["profile"]["size"] for d in docs}
    assert segments == {"small", "medium", "large"}
