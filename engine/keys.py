"""API keys: a small file store that keeps only hashes of the keys it issued.

The file (``var/keys.json`` by default, ``CRMC_KEYS_FILE``) is JSON::

    {"version": 1, "keys": [{"name", "role", "hash", "created_at"}, ...]}

A key is shown once, when it is created, and never stored. The hash is a plain SHA-256 of
the key: the keys are 256-bit random values (``secrets.token_urlsafe(32)``), so unlike
passwords they cannot be guessed or brute-forced from the hash, and a slow, salted KDF
(bcrypt, scrypt) would add nothing but per-request latency on every API call.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["KEY_PREFIX", "ROLES", "ApiKey", "KeyStore", "KeyStoreError", "hash_key"]

ROLES = ("decide", "audit", "admin")
KEY_PREFIX = "crmc_"  # recognisable in secret scanners and in a leaked config file
NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")  # fullmatch: "$" lets a final "\n" by
FILE_VERSION = 1


class KeyStoreError(ValueError):
    """A keys-file operation that cannot be done (duplicate name, unknown name, bad role)."""


@dataclass(frozen=True)
class ApiKey:
    name: str
    role: str
    hash: str
    created_at: str

    def public(self) -> dict[str, str]:
        """What may be shown: everything but the hash."""
        return {"name": self.name, "role": self.role, "created_at": self.created_at}


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    """The keys file. Reads are cached and refreshed when the file changes on disk, so a
    running service sees ``crmc keys add``/``revoke`` without a restart."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._stamp: tuple[int, int, int] | None = None
        self._keys: tuple[ApiKey, ...] = ()

    # --- reading ------------------------------------------------------------------------

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def entries(self) -> tuple[ApiKey, ...]:
        stamp = self._file_stamp()
        if stamp != self._stamp:
            self._keys = tuple(self._read()) if stamp is not None else ()
            self._stamp = stamp
        return self._keys

    def _read(self) -> Iterable[ApiKey]:
        with open(self.path, encoding="utf-8") as fh:
            doc = json.load(fh)
        for entry in doc.get("keys", []):
            yield ApiKey(
                name=entry["name"],
                role=entry["role"],
                hash=entry["hash"],
                created_at=entry["created_at"],
            )

    def authenticate(self, key: str) -> ApiKey | None:
        """The stored key matching ``key``, or None.

        Every stored hash is compared, with ``hmac.compare_digest``, without stopping at
        the first match: the time taken does not depend on which key (if any) matched.
        """
        presented = hash_key(key)
        found: ApiKey | None = None
        for stored in self.entries():
            if hmac.compare_digest(presented, stored.hash):
                found = stored
        return found

    # --- writing ------------------------------------------------------------------------

    def add(self, role: str, name: str | None = None) -> tuple[str, ApiKey]:
        """Create a key; returns (the key itself, its stored entry). The key is not kept."""
        if role not in ROLES:
            raise KeyStoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        with self._locked():
            return self._add(role, name)

    def _add(self, role: str, name: str | None) -> tuple[str, ApiKey]:
        current = list(self.entries())
        if name is None:
            name = self._free_name(role, {k.name for k in current})
        if not NAME_PATTERN.fullmatch(name):
            raise KeyStoreError(f"key name must be 1–64 of [A-Za-z0-9._-], not {name!r}")
        if any(k.name == name for k in current):
            raise KeyStoreError(f"a key named {name!r} exists already")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        entry = ApiKey(
            name=name,
            role=role,
            hash=hash_key(key),
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        )
        self._write([*current, entry])
        return key, entry

    def revoke(self, name: str) -> ApiKey:
        with self._locked():
            current = list(self.entries())
            kept = [k for k in current if k.name != name]
            if len(kept) == len(current):
                raise KeyStoreError(f"no key named {name!r}")
            self._write(kept)
            return next(k for k in current if k.name == name)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write cycles of concurrent ``crmc keys`` runs."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._stamp = None  # another process may have written since our last read
            yield
        finally:
            os.close(fd)

    @staticmethod
    def _free_name(role: str, taken: set[str]) -> str:
        n = 1
        while f"{role}-{n}" in taken:
            n += 1
        return f"{role}-{n}"

    def _write(self, keys: list[ApiKey]) -> None:
        """Atomic replace: readers (the service) see the old file or the new one, never half.

        The temporary file is created 0600 by ``mkstemp`` in the same directory, so the
        rename stays on one file system and the hashes are never world-readable.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"version": FILE_VERSION, "keys": [asdict(k) for k in keys]}
        fd, tmp = tempfile.mkstemp(prefix=".keys-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=2)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self._stamp = None  # re-read on next use
