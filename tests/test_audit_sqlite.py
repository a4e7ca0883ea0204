"""The SQLite decision log's durability modes (``CRMC_DB_SYNC``) and background checkpoints."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from audit_support import make_entry, settings

from engine.record import open_log
from engine.record_sqlite import CHECKPOINT_EVERY_COMMITS, sync_mode


def _pragma(log, name: str) -> int:
    return log.store._writer.execute(f"PRAGMA {name}").fetchone()[0]


@pytest.mark.parametrize(
    ("mode", "synchronous"), [("full", 1), ("normal", 1), ("sqlite-full", 2), ("", 1)]
)
def test_sync_modes(
    mode: str, synchronous: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # full: SQLite at NORMAL (1) plus our own fsync of the WAL after COMMIT; sqlite-full: 2.
    monkeypatch.setenv("CRMC_DB_SYNC", mode)
    log = open_log(f"sqlite:///{tmp_path / 'd.db'}", settings(tmp_path))
    try:
        assert log.store.sync_mode == (mode or "full")
        assert _pragma(log, "synchronous") == synchronous
        assert _pragma(log, "journal_mode") == "wal"
        assert log.append_many([make_entry(i) for i in range(3)]) == [1, 2, 3]
        assert log.verify().intact
    finally:
        log.close()


def test_unknown_sync_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMC_DB_SYNC", "off")
    with pytest.raises(ValueError, match="CRMC_DB_SYNC must be one of full, normal"):
        sync_mode()


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "crmc-wal-checkpoint"]


def test_checkpoints_run_in_a_background_thread_that_close_stops(tmp_path: Path) -> None:
    before = len(_checkpoint_threads())
    path = tmp_path / "d.db"
    log = open_log(f"sqlite:///{path}", settings(tmp_path), checkpoint_every=0)
    try:
        for i in range(CHECKPOINT_EVERY_COMMITS + 1):
            log.append(make_entry(i))
        assert len(_checkpoint_threads()) == before + 1
    finally:
        log.close()
    assert len(_checkpoint_threads()) == before
    # Everything committed is in the database whether or not a checkpoint got to it.
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM crmc_decisions").fetchone()[0] == (
            CHECKPOINT_EVERY_COMMITS + 1
        )
    conn.close()


class _Original(Exception):
    pass


def test_a_failing_rollback_does_not_hide_the_original_error(tmp_path: Path) -> None:
    # The connection goes away inside the transaction (as with a disk that is gone): the
    # ROLLBACK then fails too, and the caller must still see the error that happened first.
    log = open_log(f"sqlite:///{tmp_path / 'd.db'}", settings(tmp_path))
    try:
        with pytest.raises(_Original), log.store.write_txn():
            log.store._writer.close()
            raise _Original
    finally:
        log.store._reader.close()
        log.store._connect()  # a fresh writer, so that closing the log can sign its head
        log.close()


def test_after_a_failed_fsync_nothing_more_is_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A failed fsync may leave earlier commits off the disk while a later fsync succeeds:
    # no later append may be answered as durable until the process restarts.
    from engine.record import LogUnavailable

    monkeypatch.setenv("CRMC_DB_SYNC", "full")
    log = open_log(f"sqlite:///{tmp_path / 'd.db'}", settings(tmp_path))
    try:
        assert log.append(make_entry(0)) == 1
        real = log.store._fsync_wal

        def failing_once() -> None:
            monkeypatch.setattr(log.store, "_fsync_wal", real)
            raise LogUnavailable("injected: fsync failed (EIO)")

        monkeypatch.setattr(log.store, "_fsync_wal", failing_once)
        with pytest.raises(LogUnavailable):
            log.append(make_entry(1))
        with pytest.raises(LogUnavailable, match="earlier fsync failed"):
            log.append(make_entry(2))  # the fsync would work now: still refused
    finally:
        # nor is a checkpoint signed over records whose durability is unknown
        with pytest.raises(LogUnavailable, match="earlier fsync failed"):
            log.close()
