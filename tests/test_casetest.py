"""The policy-test runner on small fixture suites (tests/data/casetest): loading, failure
reports with file:line, expected vs actual and fired rules, exit codes, JSON output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.casematch import MISSING, check, fits, resolve, same
from engine.casetest import load_suite, make_decider, run_case
from engine.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "casetest"
POLICIES = ROOT / "policies"


@pytest.fixture(scope="module")
def decider():
    return make_decider(POLICIES, "compiled")


def crmc_test(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main, ["test", "--engine", "compiled", "--policies", str(POLICIES), *args])
    return result.exit_code, result.stdout, result.stderr


def case_line(path: Path, name: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip() == f"- name: {name}")


def test_failure_reports_file_line_expected_actual_and_fired_rules():
    code, out, _ = crmc_test(str(DATA / "mixed.yaml"))
    assert code == 1
    assert out.splitlines()[-1] == "1 passed, 1 failed"
    line = case_line(DATA / "mixed.yaml", "fails on the segment")
    assert f"mixed.yaml:{line}: fails on the segment" in out
    # the expectation's own line, expected and actual values
    wanted = 'segment.value: expected "high_net_worth", got "general"'
    assert f"mixed.yaml:{line + 5}: {wanted}" in out
    assert "proposal.tenor_years" not in out  # that expectation held
    assert "fired: classification@1.1.0" not in out  # no classification rule fired
    assert "risk@1.0.0 strong-capacity" in out and "proposal@1.0.0 standard" in out
    assert "passes" not in out


def test_all_passing_exits_zero_and_is_quiet():
    code, out, err = crmc_test(str(DATA / "small.yaml"))
    assert (code, out, err) == (0, "1 passed, 0 failed\n", "")


def test_error_expectations():
    suite = load_suite([DATA / "errors.yaml"])
    assert not suite.problems
    decider = make_decider(POLICIES, "compiled")
    results = {c.name: run_case(c, decider) for c in suite.cases}
    assert results["refused as expected"].passed
    wrong = results["expected a refusal but got a decision"]
    assert not wrong.passed and wrong.failures[0].actual == "a decision (not refused)"
    assert wrong.fired  # the decision's rules are reported
    other = results["refused about something else"]
    assert not other.passed and "/request/currency" in other.failures[0].actual
    refused = results["refused but expected a decision"]
    assert not refused.passed and "financials" in refused.error


def test_schema_problems_are_located_and_count_as_failures():
    code, out, err = crmc_test(str(DATA / "bad.yaml"))
    assert code == 1
    line = case_line(DATA / "bad.yaml", "a typo in a key")
    assert f"bad.yaml:{line}:" in err and "testcase-schema" in err and "expcet" in err
    assert out.splitlines()[-1] == "1 passed, 1 failed"  # the valid case still runs


def test_facts_problems_are_located():
    suite = load_suite([DATA / "unset.yaml"])
    codes = {(p.code, p.line) for p in suite.problems}
    text = (DATA / "unset.yaml").read_text().splitlines()
    assert ("unset-missing", 4) in codes and "financials.ebitda" in text[3]
    assert ("facts-file", 7) in codes
    assert any(p.code == "duplicate-case" for p in suite.problems)
    assert [c.name for c in suite.cases] == ["duplicate"]


def test_missing_path_is_a_usage_error_as_in_validate_and_lint():
    # was: exit 1 with a not-found problem, where validate and lint exit 2
    code, _, err = crmc_test(str(DATA / "does-not-exist"))
    assert code == 2 and "does-not-exist" in err and "does not exist" in err


def test_no_default_test_directory_is_a_usage_error(tmp_path):
    shutil.copytree(POLICIES, tmp_path / "p", ignore=shutil.ignore_patterns("tests"))
    result = CliRunner().invoke(main, ["test", "--policies", str(tmp_path / "p")])
    assert result.exit_code == 2 and "no test cases at" in result.stderr
    assert "pass a PATH" in result.stderr


def test_json_format():
    code, out, _ = crmc_test("--format", "json", str(DATA / "mixed.yaml"))
    assert code == 1
    report = json.loads(out)
    assert (report["passed"], report["failed"]) == (1, 1)
    failed = next(r for r in report["results"] if not r["passed"])
    assert failed["failures"] == [{"path": "segment.value", "line": failed["line"] + 5,
                                   "expected": "high_net_worth", "actual": "general",
                                   "missing": False}]
    assert "risk@1.0.0 strong-capacity" in failed["fired"]


def test_coverage_and_min_coverage():
    code, out, _ = crmc_test("--coverage", str(DATA / "small.yaml"))
    assert code == 0
    assert "classification@1.1.0" in out and "not covered: rule hnw-large-need" in out
    assert "classification@1.0.0" in out  # active versions are listed even if unexercised
    assert "not covered: band debt_service_capacity[0] ≥ 1.5" in out
    code, out, _ = crmc_test("--min-coverage", "90", str(DATA / "small.yaml"))
    assert code == 1
    assert "is below the minimum 90%" in out and out.splitlines()[-1] == "1 passed, 0 failed"
    code, out, _ = crmc_test("--format", "json", "--min-coverage", "5", str(DATA / "small.yaml"))
    cov = json.loads(out)["coverage"]
    assert code == 0 and 5 <= cov["total"] < 90
    by_key = {(v["policy"], v["version"]): v for v in cov["versions"]}
    assert by_key[("classification", "1.0.0")]["percent"] == 0
    assert "default" not in by_key[("classification", "1.1.0")]["uncovered"]


# --- matchers ---------------------------------------------------------------------------

DECISION = {
    "segment": {"value": "general", "rule": None},
    "swot": {"score": 83.1},
    "proposal": {"tenor_years": 5, "services": ["progress_reports"],
                 "covenants": {"min_dscr": 1.2}},
    "warnings": [{"code": "dscr_breach", "severity": "high"}, {"code": "cost_overrun"}],
}


def test_resolve_walks_objects_lists_and_maps_over_lists():
    assert resolve(DECISION, "warnings.code") == ["dscr_breach", "cost_overrun"]
    assert resolve(DECISION, "warnings.1.code") == "cost_overrun"
    assert resolve(DECISION, "warnings.5.code") is MISSING
    assert resolve(DECISION, "proposal.nothing.deeper") is MISSING


@pytest.mark.parametrize(("path", "expected", "ok"), [
    ("proposal.tenor_years", 5.0, True),
    ("proposal.tenor_years", "5", False),
    ("proposal.tenor_years", True, False),
    ("segment", {"value": "general"}, True),
    ("segment", {"eq": {"value": "general"}}, False),
    ("segment.rule", None, True),
    ("swot.score", {"approx": 83.0, "tol": 0.05}, False),
    ("swot.score", {"approx": 83.1, "tol": 0.05}, True),
    ("swot.score", {"gte": 70, "lt": 90}, True),
    ("warnings", {"includes": "dscr_breach", "excludes": ["non_performing"]}, True),
    ("warnings", {"includes": [{"code": "dscr_breach", "severity": "low"}]}, False),
    ("warnings", {"length": 2}, True),
    ("warnings", [{"code": "dscr_breach"}], False),
    ("proposal.services", {"includes": ["progress_reports", "x"]}, False),
    ("proposal.covenants.cash_sweep", {"exists": False}, True),
    ("segment.value", {"one_of": ["general", "high_net_worth"]}, True),
])
def test_matchers(path, expected, ok):
    assert (check(DECISION, path, expected, 1) is None) is ok


def test_exact_comparison_is_strict_about_types():
    assert not same(1, True) and not same(0, False) and same(1, 1.0)
    assert fits({"a": 1, "b": 2}, {"a": 1}) and not same({"a": 1, "b": 2}, {"a": 1})


def test_every_case_schema_property_has_a_description():
    schema = json.loads((ROOT / "schemas" / "testcase.schema.json").read_text())
    missing = []

    def walk(node, path):
        if isinstance(node, dict):
            for name, sub in (node.get("properties") or {}).items():
                if not isinstance(sub, dict) or not sub.get("description"):
                    missing.append(f"{path}/properties/{name}")
            for key, sub in node.items():
                walk(sub, f"{path}/{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{path}/{i}")

    walk(schema, "#")
    assert not missing


def test_shipped_case_files_point_editors_at_the_schema():
    for path in sorted((POLICIES / "tests").glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schemas/testcase.schema.json", path
