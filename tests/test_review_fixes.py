"""Review and acceptance findings on the policy tools, kept as regression tests.

Each test failed before its fix: the finding is in the comment that starts it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.lock import LOCK_NAME
from engine.registry import Registry, check_directory

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
SEED = ROOT / "tests" / "data" / "examples" / "seed-case.json"


def crmc(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    """A private copy of the shipped policies, lock included."""
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    return target


# --- 1. a deleted lock is refused, not skipped -------------------------------------------


def test_decide_refuses_a_policy_directory_without_its_lock(policies: Path) -> None:
    # was: Registry.load checked the lock only when the file existed, so deleting
    # policies.lock let `crmc decide` run on edited active versions without a word.
    (policies / LOCK_NAME).unlink()
    result = crmc("decide", "--policies", str(policies), "--engine", "compiled", str(SEED))
    assert result.exit_code == 1, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith(str(policies / "classification" / "1.0.0.yaml") + ":7:9: lock-missing")
    assert LOCK_NAME in first and "does not exist" in first and "crmc publish" in first
    assert result.stdout == ""


def test_test_and_replay_refuse_a_policy_directory_without_its_lock(
        policies: Path, tmp_path: Path) -> None:
    from engine.casetest import make_decider
    from engine.errors import PolicyError

    (policies / LOCK_NAME).unlink()
    with pytest.raises(PolicyError, match="lock-missing"):
        make_decider(policies, "compiled")
    env = {"CRMC_POLICIES_DIR": str(policies),
           "CRMC_DATABASE_URL": f"sqlite:///{tmp_path}/decisions.db"}
    replayed = crmc("audit", "replay", "--all", env=env)
    assert replayed.exit_code == 2 and "lock-missing" in replayed.stderr
    Registry.load(policies, lock=None)  # fixtures built by tests may still do without


def test_decide_with_the_lock_in_place_still_works(policies: Path) -> None:
    result = crmc("decide", "--policies", str(policies), "--engine", "compiled", str(SEED))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["segment"]["value"] == "high_net_worth"
    assert check_directory(policies, lock=True).problems == []


# --- 2. retired versions are published versions ------------------------------------------


def _retired(policies: Path, version: str) -> Path:
    source = (policies / "risk" / "1.0.0.yaml").read_text()
    text = (source.replace("version: 1.0.0", f"version: {version}")
            .replace("status: active", "status: retired")
            .replace("risk_weight: 2.50", "risk_weight: 0.10"))
    path = policies / "risk" / f"{version}.yaml"
    path.write_text(text)
    return path


def test_a_retired_version_without_a_lock_entry_is_refused(policies: Path) -> None:
    # was: only active versions needed a lock entry, so a new `status: retired` file with
    # any content loaded and could be pinned by a decision.
    path = _retired(policies, "0.9.0")
    (problem,) = check_directory(policies, lock=True).problems
    assert (problem.file, problem.code, problem.line, problem.col) == (
        str(path), "lock-missing", 6, 9)
    assert "retired only after it was published" in problem.message
    result = crmc("decide", "--policies", str(policies), "--engine", "compiled",
                  "--pin", "risk=0.9.0", str(SEED))
    assert result.exit_code == 1 and f"{path}:6:9: lock-missing" in result.stderr


def test_an_edited_retired_version_is_a_change(policies: Path) -> None:
    path = policies / "risk" / "1.0.0.yaml"
    path.write_text(path.read_text().replace("status: active", "status: retired")
                    .replace("risk_weight: 2.50", "risk_weight: 2.40"))
    assert [p.code for p in check_directory(policies, lock=True).problems] == ["lock-changed"]


# --- 8. crmc validate: nothing hides a misspelt fact; a broken file is not an orphan ------


def test_a_misspelt_fact_beside_a_schema_error_in_the_same_condition_is_reported(
        tmp_path: Path) -> None:
    # was: a schema problem anywhere in a rule's `when` skipped the fact checks of the
    # whole condition, so the misspelt sibling fact only showed up after the fix.
    path = tmp_path / "risk" / "1.0.0.yaml"
    path.parent.mkdir()
    text = (POLICIES / "risk" / "1.0.0.yaml").read_text()
    edits = (("monitoring.days_past_due, gt: 90", "monitoring.dayz_past_due, gt: 90"),
             ("financials.credit_rating, eq: D}", "financials.credit_rating, eq: D, gt: x}"),
             ("{fact: financials.dscr, lt: 1.1}", "{fact: financials.dscrr, lt: one}"))
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    path.write_text(text)
    result = crmc("validate", str(path))
    assert result.exit_code == 1
    found = {(line.split(": ")[1], line.split(": ")[2]) for line in result.stderr.splitlines()[:-1]}
    assert ("unknown-fact", "$.rules[0].when.any[1].fact") in found
    assert ("unknown-fact", "$.rules[1].when.any[0].fact") in found  # in the broken leaf
    assert ("schema", "$.rules[0].when.any[2].gt") in found


def test_a_locked_version_that_does_not_load_is_not_an_orphan(policies: Path) -> None:
    # was: `lock-orphan: locked version swot@1.0.0 has no file` beside its yaml-syntax
    # problem, for a file that is right there.
    path = policies / "swot" / "1.0.0.yaml"
    path.write_text(path.read_text() + "\n  bad: [indent\n")
    problems = check_directory(policies, lock=True).problems
    assert [(p.file, p.code) for p in problems] == [(str(path), "yaml-syntax")]
    path.unlink()
    assert [p.code for p in check_directory(policies, lock=True).problems] == ["lock-orphan"]
