"""crmc validate / policies / publish through click's CliRunner: exit codes and output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

ROOT = Path(__file__).resolve().parent.parent
CASES = Path(__file__).resolve().parent / "data" / "policy" / "cases"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CRMC_POLICIES_DIR", str(ROOT / "policies"))
    return CliRunner()


def test_validate_default_directory_is_valid(runner: CliRunner):
    result = runner.invoke(main, ["validate"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == "7 policy versions valid"
    assert result.stdout == ""


def test_validate_files_and_directories(runner: CliRunner):
    files = [str(ROOT / "policies" / "swot" / "1.0.0.yaml"), str(ROOT / "policies" / "risk")]
    result = runner.invoke(main, ["validate", *files])
    assert result.exit_code == 0, result.stderr
    assert "2 policy versions valid" in result.stderr


def test_validate_reports_every_problem_on_stderr(runner: CliRunner):
    bad = [str(next((CASES / c).glob("*/*.yaml"))) for c in ("unknown-fact", "grades-order")]
    result = runner.invoke(main, ["validate", *bad])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == (f"{bad[1]}:29:21: grades-order: $.grades[1].min: grade bands go from "
                        "the highest min down; 60 is not below 50")
    assert any(line.startswith(f"{bad[0]}:11:18: unknown-fact:") for line in lines)
    assert lines[-1] == "3 problems in 2 policy versions"


def test_validate_json_format(runner: CliRunner):
    bad = str(next((CASES / "unknown-fact").glob("*/*.yaml")))
    result = runner.invoke(main, ["validate", "--format", "json", bad])
    assert result.exit_code == 1
    (problem,) = json.loads(result.stdout)
    assert problem == {
        "file": bad, "line": 11, "col": 18, "code": "unknown-fact",
        "json_path": "$.triggers[0].when.fact",
        "message": "unknown fact 'financials.ebitda_margn'",
        "suggestion": "financials.ebitda_margin",
    }


def test_validate_json_format_when_valid(runner: CliRunner):
    result = runner.invoke(main, ["validate", "--format", "json"])
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])


@pytest.mark.parametrize("args", [
    ["validate", "no/such/path"],
    ["validate", "--format", "xml"],
    ["validate", "--bogus"],
    ["publish", "only-one-argument"],
])
def test_usage_errors_exit_2(runner: CliRunner, args: list[str]):
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output


def test_validate_missing_default_directory_is_a_usage_error(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("CRMC_POLICIES_DIR", str(tmp_path / "none"))
    assert CliRunner().invoke(main, ["validate"]).exit_code == 2


def test_validate_single_file_is_checked_against_its_lock(runner: CliRunner, tmp_path: Path):
    shutil.copytree(ROOT / "policies", tmp_path / "p")
    path = tmp_path / "p" / "risk" / "1.0.0.yaml"
    path.write_text(path.read_text().replace("risk_weight: 2.50", "risk_weight: 2.6"))
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:4:10: lock-changed:" in result.stderr
    assert "publish a new version instead" in result.stderr


def test_policies_lists_versions(runner: CliRunner):
    result = runner.invoke(main, ["policies"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "VERSION", "STATUS", "FROM", "TO", "SHA256"]
    assert lines[1].split()[:5] == ["classification", "1.0.0", "active", "2025-01-01",
                                    "2026-06-30"]
    assert len(lines) == 8


def test_policies_json(runner: CliRunner):
    result = runner.invoke(main, ["policies", "--format", "json"])
    rows = json.loads(result.stdout)
    assert {(r["id"], r["version"]) for r in rows} >= {("swot", "1.0.0"),
                                                       ("early_warning", "1.1.0")}
    assert all(len(r["sha256"]) == 64 for r in rows)
    assert rows[1]["effective_to"] is None and rows[0]["effective_to"] == "2026-06-30"


def test_policies_on_an_invalid_directory_exits_1(runner: CliRunner, tmp_path: Path):
    shutil.copytree(ROOT / "policies", tmp_path / "p")
    (tmp_path / "p" / "swot" / "1.0.0.yaml").write_text("kind: swot\n")
    result = runner.invoke(main, ["policies", "--dir", str(tmp_path / "p")])
    assert result.exit_code == 1
    assert "crmc validate" in result.stderr


def test_publish(runner: CliRunner, tmp_path: Path):
    d = tmp_path / "p"
    shutil.copytree(ROOT / "policies", d)
    draft = d / "swot" / "1.1.0.yaml"
    draft.write_text((d / "swot" / "1.0.0.yaml").read_text()
                     .replace("version: 1.0.0", "version: 1.1.0")
                     .replace("effective_from: 2025-01-01", "effective_from: 2027-01-01")
                     .replace("status: active", "status: draft"))
    result = runner.invoke(main, ["publish", "swot", "1.1.0", "--dir", str(d)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("published swot 1.1.0 sha256 ")
    assert runner.invoke(main, ["validate", str(d)]).exit_code == 0
    again = runner.invoke(main, ["publish", "swot", "1.1.0", "--dir", str(d)])
    assert again.exit_code == 1
    assert "publish-status" in again.stderr
    missing = runner.invoke(main, ["publish", "swot", "9.0.0", "--dir", str(d)])
    assert missing.exit_code == 1
    assert "unknown policy version: swot 9.0.0" in missing.stderr
