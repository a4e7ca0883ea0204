"""crmc impact on a small generated portfolio: the fast two-sided evaluation agrees with
the Decider client by client, the report counts what changed, the HTML is self-contained
and escaped, and the command line writes both reports."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.portfolio import generate
from engine import impact
from engine.casetest import make_decider
from engine.cli import main
from engine.errors import DecisionRefused
from engine.impact_eval import Outcome
from engine.impact_html import render

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
AS_OF = dt.date(2026, 11, 30)
HOSTILE = "<script>alert('x')</script> Energy & Water"


@pytest.fixture(scope="module")
def decider():
    return make_decider(POLICIES, "compiled")


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory) -> Path:
    """300 generated clients plus the awkward lines real files have."""
    path = tmp_path_factory.mktemp("impact") / "portfolio.jsonl"
    docs = list(generate(300, seed=11, policies_dir=POLICIES))
    migrant = json.loads((POLICIES / "tests/examples/seed-case.json").read_text())
    migrant["client_id"] = "MIGRANT-1"
    migrant["profile"]["name"] = HOSTILE
    migrant["request"]["amount"] = 120  # general under 1.0.0, high net worth under 1.1.0
    refused = {"client_id": "BAD-1", "financials": {"dscr": "1.2"}}
    lines = [json.dumps(d) for d in docs[:150]]
    lines += [json.dumps(migrant), "{not json", json.dumps(refused), ""]
    lines += [json.dumps(d) for d in docs[150:]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _outcome(decider, facts, pins) -> Outcome:
    """What the impact evaluation must produce, from the Decider's whole decision."""
    try:
        d = decider.decide(facts, as_of=AS_OF, pins=pins).model_dump(mode="json")
    except DecisionRefused as exc:
        return Outcome(refused=str(exc))
    proposal = {k: v for k, v in d["proposal"].items() if k != "rules"}
    return Outcome(segment=d["segment"]["value"], plan=d["service_plan"],
                   grade=d["risk"]["grade"], proposal=proposal,
                   warnings=tuple(w["code"] for w in d["warnings"]))


@pytest.mark.parametrize(("policy", "old", "new"), [
    ("classification", "1.0.0", "1.1.0"),
    ("early_warning", "1.0.0", "1.1.0"),
    ("classification", "1.1.0", "1.1.0"),
])
def test_counts_agree_with_the_decider(decider, portfolio, policy, old, new):
    fast = impact.run(POLICIES, policy, old, new, portfolio, as_of=AS_OF, workers=1, cap=5)
    slow = impact.ImpactResult()
    for line in portfolio.read_text().splitlines():
        try:
            facts = json.loads(line)
        except ValueError:
            continue
        a = _outcome(decider, facts, {policy: old})
        b = _outcome(decider, facts, {policy: new})
        if impact.compare(slow, a, b):
            slow.affected += 1
    for name in ("clients", "affected", "refused", "segments", "grades", "proposals_changed",
                 "proposal_fields", "plans_changed", "plan_fields", "warnings_added",
                 "warnings_removed"):
        assert getattr(fast, name) == getattr(slow, name), name
    if old == new:
        assert fast.affected == 0 and not fast.listed


def test_classification_report(decider, portfolio):
    result = impact.run(POLICIES, "classification", "1.0.0", "1.1.0", portfolio, as_of=AS_OF,
                        workers=1, cap=3)
    assert result.clients == 302 and result.refused["both"] == 1
    assert result.segments[("general", "high_net_worth")] >= 1
    assert not result.warnings_added and not result.warnings_removed  # warnings untouched
    assert [e[0] for e in result.errors] == [152, 153]  # bad JSON, refused facts
    rep = impact.report(result, policy_id="classification", v_old="1.0.0", v_new="1.1.0",
                        as_of=AS_OF, portfolio=portfolio.name, decider=decider)
    assert len(rep["listed"]) == 3 and rep["more_affected"] == result.affected - 3
    first = rep["listed"][0]
    assert first["before"]["policies"][0]["version"] == "1.0.0"
    assert first["after"]["policies"][0]["version"] == "1.1.0"
    assert rep["segments"]["general"]["high_net_worth"] == \
        result.segments[("general", "high_net_worth")]
    json.dumps(rep)  # the JSON report is plain JSON


def test_html_is_self_contained_and_escaped(decider, portfolio):
    result = impact.run(POLICIES, "classification", "1.0.0", "1.1.0", portfolio, as_of=AS_OF,
                        workers=1, cap=500)
    rep = impact.report(result, policy_id="classification", v_old="1.0.0", v_new="1.1.0",
                        as_of=AS_OF, portfolio=portfolio.name, decider=decider)
    page = render(rep)
    assert "MIGRANT-1" in page
    assert HOSTILE not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    lowered = page.lower()
    assert "http" not in lowered and "src=" not in lowered and "<script" not in lowered
    assert "<link" not in lowered and "@import" not in lowered and "url(" not in lowered
    i = next(i for i, c in enumerate(rep["listed"]) if c["client_id"] == "MIGRANT-1")
    assert f'href="#c{i}-before"' in page and f'id="c{i}-before"' in page
    assert f'id="c{i}-after"' in page and "<svg" in page


def test_worker_processes_give_the_same_result(portfolio, monkeypatch):
    monkeypatch.setattr(impact, "CHUNK_BYTES", 20_000)  # several chunks for two workers
    ranges = impact.chunks(portfolio, 20_000)
    assert len(ranges) > 3 and ranges[-1][1] == portfolio.stat().st_size
    one = impact.run(POLICIES, "classification", "1.0.0", "1.1.0", portfolio, as_of=AS_OF,
                     workers=1, cap=10)
    two = impact.run(POLICIES, "classification", "1.0.0", "1.1.0", portfolio, as_of=AS_OF,
                     workers=2, cap=10)
    assert (two.segments, two.grades, two.affected, two.errors) == \
        (one.segments, one.grades, one.affected, one.errors)
    assert [c[:2] for c in two.listed] == [c[:2] for c in one.listed]


def test_cli_writes_both_reports(portfolio, tmp_path):
    html, out = tmp_path / "report.html", tmp_path / "report.json"
    result = CliRunner().invoke(main, [
        "impact", "classification", "1.0.0", "1.1.0", str(portfolio), "--as-of", "2026-11-30",
        "-o", str(html), "--json", str(out), "--workers", "1", "--policies", str(POLICIES)])
    assert result.exit_code == 0, result.output
    assert "segment from ↓ to →" in result.stdout and "302 clients in" in result.stdout
    rep = json.loads(out.read_text())
    assert rep["policy"] == "classification" and rep["clients"] == 302
    assert html.read_text().startswith("<!DOCTYPE html>")


def test_cli_unknown_version_is_a_usage_error(portfolio):
    result = CliRunner().invoke(main, ["impact", "classification", "1.0.0", "9.9.9",
                                       str(portfolio), "--policies", str(POLICIES)])
    assert result.exit_code == 2 and "9.9.9" in result.output
