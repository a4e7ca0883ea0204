"""The policy set a worker serves, and how a reload reaches every worker.

Each worker process holds one ``Loaded`` (registry + Decider + generation) and swaps it as a
whole, so a request sees either the old set or the new one, never a mix.

Across gunicorn workers (no shared memory, preload off), a *run directory* shared by the
workers of one server carries the accepted policy sets:

    <run_dir>/policies/snapshots/<id>/...   a copy of the policies directory, validated
    <run_dir>/policies/CURRENT              {"generation": N, "snapshot": "<id>"} (atomic)

A reload copies the policies directory into a new snapshot *first* and validates the copy,
so what is accepted is exactly what was validated, even if someone edits the directory
meanwhile. A rejected snapshot is deleted and CURRENT is untouched: every worker keeps the
old set. An accepted one gets the next generation number under a file lock. Each worker
``stat``s CURRENT on every request (one system call) and, when it changed, builds the new
Decider from the snapshot and then swaps. A worker forked later (a crash, ``max_requests``)
starts from CURRENT, never from a possibly half-edited policies directory. The gunicorn
master publishes generation 1 at start (see ``gunicorn.conf.py``).

Without a run directory (``crmc serve``, tests of one app) a reload validates the policies
directory directly and only the one process swaps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import PolicyError

__all__ = ["Loaded", "PolicyRuntime", "publish_snapshot", "read_current"]

log = logging.getLogger("crmc.server")
KEEP_SNAPSHOTS = 4  # generations kept; a worker only ever loads the newest
MARKER = ".generation"  # in a published snapshot: its generation number
ABANDONED_S = 3600.0  # an unpublished snapshot this old was left by a publisher that died
RETRY_S = (0.5, 30.0)  # a worker's failed rebuild is retried after this, doubling, capped


@dataclass(frozen=True)
class Loaded:
    registry: Any  # engine.registry.Registry
    decider: Any  # engine.evaluate.Decider
    generation: int
    loaded_at: dt.datetime


def load_registry(directory: Path) -> Any:
    from engine.registry import Registry  # imported late: the master process needs no engine

    # The lock is required: deleting policies.lock must not switch the immutability check
    # of published versions off for the service (a missing lock is an empty one).
    return Registry.load(directory, lock=True)


# --- the shared run directory --------------------------------------------------------------


def _policies_dir(run_dir: Path) -> Path:
    return run_dir / "policies"


def read_current(run_dir: Path) -> tuple[int, Path] | None:
    """(generation, snapshot directory) of the last accepted set, or None before the first."""
    try:
        doc = json.loads((_policies_dir(run_dir) / "CURRENT").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return int(doc["generation"]), _policies_dir(run_dir) / "snapshots" / doc["snapshot"]


@contextlib.contextmanager
def _lock(run_dir: Path) -> Iterator[None]:
    fd = os.open(_policies_dir(run_dir) / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def publish_snapshot(
    policies_dir: Path, run_dir: Path, build: Callable[[Any], Any] | None = None
) -> tuple[int, Any, Any]:
    """Copy, validate and publish the policies directory; (generation, registry, built).

    ``build(registry)`` (e.g. the Decider) runs before publishing, so a set that fails to
    build is rejected like one that fails validation. Raises ``PolicyError``; then nothing
    is published.
    """
    snapshots = _policies_dir(run_dir) / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    name = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    target = snapshots / name
    shutil.copytree(policies_dir, target, ignore=shutil.ignore_patterns(".*", "__pycache__"))
    try:
        registry = load_registry(target)
        built = build(registry) if build is not None else None
    except PolicyError as exc:
        shutil.rmtree(target, ignore_errors=True)
        # Name the files the operator edits, not the snapshot copies.
        raise PolicyError(
            [dataclasses.replace(p, file=_original(p.file, target, policies_dir))
             for p in exc.problems]
        ) from None
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    with _lock(run_dir):
        current = read_current(run_dir)
        generation = (current[0] if current else 0) + 1
        _write_atomic(target / MARKER, f"{generation}\n")
        _write_atomic(
            _policies_dir(run_dir) / "CURRENT",
            json.dumps({"generation": generation, "snapshot": name}) + "\n",
        )
        _prune(snapshots, generation)
    return generation, registry, built


def _original(file: str, snapshot: Path, policies_dir: Path) -> str:
    try:
        return str(policies_dir / Path(file).relative_to(snapshot))
    except ValueError:
        return file


def _prune(snapshots: Path, current: int) -> None:
    """Delete the snapshots of generations older than the last KEEP_SNAPSHOTS (called under
    the lock, right after publishing ``current``). By generation, not by name: names sort by
    the second they were copied and then at random, and a snapshot another reload is still
    copying or validating (no marker yet) is newer than any published one."""
    now = time.time()
    for snapshot in snapshots.iterdir():
        if not snapshot.is_dir():
            continue
        try:
            generation = int((snapshot / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                if now - snapshot.stat().st_mtime > ABANDONED_S:
                    shutil.rmtree(snapshot, ignore_errors=True)
            continue
        if generation <= current - KEEP_SNAPSHOTS:
            shutil.rmtree(snapshot, ignore_errors=True)


# --- one worker's view ----------------------------------------------------------------------


class PolicyRuntime:
    """Holds the worker's ``Loaded`` and keeps it in step with the run directory."""

    def __init__(
        self,
        policies_dir: Path,
        make_decider: Callable[[Any], Any],
        run_dir: Path | None = None,
        on_swap: Callable[[Loaded], None] | None = None,
        retry: tuple[float, float] = RETRY_S,
    ):
        self.policies_dir = Path(policies_dir)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._make_decider = make_decider
        self._on_swap = on_swap
        self._swap_lock = threading.Lock()  # one rebuild at a time (threaded dev server)
        # The stamp of CURRENT as last loaded: set only once its set was built, so that a
        # failed build is tried again (after a backoff) even if CURRENT does not change.
        self._stamp: tuple[int, int] | None = None
        self._loaded: Loaded | None = None
        self._retry = retry
        self._backoff = 0.0
        self._retry_at = 0.0  # time.monotonic() before which a failed build is not retried

    # The first load may raise PolicyError: a worker with no valid policies must not start.
    def start(self) -> Loaded:
        if self.run_dir is not None:
            stamp = self._current_stamp()
            current = read_current(self.run_dir)
            if current is not None:
                generation, snapshot = current
                loaded = self._swap(self._build(snapshot, generation))
                self._stamp = stamp
                return loaded
            generation, registry, decider = publish_snapshot(
                self.policies_dir, self.run_dir, self._make_decider
            )
            self._stamp = None  # look at CURRENT again on the next request
            return self._swap(Loaded(registry, decider, generation, _now()))
        return self._swap(self._build(self.policies_dir, 1))

    def _build(self, directory: Path, generation: int) -> Loaded:
        registry = load_registry(directory)
        return Loaded(registry, self._make_decider(registry), generation, _now())

    def _swap(self, loaded: Loaded) -> Loaded:
        self._loaded = loaded  # one reference assignment: atomic for readers
        if self._on_swap is not None:
            self._on_swap(loaded)
        return loaded

    def _current_stamp(self) -> tuple[int, int] | None:
        assert self.run_dir is not None
        try:
            st = os.stat(_policies_dir(self.run_dir) / "CURRENT")
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    @property
    def loaded(self) -> Loaded | None:
        return self._loaded

    def current(self) -> Loaded:
        """The set to serve this request with; picks up another worker's reload first."""
        if self._loaded is None:
            raise RuntimeError("policies are not loaded")
        if (self.run_dir is not None and self._current_stamp() != self._stamp
                and time.monotonic() >= self._retry_at):
            self._follow()
        return self._loaded

    def _follow(self) -> None:
        # Another thread already rebuilding: keep serving the old set meanwhile.
        if not self._swap_lock.acquire(blocking=False):
            return
        try:
            stamp = self._current_stamp()
            if self._loaded is None:
                return
            try:
                current = read_current(self.run_dir) if self.run_dir else None
                if current is not None and current[0] > self._loaded.generation:
                    generation, snapshot = current
                    self._swap(self._build(snapshot, generation))
                    log.info("policy set generation %d loaded", generation)
            except Exception:
                # The snapshot may have been pruned after quick reloads (CURRENT then
                # names a newer one) or the disk failed: keep serving, try again later.
                self._backoff = min(max(self._backoff * 2, self._retry[0]), self._retry[1])
                self._retry_at = time.monotonic() + self._backoff
                log.exception("could not load the current policy generation; keeping %d, "
                              "retrying in %.1f s", self._loaded.generation, self._backoff)
                return
            self._stamp = stamp
            self._backoff = self._retry_at = 0.0
        finally:
            self._swap_lock.release()

    def reload(self) -> Loaded:
        """Re-read the policies directory; raises PolicyError and keeps the old set if invalid."""
        with self._swap_lock:
            if self.run_dir is None:
                return self._swap(self._build(self.policies_dir, self._next_generation()))
            generation, registry, decider = publish_snapshot(
                self.policies_dir, self.run_dir, self._make_decider
            )
            # Not the stamp of our own CURRENT: another worker may have published since.
            self._stamp = None
            return self._swap(Loaded(registry, decider, generation, _now()))

    def _next_generation(self) -> int:
        return (self._loaded.generation if self._loaded else 0) + 1


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
