"""Tampering with a stored log, on both backends, and what verification says about it.

The log holds records 1..10 with signed checkpoints at 4, 8 (every 4) and 10 (close).
Each test changes the database the way someone with write access to it could, then checks
that ``verify`` names the first broken record — or, for the cases the design cannot
detect (documented in docs/audit.md), shows that it does not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_support import AUDIT_KEY, BACKENDS, Raw, backend_url, make_entry, settings

from engine.chain import checkpoint_mac
from engine.record import open_log
from engine.record_store import COLUMNS, Pending, chain_rows

N = 10


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = backend_url(request.param, tmp_path, request)
    log = open_log(url, settings(tmp_path), checkpoint_every=4)
    for i in range(N):
        log.append(make_entry(i))
    log.close()
    return url


@pytest.fixture
def raw(url: str) -> Iterator[Raw]:
    raw = Raw(url)
    yield raw
    raw.close()


def verify(url: str, tmp_path: Path):
    log = open_log(url, settings(tmp_path), create_key=False)
    try:
        return log.verify()
    finally:
        log.store.close()  # not log.close(): that would sign the tampered head


def row(raw: Raw, seq: int) -> tuple:
    return raw.run(f"SELECT {', '.join(COLUMNS)} FROM crmc_decisions WHERE seq = ?", (seq,))[0]


def put(raw: Raw, values: tuple) -> None:
    marks = ", ".join("?" * len(COLUMNS))
    raw.run(f"INSERT INTO crmc_decisions ({', '.join(COLUMNS)}) VALUES ({marks})", values)


def forged_chain(raw: Raw, after: int, count: int) -> list[tuple]:
    """A fresh, internally valid chain of ``count`` records following record ``after``."""
    head_hash = row(raw, after)[-1] if after else "0" * 64
    pending = []
    for i in range(count):
        entry = make_entry(100 + i, client_id="FORGED")
        pending.append(
            Pending(
                body={"format": 1, "decision_id": entry["decision"]["decision_id"], "x": i},
                decision_id=entry["decision"]["decision_id"],
                client_id="FORGED",
                decided_at="2026-01-01T00:00:00.000000Z",
                requester=None,
                segment=None,
                warning_codes=",",
            )
        )
    return chain_rows(after, head_hash, pending)


def test_untouched_log_is_intact(url: str, tmp_path: Path) -> None:
    result = verify(url, tmp_path)
    assert result.intact and result.records == N
    assert (result.checkpoints, result.last_checkpoint, result.unsigned_tail) == (3, 10, 0)


def test_one_changed_byte_is_found(url: str, raw: Raw, tmp_path: Path) -> None:
    body = row(raw, 5)[7]
    at = body.index('"dscr":') + len('"dscr":')
    changed = body[:at] + ("9" if body[at] != "9" else "8") + body[at + 1 :]
    raw.run("UPDATE crmc_decisions SET body = ? WHERE seq = 5", (changed,))
    result = verify(url, tmp_path)
    assert not result.intact and result.first_broken == 5
    assert "altered" in result.reason


def test_changed_index_column_is_found(url: str, raw: Raw, tmp_path: Path) -> None:
    raw.run("UPDATE crmc_decisions SET decision_id = 'other' WHERE seq = 6")
    result = verify(url, tmp_path)
    assert (result.intact, result.first_broken) == (False, 6)


def test_deleted_record_is_found(url: str, raw: Raw, tmp_path: Path) -> None:
    raw.run("DELETE FROM crmc_decisions WHERE seq = 5")
    result = verify(url, tmp_path)
    assert (result.intact, result.first_broken) == (False, 5)
    assert "missing" in result.reason


def test_inserted_record_is_found(url: str, raw: Raw, tmp_path: Path) -> None:
    # Make room at 5 and insert a record correctly chained to record 4.
    raw.run("UPDATE crmc_decisions SET seq = seq + 1000 WHERE seq >= 5")
    raw.run("UPDATE crmc_decisions SET seq = seq - 999 WHERE seq >= 1000")
    put(raw, forged_chain(raw, 4, 1)[0])
    result = verify(url, tmp_path)
    # The chain breaks at 6 (old 5 does not follow the intruder); checkpoint 8 no longer
    # matches either, and checkpoint 4 does, which narrows the damage to 5 onwards.
    assert (result.intact, result.first_broken) == (False, 5)


def test_swapped_records_are_found(url: str, raw: Raw, tmp_path: Path) -> None:
    three, six = row(raw, 3), row(raw, 6)
    raw.run("DELETE FROM crmc_decisions WHERE seq IN (3, 6)")
    put(raw, (3, *six[1:]))
    put(raw, (6, *three[1:]))
    result = verify(url, tmp_path)
    assert (result.intact, result.first_broken) == (False, 3)


def test_truncated_tail_is_found_by_the_checkpoint(url: str, raw: Raw, tmp_path: Path) -> None:
    raw.run("DELETE FROM crmc_decisions WHERE seq > 7")
    result = verify(url, tmp_path)
    assert (result.intact, result.first_broken) == (False, 8)
    assert "truncated" in result.reason


def test_tail_rewritten_with_a_fresh_chain_is_found(url: str, raw: Raw, tmp_path: Path) -> None:
    raw.run("DELETE FROM crmc_decisions WHERE seq > 5")
    for values in forged_chain(raw, 5, N - 5):
        put(raw, values)
    result = verify(url, tmp_path)
    # The chain itself is valid; checkpoint 4 still matches, checkpoint 8 does not.
    assert (result.intact, result.first_broken) == (False, 5)
    assert "rewritten" in result.reason


def test_forged_checkpoint_is_found(url: str, raw: Raw, tmp_path: Path) -> None:
    raw.run("UPDATE crmc_checkpoints SET mac = ? WHERE seq = 8", ("0" * 64,))
    result = verify(url, tmp_path)
    assert (result.intact, result.first_broken) == (False, 8)
    assert "signature" in result.reason


def test_without_the_key_the_chain_is_still_checked(url: str, raw: Raw, tmp_path: Path) -> None:
    raw.run("DELETE FROM crmc_decisions WHERE seq = 2")
    log = open_log(url, settings(tmp_path, audit_key=None), create_key=False)
    result = log.verify()
    log.store.close()
    assert (result.intact, result.first_broken, result.signatures_checked) == (False, 2, False)


# --- what the design does NOT detect (docs/audit.md, "Not detected") -----------------------


def test_undetectable_rewrite_by_a_key_holder(url: str, raw: Raw, tmp_path: Path) -> None:
    """Whoever holds the HMAC key can rewrite the tail and re-sign it: verify says intact."""
    raw.run("DELETE FROM crmc_decisions WHERE seq > 5")
    raw.run("DELETE FROM crmc_checkpoints WHERE seq > 5")
    rows = forged_chain(raw, 5, N - 5)
    for values in rows:
        put(raw, values)
    key = AUDIT_KEY.encode()
    seq, head = rows[-1][0], rows[-1][-1]
    mac = checkpoint_mac(key, seq, head)
    raw.run(
        "INSERT INTO crmc_checkpoints (seq, hash, created_at, mac) VALUES (?, ?, ?, ?)",
        (seq, head, "2026-01-01T00:00:00.000000Z", mac),
    )
    result = verify(url, tmp_path)
    assert result.intact  # NOT detectable from the database alone
    assert json.loads(row(raw, 6)[7])["x"] == 0  # the forged content is what is stored


def test_undetectable_truncation_after_the_last_checkpoint(url: str, tmp_path: Path) -> None:
    """Records not yet covered by a checkpoint (``unsigned_tail``) can vanish unnoticed."""
    log = open_log(url, settings(tmp_path), checkpoint_every=100)
    log.append(make_entry(50))
    log.append(make_entry(51))
    assert log.verify().unsigned_tail == 2
    raw = Raw(url)
    raw.run("DELETE FROM crmc_decisions WHERE seq > 10")
    raw.close()
    result = log.verify()
    log.store.close()
    assert result.intact and result.records == N
