"""The embedded decision log: SQLite in WAL mode (``sqlite:///var/decisions.db``).

Several processes (gunicorn workers) share the file. ``BEGIN IMMEDIATE`` takes SQLite's
single write lock before the head is read, which serialises the chain across processes;
WAL lets readers go on meanwhile. ``synchronous=FULL`` makes each commit durable across
power loss, not only a process crash; group commit (``engine.record``) pays that fsync
once per batch.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.record_store import DuplicateDecision, LogUnavailable, SqlStore

__all__ = ["SqliteStore", "sqlite_path"]

BUSY_TIMEOUT_S = 30.0


def sqlite_path(url: str) -> Path:
    """``sqlite:///rel/path.db`` → ``rel/path.db``; ``sqlite:////abs/p.db`` → ``/abs/p.db``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ValueError(f"not a SQLite file URL: {url!r} (expected sqlite:///path/to/file.db)")
    return Path(url[len(prefix) :])


class SqliteStore(SqlStore):
    placeholder = "?"

    def __init__(self, url: str):
        self.path = sqlite_path(url)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LogUnavailable(f"cannot create {self.path.parent}: {exc}") from exc
        self._pid = -1
        self._connect()
        try:
            with self.write_txn() as cur:
                self.migrate_in(cur)
        except BaseException:
            self.close()
            raise

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves (BEGIN IMMEDIATE matters).
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _connect(self) -> None:
        """(Re)open connections; after a fork the parent's connections must not be used."""
        try:
            self._writer = self._open()
            self._reader = self._open()
        except sqlite3.Error as exc:
            raise LogUnavailable(f"cannot open decision log {self.path}: {exc}") from exc
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._pid = os.getpid()

    def _check_fork(self) -> None:
        if self._pid != os.getpid():
            self._connect()

    @contextmanager
    def write_txn(self) -> Iterator[Any]:
        self._check_fork()
        with self._write_lock:
            cur = self._writer.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise LogUnavailable(f"decision log {self.path} is not writable: {exc}") from exc
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException as exc:
                if self._writer.in_transaction:
                    self._writer.execute("ROLLBACK")
                if isinstance(exc, sqlite3.IntegrityError) and "decision_id" in str(exc):
                    raise DuplicateDecision(str(exc)) from exc
                if isinstance(exc, sqlite3.Error):
                    raise LogUnavailable(f"decision log {self.path}: {exc}") from exc
                raise
            finally:
                cur.close()

    @contextmanager
    def read_cursor(self) -> Iterator[Any]:
        self._check_fork()
        with self._read_lock:
            cur = self._reader.cursor()
            try:
                yield cur
            except sqlite3.Error as exc:
                raise LogUnavailable(f"decision log {self.path}: {exc}") from exc
            finally:
                cur.close()

    def close(self) -> None:
        if self._pid == os.getpid():
            self._writer.close()
            self._reader.close()
