"""``crmc lint``: clean on the shipped policies, each planted problem found at its line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.lint import CODES, lint_paths

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
DATA = Path(__file__).resolve().parent / "data" / "lint"

# fixture directory -> the findings planted in it: (code, line), with --overlaps or not
PLANTED = {
    "shadowed": [("shadowed", 25)],
    "gap": [("gap", 12)],
    "overlap": [("overlap", 19)],
    "duplicate": [("duplicate", 23)],
    "contradiction": [("contradiction", 20)],
    "unsatisfiable": [("unsatisfiable", 20)],
    "band-gap": [("band-gap", 18)],
    "band-gap-map": [("band-gap", 26)],
    "duplicate-adjustment": [("duplicate", 26)],
    "missing-unhandled": [("missing-unhandled", 15)],
    "missing-unhandled-swot": [("missing-unhandled", 32)],
    "no-actions": [("no-actions", 16)],
    "unknown-fact": [("unknown-fact", 13)],
    "invalid": [("invalid", 15)],
}
NEEDS_OVERLAPS = {"overlap"}
LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>[a-z-]+): \$\S*: .+$")


def test_shipped_policies_are_clean() -> None:
    findings, missing = lint_paths([POLICIES])
    assert missing == []
    assert [str(f) for f in findings] == []


def test_every_code_has_a_fixture() -> None:
    planted = {code for found in PLANTED.values() for code, _ in found}
    assert planted == set(CODES) - {"too-complex"}  # too-complex: a safety valve, see below


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_fixture_finds_the_planted_problem(name: str) -> None:
    findings, _ = lint_paths([DATA / name], overlaps=name in NEEDS_OVERLAPS)
    assert [(f.code, f.line) for f in findings] == PLANTED[name]
    for finding in findings:
        assert finding.severity == CODES[finding.code]


@pytest.mark.parametrize("name", sorted(set(PLANTED) - NEEDS_OVERLAPS))
def test_fixture_is_otherwise_clean_with_overlaps_too(name: str) -> None:
    """--overlaps adds overlap findings only; no fixture hides a second planted problem."""
    findings, _ = lint_paths([DATA / name], overlaps=True)
    assert [(f.code, f.line) for f in findings if f.code != "overlap"] == PLANTED[name]


def test_did_you_mean_for_an_unknown_fact() -> None:
    (finding,), _ = lint_paths([DATA / "unknown-fact"])
    assert finding.problem.suggestion == "financials.dscr"
    assert "did you mean 'financials.dscr'" in str(finding)


def test_overlaps_are_opt_in_and_the_shipped_ones_are_priority_overlaps() -> None:
    findings, _ = lint_paths([POLICIES], overlaps=True)
    assert findings and {f.code for f in findings} == {"overlap"}
    assert {f.severity for f in findings} == {"info"}
    # every first-match table that has rules with different outcomes shows up
    assert {Path(f.problem.file).parent.name for f in findings} == {
        "classification", "risk", "proposal"}


# --- the command --------------------------------------------------------------------------


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["lint", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_clean_exit_0() -> None:
    code, out, err = run(str(POLICIES))
    assert (code, out) == (0, "")
    assert re.search(r"^0 findings in \d+ policy versions$", err, re.M)


def test_cli_default_directory_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMC_POLICIES_DIR", str(DATA / "contradiction"))
    code, out, _ = run()
    assert code == 1 and ": contradiction: " in out


def test_cli_findings_exit_1_sorted_lines() -> None:
    code, out, err = run(str(DATA / "shadowed"), str(DATA / "duplicate"))
    lines = out.splitlines()
    assert code == 1 and len(lines) == 2
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [m["code"] for m in parsed if m] == ["duplicate", "shadowed"]  # sorted by file
    assert "2 findings in 2 policy versions" in err


def test_cli_json() -> None:
    code, out, _ = run("--format", "json", "--overlaps", str(DATA / "overlap"))
    assert code == 1
    (item,) = json.loads(out)
    assert item["code"] == "overlap" and item["severity"] == "info" and item["line"] == 19
    example = item["example"]
    assert example["matches"] == ["strategic-long", "hnw-large-need"]
    assert example["facts"]["client_id"] == "lint-example"


def test_cli_json_clean_is_an_empty_list() -> None:
    code, out, _ = run("--format", "json", str(POLICIES))
    assert (code, json.loads(out)) == (0, [])


@pytest.mark.parametrize("args", [["no/such/dir"], ["--format", "xml"], ["--nope"]])
def test_cli_usage_errors_exit_2(args: list[str]) -> None:
    code, _, _ = run(*args)
    assert code == 2


def test_cli_missing_default_directory_is_a_usage_error(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    monkeypatch.setenv("CRMC_POLICIES_DIR", str(tmp_path / "absent"))
    code, _, err = run()
    assert code == 2 and "does not exist" in err


def test_a_table_too_large_to_analyse_is_reported_not_hung(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.lint_space

    monkeypatch.setattr(engine.lint_space, "MAX_BOXES", 2)
    findings, _ = lint_paths([POLICIES / "risk"])
    assert [(f.code, f.severity) for f in findings] == [("too-complex", "info")]
