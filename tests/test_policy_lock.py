"""policies.lock: published versions are immutable; crmc publish is how versions go live."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from engine.errors import UnknownPolicyVersion
from engine.lock import LOCK_NAME, read_lock
from engine.registry import Registry, check_directory, publish

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    d = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", d)
    return d


def _problems(d: Path) -> list[tuple[str, str, int, int]]:
    return [(Path(p.file).name if p.file.endswith(".yaml") else p.file, p.code, p.line, p.col)
            for p in check_directory(d, lock=True).problems]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_shipped_lock_matches_the_shipped_policies(policies: Path):
    assert _problems(policies) == []
    lock, problems = read_lock(policies / LOCK_NAME)
    assert problems == []
    assert set(lock.entries) == {lp.key for lp in Registry.load(policies).all()
                                 if lp.policy.status == "active"}


def test_changed_active_version_fails_with_publish_a_new_version(policies: Path):
    path = policies / "early_warning" / "1.1.0.yaml"
    _edit(path, "{fact: financials.dscr, lt: 1.1}", "{fact: financials.dscr, lt: 1.2}")
    problems = check_directory(policies, lock=True).problems
    assert [(p.file, p.code, p.line, p.col, p.json_path) for p in problems] == [
        (str(path), "lock-changed", 4, 10, "$.version")]
    assert "publish a new version instead" in problems[0].message


def test_reformatting_an_active_version_is_not_a_change(policies: Path):
    path = policies / "risk" / "1.0.0.yaml"
    _edit(path, "    risk_weight: 0.70\n", "    risk_weight: 0.7  # 70 %\n")
    _edit(path, "short_tenor_years: 2.5\n", "\n\nshort_tenor_years: 2.50\n")
    assert _problems(policies) == []


def test_moving_effective_to_of_a_published_version_is_a_change(policies: Path):
    _edit(policies / "classification" / "1.0.0.yaml", "effective_to: 2026-06-30",
          "effective_to: 2026-05-31")
    assert _problems(policies) == [("1.0.0.yaml", "lock-changed", 6, 15)]


def test_published_version_cannot_return_to_draft(policies: Path):
    _edit(policies / "swot" / "1.0.0.yaml", "status: active", "status: draft")
    assert _problems(policies) == [("1.0.0.yaml", "lock-changed", 6, 9)]


def test_retiring_keeps_the_hash(policies: Path):
    before = Registry.load(policies).get("proposal", "1.0.0").sha256
    _edit(policies / "proposal" / "1.0.0.yaml", "status: active", "status: retired")
    assert _problems(policies) == []
    assert Registry.load(policies).get("proposal", "1.0.0").sha256 == before


def test_active_version_missing_from_the_lock(policies: Path):
    lock_path = policies / LOCK_NAME
    data = json.loads(lock_path.read_text())
    del data["versions"]["risk@1.0.0"]
    lock_path.write_text(json.dumps(data, indent=2))
    assert _problems(policies) == [("1.0.0.yaml", "lock-missing", 6, 9)]


def test_no_lock_file_means_every_active_version_is_unpublished(policies: Path):
    (policies / LOCK_NAME).unlink()
    assert {code for _, code, _, _ in _problems(policies)} == {"lock-missing"}
    assert len(_problems(policies)) == 7
    Registry.load(policies)  # without a lock file the registry does not check (fixtures)


def test_deleted_published_version_is_an_orphan(policies: Path):
    (policies / "swot" / "1.0.0.yaml").unlink()
    lock_file = str(policies / LOCK_NAME)
    (problem,) = check_directory(policies, lock=True).problems
    assert (problem.file, problem.code, problem.line) == (lock_file, "lock-orphan", 10)


def test_malformed_lock(policies: Path):
    (policies / LOCK_NAME).write_text('{"versions": {"swot@1.0.0": "abc"}}\n')
    (problem,) = check_directory(policies, lock=True).problems
    assert (problem.code, problem.line, problem.col) == ("lock-format", 1, 15)


def test_registry_load_checks_an_existing_lock(policies: Path):
    _edit(policies / "risk" / "1.0.0.yaml", "risk_weight: 2.50", "risk_weight: 2.40")
    with pytest.raises(Exception) as info:
        Registry.load(policies)
    assert "lock-changed" in str(info.value)


# --- publish --------------------------------------------------------------------------------


def _draft(policies: Path, version: str, effective_from: str) -> Path:
    source = (policies / "early_warning" / "1.1.0.yaml").read_text()
    text = (source.replace("version: 1.1.0", f"version: {version}")
            .replace("effective_from: 2026-07-01", f"effective_from: {effective_from}")
            .replace("status: active", "status: draft  # until approved")
            .replace("{fact: monitoring.covenant_breaches_12m, gte: 1}",
                     "{fact: monitoring.covenant_breaches_12m, gte: 2}"))
    path = policies / "early_warning" / f"{version}.yaml"
    path.write_text(text)
    return path


def test_publish_activates_locks_and_closes_the_predecessor(policies: Path):
    path = _draft(policies, "1.2.0", "2027-01-01")
    predecessor = policies / "early_warning" / "1.1.0.yaml"
    sha, problems = publish(policies, "early_warning", "1.2.0")
    assert problems == []
    text = path.read_text()
    assert "status: active  # until approved" in text  # a minimal edit: the comment stays
    assert "effective_to: 2026-12-31\n" in predecessor.read_text()
    lock, _ = read_lock(policies / LOCK_NAME)
    assert lock.entries["early_warning@1.2.0"].sha256 == sha
    assert lock.entries["early_warning@1.1.0"].effective_to == "2026-12-31"
    assert _problems(policies) == []
    reg = Registry.load(policies, lock=True)
    assert reg.get("early_warning", "1.2.0").sha256 == sha
    assert reg.in_force("early_warning", dt.date(2026, 12, 31)).version == "1.1.0"
    assert reg.in_force("early_warning", dt.date(2027, 1, 1)).version == "1.2.0"


def test_publish_refuses_a_non_draft(policies: Path):
    before = (policies / LOCK_NAME).read_text()
    sha, problems = publish(policies, "early_warning", "1.1.0")
    assert (sha, [(p.code, p.line, p.col) for p in problems]) == ("", [("publish-status", 6, 9)])
    assert (policies / LOCK_NAME).read_text() == before


def test_publish_refuses_an_invalid_draft_and_writes_nothing(policies: Path):
    path = _draft(policies, "1.2.0", "2027-01-01")
    _edit(path, "severity: high", "severity: severe")
    before = path.read_text(), (policies / LOCK_NAME).read_text()
    sha, problems = publish(policies, "early_warning", "1.2.0")
    assert sha == "" and [p.code for p in problems] == ["schema"]
    assert (path.read_text(), (policies / LOCK_NAME).read_text()) == before


def test_publish_checks_the_directory_as_it_will_be(policies: Path):
    # Open-ended from 2026-01-01: overlaps the locked 1.0.0 and 1.1.0 periods (1.1.0 is
    # not closed: it starts after the draft).
    _draft(policies, "1.2.0", "2026-01-01")
    _, problems = publish(policies, "early_warning", "1.2.0")
    assert [(p.code, Path(p.file).name) for p in problems] == [
        ("effective-overlap", "1.2.0.yaml")] * 2


def test_publish_unknown_version(policies: Path):
    with pytest.raises(UnknownPolicyVersion):
        publish(policies, "early_warning", "9.9.9")
