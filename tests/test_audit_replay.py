"""Replay of logged decisions, and the ``crmc audit`` and ``crmc decide --log`` commands."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from audit_support import AUDIT_KEY, BACKENDS, backend_url, example_facts, settings
from click.testing import CliRunner

from engine.cli import main
from engine.evaluate import Decider
from engine.record import make_entry, open_log
from engine.registry import Registry
from engine.replay import Replayer, compare, format_result

POLICIES = Path(__file__).resolve().parents[1] / "policies"


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    """A private copy of the policies without the lock (so a test may edit a version)."""
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target, ignore=shutil.ignore_patterns("policies.lock", "tests"))
    return target


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(request.param, tmp_path, request)


def log_decisions(url: str, tmp_path: Path, policies: Path, explain: bool = False, **kw) -> list:
    decider = Decider(Registry.load(policies), "compiled")
    log = open_log(url, settings(tmp_path, **kw))
    ids = []
    for name in ("seed-case", "distressed-client", "strategic-partner"):
        facts = example_facts(name)
        decision = decider.decide(facts, explain=explain)
        log.append(make_entry(decision, facts, explain=explain, requester="analyst"))
        ids.append(decision.decision_id)
    log.close()
    return ids


def test_logged_decisions_replay_identically(url: str, tmp_path: Path, policies: Path) -> None:
    log_decisions(url, tmp_path, policies, explain=True)
    log = open_log(url, settings(tmp_path))
    replayer = Replayer(Registry.load(policies))
    results = [replayer.replay(r) for r in log.iter_records()]
    log.close()
    assert [r.status for r in results] == ["identical"] * 3
    assert format_result(results[0]).endswith(": identical\n")


def test_altered_decision_is_a_readable_mismatch(url: str, tmp_path: Path, policies: Path) -> None:
    (decision_id, *_) = log_decisions(url, tmp_path, policies)
    log = open_log(url, settings(tmp_path))
    record = log.get(decision_id)
    log.close()
    record["decision"]["segment"]["value"] = "strategic_partner"
    result = Replayer(Registry.load(policies)).replay(record)
    assert result.status == "mismatch"
    assert result.differences == [
        {"path": "/segment/value", "recorded": "strategic_partner", "replayed": "high_net_worth"}
    ]
    assert '/segment/value: "strategic_partner" → "high_net_worth"' in format_result(result)


def test_policy_edited_after_use_is_reported(tmp_path: Path, policies: Path) -> None:
    url = f"sqlite:///{tmp_path}/decisions.db"
    ids = log_decisions(url, tmp_path, policies)
    version = policies / "classification" / "1.1.0.yaml"
    version.write_text(version.read_text().replace("gte: 100}", "gte: 400}"))
    log = open_log(url, settings(tmp_path))
    record = log.get(ids[0])  # the seed case: high-net-worth through that threshold
    log.close()
    result = Replayer(Registry.load(policies)).replay(record)
    assert result.status == "policy_changed"
    assert any("classification 1.1.0 changed after it was used" in n for n in result.notes)
    assert {"path": "/segment/value", "recorded": "high_net_worth", "replayed": "general"} in (
        result.differences
    )


def test_masked_facts_make_a_record_not_replayable(tmp_path: Path, policies: Path) -> None:
    url = f"sqlite:///{tmp_path}/decisions.db"
    ids = log_decisions(url, tmp_path, policies, audit_mask=("/financials/dscr",))
    log = open_log(url, settings(tmp_path))
    result = Replayer(Registry.load(policies)).replay(log.get(ids[0]))
    log.close()
    assert result.status == "not_replayable"
    assert "/financials/dscr" in result.notes[0]


def test_masked_fact_read_by_a_version_is_not_replayable_rather_than_a_mismatch(
        tmp_path: Path, policies: Path) -> None:
    # was: the masked value passed the facts check ("[masked]" is a valid free-text
    # industry), the rule on it did not match in replay and a false mismatch was reported.
    source = (policies / "classification" / "1.1.0.yaml").read_text()
    rule = ("rules:\n  - id: industry-partner\n    description: By industry.\n"
            "    when: {fact: profile.industry, eq: manufacturing}\n"
            "    then: {segment: strategic_partner}\n")
    draft = (source.replace("version: 1.1.0", "version: 9.0.0")
             .replace("status: active", "status: draft").replace("rules:\n", rule, 1))
    (policies / "classification" / "9.0.0.yaml").write_text(draft)
    url = f"sqlite:///{tmp_path}/decisions.db"
    registry = Registry.load(policies)
    facts = example_facts("seed-case")
    decision = Decider(registry, "compiled").decide(facts, pins={"classification": "9.0.0"})
    assert decision.segment.value == "strategic_partner"
    log = open_log(url, settings(tmp_path, audit_mask=("/profile/industry", "/profile/name")))
    log.append(make_entry(decision, facts, pins={"classification": "9.0.0"}))
    record = log.get(decision.decision_id)
    log.close()
    assert record["masked"] == ["/profile/industry", "/profile/name"]
    result = Replayer(registry).replay(record)
    assert result.status == "not_replayable", result
    assert "/profile/industry" in result.notes[0] and "/profile/name" not in result.notes[0]


def test_masked_fact_no_version_reads_still_replays(tmp_path: Path, policies: Path) -> None:
    url = f"sqlite:///{tmp_path}/decisions.db"
    ids = log_decisions(url, tmp_path, policies, audit_mask=("/profile/name",))
    log = open_log(url, settings(tmp_path))
    result = Replayer(Registry.load(policies)).replay(log.get(ids[0]))
    log.close()
    assert result.status == "identical", result


def test_compare_treats_integral_floats_as_ints_but_not_bools() -> None:
    assert compare({"a": [1, 2]}, {"a": [1, 2, 3]}) == [
        {"path": "/a/2", "recorded": "(absent)", "replayed": 3}
    ]
    assert compare({"a": 1}, {"a": True}) != []


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    locked = tmp_path / "locked-policies"  # the commands refuse a directory without its lock
    shutil.copytree(POLICIES, locked, ignore=shutil.ignore_patterns("tests"))
    return {
        "CRMC_DATABASE_URL": f"sqlite:///{tmp_path}/var/decisions.db",
        "CRMC_POLICIES_DIR": str(locked),
        "CRMC_AUDIT_KEY": AUDIT_KEY,
        "CRMC_AUDIT_KEY_FILE": str(tmp_path / "var" / "audit.key"),
    }


def crmc(env: dict[str, str], *args: str):
    return CliRunner().invoke(main, list(args), env=env)


def test_decide_log_then_show_replay_verify_export(env: dict[str, str], tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(example_facts("seed-case")))
    decided = crmc(env, "decide", "--log", "--engine", "compiled", str(facts))
    assert decided.exit_code == 0, decided.output
    decision_id = json.loads(decided.stdout)["decision_id"]

    shown = crmc(env, "audit", "show", decision_id)
    assert shown.exit_code == 0
    record = json.loads(shown.stdout)
    assert (record["seq"], record["decision"]["decision_id"]) == (1, decision_id)
    assert record["request"]["facts"]["client_id"] == "MFG-0042"

    assert crmc(env, "audit", "replay", decision_id).exit_code == 0
    replay_all = crmc(env, "audit", "replay", "--all", "--since", "2000-01-01")
    assert replay_all.exit_code == 0 and "1 replayed: 1 identical, 0 not" in replay_all.output

    verified = crmc(env, "audit", "verify")
    assert verified.exit_code == 0 and verified.stdout.startswith("intact: 1 records")
    anchor = f"1:{record['hash']}"
    assert crmc(env, "audit", "verify", "--anchor", anchor).exit_code == 0
    assert crmc(env, "audit", "verify", "--anchor", "1:" + "f" * 64).exit_code == 1

    exported = crmc(env, "audit", "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [r["decision_id"] for r in rows] == [decision_id]
    assert rows[0]["segment"] == "high_net_worth" and "classification@" in rows[0]["policies"]
    out = tmp_path / "out.jsonl"
    assert crmc(env, "audit", "export", "--format", "jsonl", "-o", str(out)).exit_code == 0
    assert json.loads(out.read_text())["hash"] == record["hash"]


def test_audit_exit_statuses(env: dict[str, str], tmp_path: Path) -> None:
    assert crmc(env, "audit", "show", "nope").exit_code == 2  # no log yet
    log = open_log(env["CRMC_DATABASE_URL"], settings(tmp_path))
    log.close()
    missing = crmc(env, "audit", "show", "nope")
    assert missing.exit_code == 3 and "no decision nope" in missing.stderr
    assert crmc(env, "audit", "replay", "nope").exit_code == 3
    assert crmc(env, "audit", "replay").exit_code == 2  # neither an id nor --all


def test_broken_log_fails_verify_and_replay(env: dict[str, str], tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(example_facts("general-client")))
    for _ in range(3):
        assert crmc(env, "decide", "--log", "--engine", "compiled", str(facts)).exit_code == 0
    import sqlite3

    conn = sqlite3.connect(env["CRMC_DATABASE_URL"][len("sqlite:///") :])
    conn.execute(
        "UPDATE crmc_decisions SET body = replace(body, 'general', 'strategic') WHERE seq = 2"
    )
    conn.commit()
    conn.close()
    verified = crmc(env, "audit", "verify", "--format", "json")
    assert verified.exit_code == 1
    assert json.loads(verified.stdout)["first_broken"] == 2
    replayed = crmc(env, "audit", "replay", "--all")
    assert replayed.exit_code == 1 and "mismatch" in replayed.stdout


def test_csv_export_defuses_spreadsheet_formulas() -> None:
    # was: a client_id or requester like "=HYPERLINK(...)" was exported as is, a formula
    # that a spreadsheet runs when an auditor opens the file.
    from engine.cli.audit import _csv_row

    record = {"seq": 7, "decision_id": "d1", "client_id": "=HYPERLINK(\"http://x\")",
              "decided_at": "2026-01-01T00:00:00Z", "as_of": "2026-01-01", "requester": "+1",
              "engine": "-compiled", "decision": {"segment": {"value": "@general"}},
              "policies": [], "masked": [], "prev_hash": "0" * 64, "hash": "a" * 64}
    row = _csv_row(record)
    assert (row["client_id"], row["requester"], row["engine"], row["segment"]) == (
        "'=HYPERLINK(\"http://x\")", "'+1", "'-compiled", "'@general")
    assert (row["seq"], row["decision_id"], row["hash"]) == (7, "d1", "a" * 64)
