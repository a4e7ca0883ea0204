"""The embedded decision log: SQLite in WAL mode (``sqlite:///var/decisions.db``).

Several processes (gunicorn workers) share the file. ``BEGIN IMMEDIATE`` takes SQLite's
single write lock before the head is read, which serialises the chain across processes;
WAL lets readers go on meanwhile.

Durability (``CRMC_DB_SYNC``):

* ``full`` (default): every answered decision is on disk (survives power loss). SQLite's
  own ``synchronous=FULL`` would fsync the WAL *inside* COMMIT, i.e. while holding the one
  write lock every worker needs, so commits of different workers could never share a disk
  flush. Instead the connection runs ``synchronous=NORMAL`` (WAL frames written, not
  synced, at COMMIT; WAL synced before each checkpoint and the database after it) and
  ``sync()`` fsyncs the WAL file right after COMMIT, *after* the lock is released, before
  the caller answers. That is the very sync FULL would issue, moved out of the lock: an
  fsync flushes the whole file, so it makes this commit and every earlier one durable, and
  WAL recovery only ever keeps a checksummed prefix, so a later commit never survives
  without an earlier one. Flushes of several workers overlap and the kernel merges them.
* ``normal``: no fsync per commit. WAL + NORMAL survives a crash of any process (kill -9)
  but a power loss or kernel crash may lose the last commits (never corrupts the log).
* ``sqlite-full``: SQLite's own ``synchronous=FULL`` (fsync inside the lock); for
  comparison.

Checkpoints (copying the WAL into the database file: two fsyncs and page copies) run in a
background thread of each process (``PRAGMA wal_checkpoint(PASSIVE)``, never blocking a
writer) every few dozen commits, instead of inside the COMMIT of whichever request crossed
SQLite's 1,000-page threshold. The writer keeps a far higher automatic threshold as a
safety net should the background thread fall behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.record_store import DuplicateDecision, LogUnavailable, SqlStore

__all__ = ["SqliteStore", "sqlite_path"]

log = logging.getLogger("crmc.record")

BUSY_TIMEOUT_S = 30.0
CHECKPOINT_EVERY_COMMITS = 32  # kick the background checkpoint this often
AUTOCHECKPOINT_PAGES = 20_000  # the writer's own checkpoint: only if the thread falls behind
SYNC_MODES = {"full": "NORMAL", "normal": "NORMAL", "sqlite-full": "FULL"}  # -> PRAGMA


def sync_mode() -> str:
    mode = os.environ.get("CRMC_DB_SYNC", "full").strip().lower() or "full"
    if mode not in SYNC_MODES:
        raise ValueError(f"CRMC_DB_SYNC must be one of {', '.join(SYNC_MODES)}, not {mode!r}")
    return mode


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
        self.sync_mode = sync_mode()
        self._wal = Path(f"{self.path}-wal")
        self._wal_ino = -1  # the WAL inode whose directory entry was last made durable
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
        conn.execute(f"PRAGMA synchronous={SYNC_MODES[self.sync_mode]}")
        return conn

    def _connect(self) -> None:
        """(Re)open connections; after a fork the parent's connections must not be used."""
        try:
            self._writer = self._open()
            self._writer.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            self._reader = self._open()
        except sqlite3.Error as exc:
            raise LogUnavailable(f"cannot open decision log {self.path}: {exc}") from exc
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._commits = 0  # COMMITs by this process (under the write lock)
        self._synced = 0  # of those, how many a finished fsync covers
        self._syncing = False
        # After a failed fsync the kernel may have dropped the dirty pages: a later fsync can
        # succeed without the earlier commits on disk. Refuse to answer until a restart.
        self._sync_failed: str | None = None
        self._sync_cv = threading.Condition()
        self._checkpointer: _Checkpointer | None = None  # started on the first kick
        self._pid = os.getpid()

    def _check_fork(self) -> None:
        if self._pid != os.getpid():
            self._connect()

    @contextmanager
    def write_txn(self) -> Iterator[Any]:
        self._check_fork()
        if self._sync_failed is not None:
            raise LogUnavailable(self._sync_failed)
        with self._write_lock:
            cur = self._writer.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise LogUnavailable(f"decision log {self.path} is not writable: {exc}") from exc
            try:
                yield cur
                cur.execute("COMMIT")
                self._commits += 1
                if self._commits % CHECKPOINT_EVERY_COMMITS == 0:
                    if self._checkpointer is None:
                        self._checkpointer = _Checkpointer(self._open)
                    self._checkpointer.kick()
            except BaseException as exc:
                # A failing ROLLBACK (a disk gone away, a closed connection) must not hide
                # the error that got us here; SQLite rolls back by itself when it cannot go on.
                with contextlib.suppress(sqlite3.Error):
                    if self._writer.in_transaction:
                        self._writer.execute("ROLLBACK")
                if isinstance(exc, sqlite3.IntegrityError) and "decision_id" in str(exc):
                    raise DuplicateDecision(str(exc)) from exc
                if isinstance(exc, sqlite3.Error):
                    raise LogUnavailable(f"decision log {self.path}: {exc}") from exc
                raise
            finally:
                with contextlib.suppress(sqlite3.Error):
                    cur.close()

    def sync(self) -> None:
        """Make every commit so far durable (``full`` mode): fsync the WAL file.

        Called after COMMIT, outside the write lock, before the caller answers. One fsync
        at a time per process: a caller whose commit an fsync already in flight may not
        cover waits for it, then one fsync covers every commit made meanwhile.
        """
        if self.sync_mode != "full":
            return
        wanted = self._commits  # includes the caller's own commit
        with self._sync_cv:
            while self._synced < wanted:
                if self._sync_failed is not None:
                    raise LogUnavailable(self._sync_failed)
                if self._syncing:
                    self._sync_cv.wait()
                    continue
                self._syncing = True
                covers = self._commits
                self._sync_cv.release()
                done = False
                try:
                    self._fsync_wal()
                    done = True
                finally:
                    self._sync_cv.acquire()
                    self._syncing = False
                    if done:
                        self._synced = max(self._synced, covers)
                    else:
                        self._sync_failed = (
                            f"decision log {self._wal}: an earlier fsync failed; "
                            "restart the service before it answers again"
                        )
                    self._sync_cv.notify_all()

    def _fsync_wal(self) -> None:
        """fsync the WAL; a new WAL file also gets its directory entry synced, as SQLite
        does when it creates one."""
        try:
            fd = os.open(self._wal, os.O_RDONLY)
        except FileNotFoundError:
            return  # everything was checkpointed into the (synced) database file
        except OSError as exc:
            raise LogUnavailable(f"decision log {self._wal}: {exc}") from exc
        try:
            os.fsync(fd)
            ino = os.fstat(fd).st_ino
            if ino != self._wal_ino:
                dir_fd = os.open(self._wal.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
                self._wal_ino = ino
        except OSError as exc:
            raise LogUnavailable(f"decision log {self._wal}: fsync failed: {exc}") from exc
        finally:
            os.close(fd)

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
            if self._checkpointer is not None:
                self._checkpointer.stop()
                self._checkpointer = None
            self._writer.close()
            self._reader.close()


class _Checkpointer:
    """A daemon thread with its own connection that checkpoints the WAL when kicked."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]):
        self._connect = connect
        self._kick = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="crmc-wal-checkpoint", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        self._kick.set()  # kicks while a checkpoint runs coalesce into one more

    def stop(self) -> None:
        self._stopping = True
        self._kick.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                self._kick.wait()
                self._kick.clear()
                if self._stopping:
                    return
                try:
                    if conn is None:
                        conn = self._connect()
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # the writer's autocheckpoint still bounds the WAL
                    log.warning("background WAL checkpoint failed: %s", exc)
        finally:
            if conn is not None:
                conn.close()
