"""Rule-level policy diff: engine.diff and ``crmc diff``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pydantic import TypeAdapter

from engine.cli import main
from engine.diff import diff_versions, format_text, render_condition
from engine.model import PolicyDocument
from engine.seam import LoadedPolicy

POLICIES = Path(__file__).resolve().parents[1] / "policies"


def loaded(raw: dict[str, Any]) -> LoadedPolicy:
    policy = TypeAdapter(PolicyDocument).validate_python(raw)
    return LoadedPolicy(policy=policy, sha256=f"sha-{raw['version']}", path=Path("x"), raw=raw)


@pytest.fixture
def base() -> dict[str, Any]:
    return yaml.safe_load((POLICIES / "classification" / "1.0.0.yaml").read_text())


def bump(raw: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(raw)
    new["version"] = "1.0.1"
    return new


def table(diff: dict[str, Any], name: str = "rules") -> dict[str, Any]:
    return next(t for t in diff["tables"] if t["table"] == name)


def test_same_content_is_identical(base) -> None:
    diff = diff_versions(loaded(base), loaded(bump(base)))
    assert diff["identical"]
    assert diff["metadata"] == [{"field": "version", "old": "1.0.0", "new": "1.0.1"}]
    json.dumps(diff)  # JSON-ready (dates as text)


def test_changed_condition_leaf_names_the_leaf(base) -> None:
    new = bump(base)
    new["rules"][1]["when"]["all"][0]["gte"] = 100
    diff = diff_versions(loaded(base), loaded(new))
    assert table(diff)["changed"] == [
        {
            "id": "hnw-large-need",
            "changes": [
                {
                    "path": "when.all[0]",
                    "old": "request.amount >= 150",
                    "new": "request.amount >= 100",
                }
            ],
        }
    ]
    assert "when.all[0]: request.amount >= 150 → request.amount >= 100" in format_text(diff)


def test_changed_outcome_and_restructured_condition(base) -> None:
    new = bump(base)
    new["rules"][0]["then"]["segment"] = "high_net_worth"
    new["rules"][0]["when"] = {"any": base["rules"][0]["when"]["all"]}
    diff = diff_versions(loaded(base), loaded(new))
    (changed,) = table(diff)["changed"]
    paths = {c["path"]: (c["old"], c["new"]) for c in changed["changes"]}
    assert paths["then.segment"] == ("strategic_partner", "high_net_worth")
    old, new_text = paths["when"]
    assert " and " in old and " or " in new_text


def test_added_removed_and_reordered(base) -> None:
    new = bump(base)
    extra = copy.deepcopy(new["rules"][0])
    extra["id"] = "strategic-new"
    new["rules"] = [new["rules"][1], extra]  # drop the first, move hnw up, add one
    diff = diff_versions(loaded(base), loaded(new))
    rules = table(diff)
    assert [(a["id"], a["position"]) for a in rules["added"]] == [("strategic-new", 2)]
    assert [r["id"] for r in rules["removed"]] == ["strategic-long-high-contribution"]
    assert rules["reordered"] is None  # the one common rule cannot change order alone
    swapped = bump(base)
    swapped["rules"].reverse()
    order = table(diff_versions(loaded(base), loaded(swapped)))["reordered"]
    assert order == {
        "old": ["strategic-long-high-contribution", "hnw-large-need"],
        "new": ["hnw-large-need", "strategic-long-high-contribution"],
    }
    assert "order: strategic-long-high-contribution, hnw-large-need →" in format_text(
        diff_versions(loaded(base), loaded(swapped))
    )


def test_metadata_and_settings(base) -> None:
    new = bump(base)
    new["owner"] = "risk-committee"
    new["service_plans"]["general"]["review_frequency_days"] = 180
    diff = diff_versions(loaded(base), loaded(new))
    assert {"field": "owner", "old": "credit-policy", "new": "risk-committee"} in diff["metadata"]
    assert diff["settings"] == [
        {"path": "service_plans.general.review_frequency_days", "old": 365, "new": 180}
    ]
    assert not diff["identical"]


def test_different_policies_are_refused(base) -> None:
    other = yaml.safe_load((POLICIES / "risk" / "1.0.0.yaml").read_text())
    with pytest.raises(ValueError, match="different policies"):
        diff_versions(loaded(base), loaded(other))


def test_render_condition_covers_every_operator() -> None:
    cond = {
        "all": [
            {"fact": "a", "in": ["x", "y"]},
            {"not": {"fact": "b", "exists": True}},
            {"any": [{"fact": "c", "between": [1, 2]}, {"fact": "d", "not_in": [1]}]},
            {"fact": "e", "ne": False},
        ]
    }
    assert render_condition(cond) == (
        "(a in [x, y] and not b is present and (c between 1 and 2 or d not in [1]) and e != false)"
    )


def test_cli_diff_text_and_json() -> None:
    runner = CliRunner()
    args = ["diff", "early_warning", "1.0.0", "1.1.0", "--dir", str(POLICIES)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "+ covenant-breach (position 8)" in result.output
    assert "when: monitoring.days_past_due >= 30 → monitoring.days_past_due > 30" in result.output
    result = runner.invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert {a["id"] for a in table(doc, "triggers")["added"]} == {
        "covenant-breach",
        "sponsor-distress",
    }


def test_cli_diff_unknown_version_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["diff", "risk", "1.0.0", "7.0.0", "--dir", str(POLICIES)])
    assert result.exit_code == 2
    assert "unknown policy version: risk 7.0.0" in result.stderr
    assert "known versions: 1.0.0" in result.stderr
