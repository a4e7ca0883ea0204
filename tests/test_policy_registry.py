"""The registry: version selection by date and pin, across-version checks, sha256."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from engine.errors import NoPolicyInForce, PolicyError, UnknownPolicyVersion
from engine.load import load_text
from engine.model import PIPELINE
from engine.registry import Registry, check_directory, policy_sha256

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = Path(__file__).resolve().parent / "data" / "policy" / "minimal"


def write_version(directory: Path, policy_id: str, version: str, status: str,
                  effective_from: str, effective_to: str | None = None) -> Path:
    """A copy of the minimal policy of ``policy_id`` with other metadata."""
    text = (MINIMAL / policy_id / "1.0.0.yaml").read_text()
    text = re.sub(r"(?m)^version: .*$", f"version: {version}", text)
    text = re.sub(r"(?m)^status: .*$", f"status: {status}", text)
    dates = f"effective_from: {effective_from}"
    if effective_to:
        dates += f"\neffective_to: {effective_to}"
    text = re.sub(r"(?m)^effective_from: .*$", dates, text)
    path = directory / policy_id / f"{version}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """Every kind active from 2025; early_warning also has a successor, a retired
    predecessor and a draft."""
    d = tmp_path / "policies"
    for policy_id in PIPELINE:
        if policy_id != "early_warning":
            write_version(d, policy_id, "1.0.0", "active", "2025-01-01")
    write_version(d, "early_warning", "0.9.0", "retired", "2024-01-01", "2024-12-31")
    write_version(d, "early_warning", "1.0.0", "active", "2025-01-01", "2026-06-30")
    write_version(d, "early_warning", "1.1.0", "active", "2026-07-01")
    write_version(d, "early_warning", "1.2.0", "draft", "2026-01-01")
    return d


def test_versions_in_semver_order(policy_dir: Path):
    write_version(policy_dir, "early_warning", "1.10.0", "draft", "2030-01-01")
    reg = Registry.load(policy_dir)
    assert [lp.version for lp in reg.versions("early_warning")] == [
        "0.9.0", "1.0.0", "1.1.0", "1.2.0", "1.10.0"]
    assert reg.ids() == sorted(PIPELINE)
    assert len(reg.all()) == 9


@pytest.mark.parametrize("on,version", [
    ("2025-01-01", "1.0.0"),  # effective_from is inclusive
    ("2026-06-30", "1.0.0"),  # effective_to is inclusive
    ("2026-07-01", "1.1.0"),
    ("2031-01-01", "1.1.0"),  # open-ended
])
def test_in_force_by_date_at_the_boundaries(policy_dir: Path, on: str, version: str):
    reg = Registry.load(policy_dir)
    assert reg.in_force("early_warning", dt.date.fromisoformat(on)).version == version


def test_drafts_and_retired_versions_are_never_selected_by_date(policy_dir: Path):
    reg = Registry.load(policy_dir)
    # 1.2.0 (draft) claims 2026-01-01 and 0.9.0 (retired) claims 2024: neither counts.
    assert reg.in_force("early_warning", dt.date(2026, 1, 1)).version == "1.0.0"
    with pytest.raises(NoPolicyInForce):
        reg.in_force("early_warning", dt.date(2024, 6, 1))


def test_select_returns_every_kind_in_pipeline_order(policy_dir: Path):
    chosen = Registry.load(policy_dir).select(dt.date(2026, 7, 1))
    assert list(chosen) == list(PIPELINE)
    assert chosen["early_warning"].version == "1.1.0"


def test_pins_may_name_drafts_and_retired_versions(policy_dir: Path):
    reg = Registry.load(policy_dir)
    on = dt.date(2026, 7, 1)
    assert reg.select(on, {"early_warning": "1.2.0"})["early_warning"].version == "1.2.0"
    assert reg.select(on, {"early_warning": "0.9.0"})["early_warning"].version == "0.9.0"
    # A pin applies outside its version's own effective period: pins are explicit.
    pinned = reg.select(dt.date(2025, 6, 1), {"early_warning": "0.9.0"})
    assert (pinned["early_warning"].version, pinned["early_warning"].policy.status) == (
        "0.9.0", "retired")
    assert pinned["swot"].version == "1.0.0"  # the other kinds still go by date


def test_unknown_pins_and_ids(policy_dir: Path):
    reg = Registry.load(policy_dir)
    with pytest.raises(UnknownPolicyVersion):
        reg.select(dt.date(2026, 7, 1), {"early_warning": "9.9.9"})
    with pytest.raises(UnknownPolicyVersion):
        reg.select(dt.date(2026, 7, 1), {"nope": "1.0.0"})
    with pytest.raises(UnknownPolicyVersion):
        reg.get("early_warning", "2.0.0")
    with pytest.raises(UnknownPolicyVersion):
        reg.versions("nope")


def test_no_policy_in_force_before_the_first_version(policy_dir: Path):
    with pytest.raises(NoPolicyInForce):
        Registry.load(policy_dir).select(dt.date(2024, 12, 31))


def test_overlapping_active_versions_are_refused(policy_dir: Path):
    path = write_version(policy_dir, "early_warning", "1.1.0", "active", "2026-06-01")
    with pytest.raises(PolicyError) as info:
        Registry.load(policy_dir)
    (p,) = info.value.problems
    assert (p.file, p.code, p.line, p.col, p.json_path) == (
        str(path), "effective-overlap", 4, 17, "$.effective_from")
    assert "from 2026-06-01 to 2026-06-30" in p.message


def test_a_draft_may_overlap(policy_dir: Path):
    write_version(policy_dir, "early_warning", "1.3.0", "draft", "2025-01-01")
    Registry.load(policy_dir)


def test_one_policy_id_per_kind(policy_dir: Path):
    path = write_version(policy_dir, "early_warning", "1.0.0", "draft", "2025-01-01")
    other = policy_dir / "warnings2" / "1.0.0.yaml"
    other.parent.mkdir()
    other.write_text(path.read_text().replace("id: early_warning", "id: warnings2"))
    problems = check_directory(policy_dir, lock=False).problems
    assert [(p.file, p.code, p.line, p.col) for p in problems] == [
        (str(other), "kind-conflict", 1, 7)]


def test_non_version_files_are_left_alone(policy_dir: Path):
    (policy_dir / "tests").mkdir()
    (policy_dir / "tests" / "cases.yaml").write_text("not: a policy\n")
    (policy_dir / "README.md").write_text("notes\n")
    assert len(Registry.load(policy_dir).all()) == 8


def test_load_refuses_a_directory_with_any_broken_file(policy_dir: Path):
    (policy_dir / "swot" / "1.0.0.yaml").write_text("kind: swot\n")
    with pytest.raises(PolicyError) as info:
        Registry.load(policy_dir)
    assert {p.code for p in info.value.problems} == {"schema"}


def test_default_policies_load_with_their_lock():
    reg = Registry.load(ROOT / "policies", lock=True)
    assert {lp.kind for lp in reg.select(dt.date(2026, 7, 1)).values()} == set(PIPELINE)
    assert reg.select(dt.date(2026, 6, 30))["classification"].version == "1.0.0"
    assert reg.select(dt.date(2026, 7, 1))["classification"].version == "1.1.0"


# --- sha256 ---------------------------------------------------------------------------------

ORIGINAL = """kind: early_warning
id: early_warning
version: 1.0.0
effective_from: 2025-01-01
status: active
owner: risk-management
change_note: Test.
triggers:
  - id: dscr-low
    description: DSCR low.
    when: {fact: financials.dscr, lt: 1.30}
    code: dscr_breach
    severity: high
    actions: [notify, watch_list]
