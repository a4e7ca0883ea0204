"""The decision log on both backends: append, lookup, search, masking, group commit, schema."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from audit_support import BACKENDS, Raw, backend_url, make_entry, settings

from engine.chain import GENESIS, canonical, record_hash
from engine.record import DuplicateDecision, LogUnavailable, open_log
from engine.record_store import SCHEMA_VERSION


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(request.param, tmp_path, request)


@pytest.fixture
def log(url: str, tmp_path: Path):
    log = open_log(url, settings(tmp_path), checkpoint_every=4)
    yield log
    log.close()


def test_append_returns_consecutive_seqs_and_get_returns_the_record(log) -> None:
    entries = [make_entry(i) for i in range(3)]
    seqs = [log.append(e) for e in entries]
    assert seqs == [1, 2, 3]
    record = log.get(entries[1]["decision"]["decision_id"])
    assert record["seq"] == 2
    assert record["decision"] == entries[1]["decision"]
    assert record["request"]["facts"] == entries[1]["request"]["facts"]
    assert record["requester"] == "tester" and record["engine"] == "compiled"
    assert record["policies"] == entries[1]["decision"]["policies"]
    assert record["masked"] == []
    first = log.get(entries[0]["decision"]["decision_id"])
    assert first["prev_hash"] == GENESIS
    assert record["prev_hash"] == first["hash"]
    body = {k: v for k, v in record.items() if k != "hash"}
    assert record["hash"] == record_hash(record["prev_hash"], canonical(body))


def test_unknown_decision_is_none(log) -> None:
    assert log.get("no-such-id") is None


def test_append_many_is_one_ordered_batch(log) -> None:
    entries = [make_entry(i) for i in range(5)]
    assert log.append_many(entries) == [1, 2, 3, 4, 5]
    assert [r["decision_id"] for r in log.iter_records()] == [
        e["decision"]["decision_id"] for e in entries
    ]
    assert log.verify().intact


def test_search_filters(log) -> None:
    log.append(make_entry(0, client_id="A-1"))
    log.append(make_entry(1, client_id="B-2", segment={"value": "strategic_partner", "rule": "x"}))
    warned = make_entry(2, client_id="A-1", warnings=[{"code": "payment_delay"}])
    log.append(warned)
    assert [r["seq"] for r in log.search(client_id="A-1")] == [3, 1]  # newest first
    assert [r["client_id"] for r in log.search(segment="strategic_partner")] == ["B-2"]
    assert [r["seq"] for r in log.search(warning_code="payment_delay")] == [3]
    assert log.search(warning_code="payment") == []  # whole codes only
    assert len(log.search(limit=2)) == 2
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    assert log.search(since=tomorrow) == []
    assert len(log.search(until=tomorrow)) == 3
    assert len(list(log.iter_records(since=tomorrow))) == 0


def test_duplicate_decision_id_fails_alone(log) -> None:
    entry = make_entry(0)
    log.append(entry)
    with pytest.raises(DuplicateDecision):
        log.append(entry)
    assert log.append(make_entry(1)) == 2
    assert log.verify().intact


def test_invalid_entry_is_refused_before_writing(log) -> None:
    bad = make_entry(0)
    bad["decision"]["decided_at"] = "yesterday"
    with pytest.raises(ValueError, match="decided_at"):
        log.append(bad)
    assert log.verify().records == 0


def test_masking_happens_before_hashing(url: str, tmp_path: Path) -> None:
    mask = ("/profile/name", "/facts/financials/dscr", "/not/present")
    log = open_log(url, settings(tmp_path, audit_mask=mask))
    entry = make_entry(0, warnings=[{"code": "low_dscr", "observed": {"financials.dscr": 1.0}}])
    leaf = {"fact": "financials.dscr", "op": "lt", "expected": 1.2, "observed": 1.0}
    entry["decision"]["trace"] = [{"rule": "r", "fired": True, "leaves": [leaf]}]
    log.append(entry)
    record = log.get(entry["decision"]["decision_id"])
    assert record["masked"] == ["/financials/dscr", "/profile/name"]
    assert record["request"]["facts"]["profile"]["name"] == "[masked]"
    assert record["request"]["facts"]["financials"]["dscr"] == "[masked]"
    assert record["decision"]["warnings"][0]["observed"] == {"financials.dscr": "[masked]"}
    assert record["decision"]["trace"][0]["leaves"][0]["observed"] == "[masked]"
    assert record["decision"]["trace"][0]["leaves"][0]["expected"] == 1.2
    assert entry["request"]["facts"]["profile"]["name"] != "[masked]"  # caller's copy intact
    assert log.verify().intact  # the hash covers the masked form
    log.close()


def test_concurrent_threads_are_group_committed(log) -> None:
    seqs: list[int] = []
    lock = threading.Lock()

    def run() -> None:
        for i in range(10):
            seq = log.append(make_entry(i))
            with lock:
                seqs.append(seq)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(1, 61))
    result = log.verify()
    assert result.intact and result.records == 60


def test_checkpoints_every_n_and_on_close(url: str, tmp_path: Path) -> None:
    log = open_log(url, settings(tmp_path), checkpoint_every=4)
    log.append_many([make_entry(i) for i in range(3)])
    assert log.verify().checkpoints == 0
    log.append_many([make_entry(i) for i in range(5)])  # passes 4: the batch's head is signed
    log.append(make_entry(9))
    result = log.verify()
    assert (result.checkpoints, result.last_checkpoint, result.unsigned_tail) == (1, 8, 1)
    log.close()
    log = open_log(url, settings(tmp_path))
    result = log.verify()
    assert (result.checkpoints, result.last_checkpoint, result.unsigned_tail) == (2, 9, 0)
    log.close()


def test_schema_is_versioned_and_reopening_keeps_records(url: str, tmp_path: Path) -> None:
    log = open_log(url, settings(tmp_path))
    log.append(make_entry(0))
    log.close()
    raw = Raw(url)
    assert raw.run("SELECT version FROM crmc_schema_version") == [(SCHEMA_VERSION,)]
    raw.run("UPDATE crmc_schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    raw.close()
    with pytest.raises(LogUnavailable, match="newer"):
        open_log(url, settings(tmp_path))
    raw = Raw(url)
    raw.run("UPDATE crmc_schema_version SET version = ?", (SCHEMA_VERSION,))
    raw.close()
    log = open_log(url, settings(tmp_path))
    assert log.append(make_entry(1)) == 2
    log.close()


def test_key_file_is_created_private_and_reused(url: str, tmp_path: Path) -> None:
    s = settings(tmp_path, audit_key=None)
    log = open_log(url, s)
    log.append(make_entry(0))
    log.close()
    key_file = s.audit_key_file
    assert key_file.stat().st_mode & 0o777 == 0o600
    before = key_file.read_text()
    log = open_log(url, s)
    assert log.verify().intact  # the same key verifies the earlier checkpoint
    assert key_file.read_text() == before
    assert before.strip() not in repr(log)
    log.close()


def test_unwritable_sqlite_log_raises_log_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(LogUnavailable):
        open_log(f"sqlite:///{blocker}/sub/decisions.db", settings(tmp_path))


def test_unreachable_postgres_raises_log_unavailable(tmp_path: Path) -> None:
    with pytest.raises(LogUnavailable):
        open_log("postgresql://127.0.0.1:1/test?connect_timeout=2", settings(tmp_path))


@pytest.mark.parametrize("code", ["%", "_", "payment%", "payment_dela_", "payment\\_delay"])
def test_warning_search_takes_the_code_literally(log, code: str) -> None:
    # LIKE wildcards in the searched code match nothing but themselves.
    log.append(make_entry(0, warnings=[{"code": "payment_delay"}]))
    log.append(make_entry(1, warnings=[{"code": "paymentxdelay"}]))
    assert log.search(warning_code=code) == []
    assert [r["seq"] for r in log.search(warning_code="payment_delay")] == [1]


def test_a_bad_database_url_is_not_echoed_with_its_password(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as info:
        open_log("mysql://crmc:s3cret@db.example/crmc", settings(tmp_path))
    assert "s3cret" not in str(info.value)
    assert "mysql://crmc:***@db.example/crmc" in str(info.value)
