"""The policy registry: every version of every policy in a directory, checked and hashed.

Layout: ``<directory>/<policy-id>/<version>.yaml``. Only files whose name starts with a
digit are version files; other files and folders (e.g. ``policies/tests/`` with policy
test cases, ``policies/policies.lock``) are left to their own tools.

:meth:`Registry.load` checks every file (:mod:`engine.validate`), then the directory as a
whole: one policy id per kind, no overlapping effective periods between *active* versions
of a policy, and the lock (:mod:`engine.lock`). Any problem refuses the whole directory
(:class:`~engine.errors.PolicyError` with every problem), so a server never runs on a
half-valid policy set.

Selection: drafts are never selected by date and retired versions only by pin; on a date,
each policy's single active version whose ``[effective_from, effective_to]`` covers it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import NoPolicyInForce, PolicyError, Problem, UnknownPolicyVersion
from engine.factspace import FactSpace, default_factspace
from engine.load import Document, LoadError, load_text
from engine.lock import (
    LOCK_NAME,
    Lock,
    Locked,
    LockEntry,
    atomic_write,
    check_lock,
    read_lock,
    write_lock,
)
from engine.model import PIPELINE
from engine.seam import LoadedPolicy
from engine.validate import Checked, check_document, check_file

__all__ = ["DirectoryCheck", "Registry", "check_directory", "policy_sha256", "publish",
           "semver_key", "version_files"]


LIFECYCLE_FIELDS = ("status", "effective_to")


def semver_key(version: str) -> tuple[int, ...]:
    """Sort key of ``MAJOR.MINOR.PATCH`` (non-numeric parts sort first)."""
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("."))


def _normalise(value: Any) -> Any:
    """Numbers in one form: an integral float is an int (``5.0`` and ``5`` hash alike)."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def policy_sha256(document: Mapping[str, Any]) -> str:
    """sha256 of a version's canonical form.

    The canonical form is the loaded document (so comments, whitespace, key order, quoting
    and number spelling — ``1.30`` vs ``1.3``, ``5`` vs ``5.0`` — do not count) as JSON
    with sorted keys, no spaces, UTF-8, without the lifecycle fields ``status`` and
    ``effective_to``: publishing, retiring or closing a version (``crmc publish`` sets the
    predecessor's ``effective_to``) is not an edit of its content, and decisions logged
    with it must keep matching its hash. ``policies.lock`` guards ``effective_to``
    separately. Any other edit of a key or value changes the hash.
    """
    content = {k: v for k, v in document.items() if k not in LIFECYCLE_FIELDS}
    text = json.dumps(_normalise(content), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def version_files(directory: Path) -> list[Path]:
    """``<directory>/<policy-id>/<digit…>.yaml`` files, in path order."""
    files = []
    for sub in sorted(p for p in directory.iterdir() if p.is_dir()):
        if sub.name.startswith((".", "_")):
            continue
        files += sorted(f for f in sub.iterdir()
                        if f.is_file() and f.name[:1].isdigit() and f.suffix in (".yaml", ".yml"))
    return files


@dataclass
class DirectoryCheck:
    """Every file of a directory checked, plus the problems across versions."""

    directory: Path
    checked: list[Checked] = field(default_factory=list)
    loaded: list[LoadedPolicy] = field(default_factory=list)  # files without problems
    problems: list[Problem] = field(default_factory=list)  # every problem, files included


def check_directory(directory: str | Path, *, lock: bool | None = True,
                    overrides: Mapping[Path, str] | None = None,
                    publishing: frozenset[str] = frozenset(),
                    lock_override: Lock | None = None,
                    factspace: FactSpace | None = None) -> DirectoryCheck:
    """Check a policy directory.

    ``lock``: True checks against ``<directory>/policies.lock`` (a missing lock file is an
    empty lock); None checks only when the lock file exists; False skips the lock.
    ``overrides``: file path -> text to check instead of the file's content (publish
    checks the directory as it will be). ``publishing``: ``policy@version`` keys that may
    be active without a lock entry yet; ``lock_override``: the lock as it will be.
    """
    directory = Path(directory)
    fs = factspace or default_factspace()
    result = DirectoryCheck(directory)
    overrides = {Path(k): v for k, v in (overrides or {}).items()}
    entries: list[LockEntry] = []
    unreadable: set[str] = set()  # versions whose file exists but does not load
    if not directory.is_dir():
        result.problems.append(Problem(str(directory), 0, 0, "io", "not a directory"))
        return result
    for path in version_files(directory):
        if path.suffix == ".yml":
            result.problems.append(Problem(str(path), 0, 0, "version-name",
                                           "version files are named <version>.yaml, not .yml"))
            continue
        checked = _check(path, overrides.get(path), fs)
        result.checked.append(checked)
        result.problems += checked.problems
        data = checked.document.data if checked.document else None
        key = f"{path.parent.name}@{path.stem}"
        if not isinstance(data, dict):
            unreadable.add(key)  # its own problem says why; the lock entry is not orphaned
        else:
            until = data.get("effective_to")
            entries.append(LockEntry(key, policy_sha256(data),
                                     str(data.get("status")),
                                     until if isinstance(until, str) else None,
                                     checked.document))
    result.problems += _across_versions(result.checked)
    lock_path = directory / LOCK_NAME
    if lock_override is not None:
        result.problems += check_lock(lock_override, entries, publishing=publishing,
                                      unreadable=frozenset(unreadable))
    elif lock or (lock is None and lock_path.exists()):
        the_lock, lock_problems = read_lock(lock_path)
        result.problems += lock_problems
        if not lock_problems:
            result.problems += check_lock(the_lock, entries, publishing=publishing,
                                          unreadable=frozenset(unreadable))
    for checked in result.checked:
        if checked.policy is not None and not checked.problems:
            assert checked.document is not None
            result.loaded.append(LoadedPolicy(checked.policy,
                                              policy_sha256(checked.document.data),
                                              Path(checked.file), checked.document.data))
    return result


def _check(path: Path, text: str | None, fs: FactSpace) -> Checked:
    if text is None:
        return check_file(path, factspace=fs)
    try:
        doc = load_text(text, str(path))
    except LoadError as exc:
        return Checked(str(path), None, None, [exc.problem])
    return check_document(doc, file_path=path, factspace=fs)


def _across_versions(checked: list[Checked]) -> list[Problem]:
    """One policy id per kind; active versions of a policy do not overlap in time."""
    problems: list[Problem] = []
    usable = [c for c in checked if c.policy is not None and c.document is not None]
    ids_of_kind: dict[str, str] = {}
    for c in sorted(usable, key=lambda c: c.policy.id):
        first = ids_of_kind.setdefault(c.policy.kind, c.policy.id)
        if first != c.policy.id:
            problems.append(c.document.problem(
                ("kind",), "kind-conflict",
                f"policy '{c.policy.id}' has kind '{c.policy.kind}', like policy '{first}'; "
                f"a directory holds one policy per kind"))
    active = sorted((c for c in usable if c.policy.status == "active"),
                    key=lambda c: (c.policy.id, c.policy.effective_from))
    for a, b in itertools.combinations(active, 2):
        if a.policy.id != b.policy.id:
            continue
        if semver_key(a.policy.version) > semver_key(b.policy.version):
            a, b = b, a  # report at the newer version: usually the one being written
        pa, pb = a.policy, b.policy
        a_end, b_end = pa.effective_to or dt.date.max, pb.effective_to or dt.date.max
        if pa.effective_from <= b_end and pb.effective_from <= a_end:
            start, end = max(pa.effective_from, pb.effective_from), min(a_end, b_end)
            until = "on" if end == dt.date.max else f"to {end}"
            problems.append(b.document.problem(
                ("effective_from",), "effective-overlap",
                f"active versions {pa.version} and {pb.version} of {pa.id} are both in "
                f"force from {start} {until}; set effective_to on {pa.version} (as a new "
                f"version) or move effective_from"))
    return problems


class Registry:
    """Every loaded version of every policy (see the module docstring)."""

    def __init__(self, loaded: list[LoadedPolicy], directory: Path | None = None):
        self.directory = directory
        self._by_id: dict[str, list[LoadedPolicy]] = {}
        for lp in loaded:
            self._by_id.setdefault(lp.id, []).append(lp)
        for versions in self._by_id.values():
            versions.sort(key=lambda lp: semver_key(lp.version))
        self._id_of_kind = {lp.kind: lp.id for lp in loaded}

    @classmethod
    def load(cls, directory: str | Path, *, lock: bool | None = None) -> Registry:
        """Load and check a directory; raises :class:`PolicyError` with every problem.

        ``lock`` as in :func:`check_directory`; by default the lock is checked when
        ``policies.lock`` exists (directories built by tests may have none). Whatever
        serves or replays decisions from the configured directory passes ``lock=True``:
        deleting the lock must not switch the immutability check off.
        """
        result = check_directory(directory, lock=lock)
        if result.problems:
            raise PolicyError(result.problems)
        return cls(result.loaded, Path(directory))

    def all(self) -> list[LoadedPolicy]:
        return [lp for pid in sorted(self._by_id) for lp in self._by_id[pid]]

    def ids(self) -> list[str]:
        return sorted(self._by_id)

    def versions(self, policy_id: str) -> list[LoadedPolicy]:
        if policy_id not in self._by_id:
            raise UnknownPolicyVersion(policy_id)
        return list(self._by_id[policy_id])

    def get(self, policy_id: str, version: str) -> LoadedPolicy:
        for lp in self._by_id.get(policy_id, []):
            if lp.version == version:
                return lp
        raise UnknownPolicyVersion(policy_id, version)

    def in_force(self, policy_id: str, on: dt.date) -> LoadedPolicy:
        for lp in self.versions(policy_id):
            if lp.in_force(on):  # active versions never overlap: at most one matches
                return lp
        raise NoPolicyInForce(policy_id, on)

    def select(self, on: dt.date, pins: Mapping[str, str] | None = None
               ) -> dict[str, LoadedPolicy]:
        """kind -> version for a decision on ``on``, in pipeline order.

        ``pins`` maps policy id -> version and may name a draft or retired version.
        """
        pins = dict(pins or {})
        for policy_id, version in pins.items():
            self.get(policy_id, version)  # an unknown pin fails before anything else
        chosen: dict[str, LoadedPolicy] = {}
        for kind in PIPELINE:
            policy_id = self._id_of_kind.get(kind)
            if policy_id is None:
                raise NoPolicyInForce(kind, on)
            if policy_id in pins:
                chosen[kind] = self.get(policy_id, pins[policy_id])
            else:
                chosen[kind] = self.in_force(policy_id, on)
        return chosen



def publish(directory: str | Path, policy_id: str, version: str) -> tuple[str, list[Problem]]:
    """Mark a draft active and lock its hash; returns (sha256, problems).

    An active open-ended predecessor (starting before the draft) is closed the day before
    the draft's ``effective_from``. The whole directory is checked as it will be; on any
    problem nothing is written. File edits are minimal text edits (the ``status`` value;
    an ``effective_to`` line after ``effective_from``): comments and layout stay.
    Raises :class:`UnknownPolicyVersion` when the file does not exist.
    """
    directory = Path(directory)
    path = directory / policy_id / f"{version}.yaml"
    if not path.is_file():
        raise UnknownPolicyVersion(policy_id, version)
    checked = check_file(path)
    doc = checked.document
    if doc is None or checked.policy is None:
        return "", checked.problems
    if checked.policy.status != "draft":
        return "", [doc.problem(("status",), "publish-status",
                                f"only a draft can be published; {policy_id} {version} is "
                                f"{checked.policy.status}: publish a new version instead")]
    where = doc.values[("status",)]
    edits = {path: doc.text[: where.start] + "active" + doc.text[where.end:]}
    the_lock, lock_problems = read_lock(directory / LOCK_NAME)
    if lock_problems:
        return "", lock_problems
    new_lock = Lock(the_lock.path, dict(the_lock.entries), the_lock.text, the_lock.exists)
    start = checked.policy.effective_from
    for other in check_directory(directory, lock=False).checked:
        op = other.policy
        if (op is None or other.document is None or op.id != policy_id or op.status != "active"
                or op.effective_to is not None or op.effective_from >= start):
            continue
        closed = (start - dt.timedelta(days=1)).isoformat()
        text, problem = _close(other.document, closed)
        if problem is not None:
            return "", [problem]
        edits[Path(other.file)] = text
        key = f"{op.id}@{op.version}"
        if key in new_lock.entries:
            new_lock.entries[key] = Locked(new_lock.entries[key].sha256, closed)
    key = f"{policy_id}@{version}"
    result = check_directory(directory, overrides=edits, publishing=frozenset({key}),
                             lock_override=new_lock)
    if result.problems:
        return "", result.problems
    sha = next(lp.sha256 for lp in result.loaded if lp.key == key)
    new_lock.entries[key] = Locked(sha, checked.policy.effective_to and
                                   checked.policy.effective_to.isoformat())
    for file, text in edits.items():
        atomic_write(file, text)
    write_lock(directory / LOCK_NAME, new_lock.entries)
    return sha, []


def _close(doc: Document, until: str) -> tuple[str, Problem | None]:
    """The document's text with ``effective_to: until`` added after ``effective_from``."""
    key = doc.keys.get(("effective_from",))
    if key is None or key.col != 1:
        return "", doc.problem(("effective_from",), "publish-status",
                               f"cannot add effective_to: {until} here (not a top-level block "
                               f"mapping); add it by hand in a new version")
    end = doc.text.find("\n", doc.values[("effective_from",)].end)
    end = len(doc.text) if end < 0 else end
    newline = "\r\n" if doc.text[end - 1: end] == "\r" else "\n"
    if newline == "\r\n":
        end -= 1
    return doc.text[:end] + f"{newline}effective_to: {until}" + doc.text[end:], None