"""

REFORMATTED = """# A comment at the top
id: early_warning   # keys reordered, comments added
kind: "early_warning"
status: active
version: '1.0.0'
owner: risk-management
effective_from: 2025-01-01
change_note: >-
  Test.
triggers:
-   description: DSCR low.
    id: dscr-low
    code: dscr_breach
    when:
        lt: 1.3
        fact: financials.dscr
    severity: high
    actions:
        - notify
        - watch_list
"""


def _sha(text: str) -> str:
    return policy_sha256(load_text(text, "t.yaml").data)


def test_hash_is_stable_under_reformatting():
    assert _sha(ORIGINAL) == _sha(REFORMATTED)
    assert _sha(ORIGINAL) == _sha(ORIGINAL.replace("lt: 1.30", "lt: 1.3000"))
    assert _sha(ORIGINAL) == _sha(ORIGINAL.replace("\n", "\r\n"))


def test_hash_ignores_status_so_publishing_and_retiring_keep_it():
    assert _sha(ORIGINAL) == _sha(ORIGINAL.replace("status: active", "status: draft"))
    assert _sha(ORIGINAL) == _sha(ORIGINAL.replace("status: active", "status: retired"))


@pytest.mark.parametrize("old,new", [
    ("lt: 1.30", "lt: 1.31"),
    ("severity: high", "severity: medium"),
    ("description: DSCR low.", "description: DSCR is low."),
    ("[notify, watch_list]", "[watch_list, notify]"),  # list order is meaning
    ("effective_from: 2025-01-01", "effective_from: 2025-01-02"),
    ("change_note: Test.", "change_note: Test.\ncurrency: CNY"),
])
def test_hash_changes_under_any_semantic_edit(old: str, new: str):
    assert old in ORIGINAL
    assert _sha(ORIGINAL) != _sha(ORIGINAL.replace(old, new))


def test_loaded_policy_carries_the_hash_and_raw_document(policy_dir: Path):
    lp = Registry.load(policy_dir).get("swot", "1.0.0")
    assert lp.sha256 == policy_sha256(lp.raw)
    assert re.fullmatch(r"[0-9a-f]{64}", lp.sha256)
    assert lp.raw["effective_from"] == "2025-01-01"
    assert lp.key == "swot@1.0.0"


def test_registry_copy_of_defaults_is_independent(tmp_path: Path):
    shutil.copytree(ROOT / "policies", tmp_path / "p")
    assert [lp.sha256 for lp in Registry.load(tmp_path / "p").all()] == [
        lp.sha256 for lp in Registry.load(ROOT / "policies").all()]


def test_missing_directory_is_a_policy_error(tmp_path: Path):
    with pytest.raises(PolicyError) as info:
        Registry.load(tmp_path / "none")
    assert [p.code for p in info.value.problems] == ["io"]
