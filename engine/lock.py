"""``policies/policies.lock``: the sha256 of every published policy version.

Active versions are immutable: decisions were made with them and auditors replay them by
hash. ``crmc publish`` is the only writer of the lock; ``crmc validate`` (and
:meth:`engine.registry.Registry.load`) compares every version against it:

* ``lock-changed`` — a published version's content differs from its locked hash, its
  ``effective_to`` differs from the locked one, or it was set back to draft: publish a
  new version instead;
* ``lock-missing`` — an active or retired version that was never published through the
  lock (a version is retired only after it was active), or the lock file itself is gone
  (a deleted lock must not switch the check off);
* ``lock-orphan`` — the lock names a version whose file is gone (published versions are
  kept, retired if need be, so that logged decisions stay replayable);
* ``lock-format`` — the lock file itself is unreadable.

The hash covers the version's content, not its lifecycle fields ``status`` and
``effective_to`` (see :func:`engine.registry.policy_sha256`), so logged decisions keep
matching their version's hash when it is retired or closed. The lock records
``effective_to`` beside the hash: only ``crmc publish`` changes it, when a new version
closes an open-ended predecessor (``effective_to`` = the day before the new version).

The file is JSON, keys sorted, one version per line, so a publish is a one-line diff.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import Problem
from engine.load import Document

__all__ = ["LOCK_NAME", "Lock", "LockEntry", "Locked", "atomic_write", "check_lock", "read_lock",
           "render_lock", "write_lock"]

LOCK_NAME = "policies.lock"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Statuses only `crmc publish` leads to: a version is retired only after it was active.
PUBLISHED = frozenset({"active", "retired"})
_NOTE = "sha256 of every published policy version; written by `crmc publish`, never by hand"


@dataclass(frozen=True)
class Locked:
    """What the lock holds for one published version."""

    sha256: str
    effective_to: str | None = None  # ISO date, None for open-ended


@dataclass
class Lock:
    path: Path
    entries: dict[str, Locked] = field(default_factory=dict)  # "policy@version" -> Locked
    text: str = ""
    exists: bool = False

    def where(self, key: str) -> tuple[int, int]:
        """Line and column of ``key`` in the lock file (1, 1 when not found)."""
        for number, line in enumerate(self.text.splitlines(), start=1):
            column = line.find(f'"{key}"')
            if column >= 0:
                return number, column + 1
        return 1, 1


@dataclass(frozen=True)
class LockEntry:
    """A policy version as the lock check sees it."""

    key: str  # policy@version
    sha256: str
    status: str
    effective_to: str | None
    document: Document


def read_lock(path: Path) -> tuple[Lock, list[Problem]]:
    """Read the lock; a missing file is an empty lock (``exists`` False)."""
    lock = Lock(path)
    if not path.exists():
        return lock, []
    lock.exists = True
    name = str(path)
    try:
        lock.text = path.read_text(encoding="utf-8")
        data = json.loads(lock.text)
    except (OSError, UnicodeDecodeError) as exc:
        return lock, [Problem(name, 0, 0, "lock-format", f"cannot read the lock: {exc}")]
    except json.JSONDecodeError as exc:
        return lock, [Problem(name, exc.lineno, exc.colno, "lock-format",
                              f"the lock is not valid JSON: {exc.msg}")]
    versions = data.get("versions") if isinstance(data, dict) else None
    if not isinstance(versions, dict):
        return lock, [Problem(name, 1, 1, "lock-format",
                              'the lock is a JSON object with a "versions" object')]
    problems = []
    for key, entry in versions.items():
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        until = entry.get("effective_to") if isinstance(entry, dict) else None
        if isinstance(digest, str) and _SHA256.match(digest) and "@" in key \
                and (until is None or isinstance(until, str)):
            lock.entries[key] = Locked(digest, until)
        else:
            line, col = lock.where(key)
            problems.append(Problem(name, line, col, "lock-format",
                                    f"'{key}' must map policy@version to "
                                    '{"sha256": <hex digest>, "effective_to": <date or null>}',
                                    f"$.versions[{key!r}]"))
    return lock, problems


def render_lock(entries: Mapping[str, Locked]) -> str:
    """One version per line: a publish is a one-line diff."""
    lines = [
        f'    "{key}": {{"sha256": "{entry.sha256}", "effective_to": '
        f"{json.dumps(entry.effective_to)}}}"
        for key, entry in sorted(entries.items(), key=lambda kv: _sort_key(kv[0]))
    ]
    body = ",\n".join(lines)
    return f'{{\n  "note": {json.dumps(_NOTE)},\n  "versions": {{\n{body}\n  }}\n}}\n'


def write_lock(path: Path, entries: Mapping[str, Locked]) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a lock."""
    atomic_write(path, render_lock(entries))


def check_lock(lock: Lock, versions: Iterable[LockEntry], *,
               publishing: frozenset[str] = frozenset(),
               unreadable: frozenset[str] = frozenset()) -> list[Problem]:
    """Compare versions with the lock. ``publishing``: keys being published right now;
    ``unreadable``: keys whose file exists but did not load (already reported, and not
    orphans: "has no file" would send the reader looking for a file that is there)."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for v in versions:
        seen.add(v.key)
        locked = lock.entries.get(v.key)
        if locked is None:
            if v.status in PUBLISHED and v.key not in publishing:
                problems.append(v.document.problem(("status",), "lock-missing",
                                                   _missing(lock, v)))
        elif v.status == "draft":
            problems.append(v.document.problem(
                ("status",), "lock-changed",
                f"{v.key} was published (it is in {LOCK_NAME}) and cannot return to draft: "
                f"publish a new version instead"))
        elif locked.sha256 != v.sha256:
            problems.append(v.document.problem(
                ("version",), "lock-changed",
                f"published version {v.key} was changed (sha256 {v.sha256[:12]}…, locked "
                f"{locked.sha256[:12]}…): published versions are immutable, publish a new "
                f"version instead"))
        elif locked.effective_to != v.effective_to:
            was = locked.effective_to or "open-ended"
            problems.append(v.document.problem(
                ("effective_to",), "lock-changed",
                f"effective_to of published version {v.key} was changed (locked: {was}); "
                f"publish a new version instead: `crmc publish` closes its predecessor"))
    for key in sorted(set(lock.entries) - seen - unreadable, key=_sort_key):
        line, col = lock.where(key)
        problems.append(Problem(str(lock.path), line, col, "lock-orphan",
                                f"locked version {key} has no file; "
                                f"published versions must be kept: retire them instead",
                                f"$.versions[{key!r}]"))
    return problems


def _missing(lock: Lock, v: LockEntry) -> str:
    """Why a published (active or retired) version without a lock entry is refused."""
    if not lock.exists:  # deleting the lock must not switch the immutability check off
        return (f"{v.status} version {v.key} cannot be checked: {lock.path} does not exist; "
                f"restore it from version control (versions go live with `crmc publish`)")
    if v.status == "retired":
        return (f"retired version {v.key} is not in {LOCK_NAME}: a version is retired only "
                f"after it was published with `crmc publish`; a new version starts as draft")
    return (f"active version {v.key} is not in {LOCK_NAME}: active versions are published "
            f"with `crmc publish` (set status: draft, then publish it)")


def _sort_key(key: str) -> tuple:
    policy_id, _, version = key.partition("@")
    parts = version.split(".")
    return (policy_id, *(int(p) if p.isdigit() else -1 for p in parts))


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, keeping its permissions."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
