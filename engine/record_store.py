"""SQL storage shared by the SQLite and PostgreSQL decision logs.

A backend supplies connections, the placeholder style, the head lock and its error
mapping; everything else — the schema, the chain arithmetic, checkpoints, queries — is
written once here, so both backends store byte-identical records.

Tables (names prefixed ``crmc_``):

* ``crmc_schema_version(version)`` — one row; migrations run under a lock at start-up.
* ``crmc_decisions`` — one row per record: the canonical body that was hashed (``body``,
  stored as text exactly as hashed), its ``prev_hash`` and ``hash``, and copies of a few
  body fields as indexed columns for lookup. Only ``body``/``prev_hash``/``hash`` are
  trusted by verification; it also checks the copies agree with the body.
* ``crmc_checkpoints`` — HMAC-signed (seq, head hash) pairs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from engine.chain import GENESIS, canonical_parts, checkpoint_mac, join_parts, record_hash

SCHEMA_VERSION = 1
PAGE = 1000

# Columns of crmc_decisions in insert order.
COLUMNS = (
    "seq", "decision_id", "client_id", "decided_at", "requester",
    "segment", "warning_codes", "body", "prev_hash", "hash",
)  # fmt: skip

DDL_V1 = (
    "CREATE TABLE IF NOT EXISTS crmc_decisions ("
    " seq BIGINT PRIMARY KEY, decision_id TEXT NOT NULL UNIQUE, client_id TEXT NOT NULL,"
    " decided_at TEXT NOT NULL, requester TEXT, segment TEXT, warning_codes TEXT NOT NULL,"
    " body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS crmc_decisions_client ON crmc_decisions (client_id, seq)",
    "CREATE INDEX IF NOT EXISTS crmc_decisions_time ON crmc_decisions (decided_at)",
    "CREATE TABLE IF NOT EXISTS crmc_checkpoints ("
    " seq BIGINT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL, mac TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS crmc_checkpoints_seq ON crmc_checkpoints (seq)",
)


class LogUnavailable(RuntimeError):
    """The decision log cannot be written (or read): the caller must not answer 200."""


class DuplicateDecision(ValueError):
    """A decision_id that is already in the log."""


@dataclass(frozen=True)
class Pending:
    """A record ready to be chained: everything but seq, prev_hash and hash."""

    body: dict[str, Any]
    decision_id: str
    client_id: str
    decided_at: str  # normalised, sortable: YYYY-MM-DDTHH:MM:SS.ffffffZ
    requester: str | None
    segment: str | None
    warning_codes: str  # ",code1,code2," so one LIKE finds a code
    # Canonical text of each member of ``body``, computed before the chain lock is taken
    # (``engine.chain.canonical_parts``); derived from ``body`` when not given.
    parts: dict[str, str] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    created_at: str
    mac: str


def utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_rows(head_seq: int, head_hash: str, items: Sequence[Pending]) -> list[tuple]:
    """Rows for ``items`` appended after the head, in order.

    Runs under the chain lock, so it only joins texts canonicalised beforehand: the record
    is ``canonical({**body, "seq": seq, "prev_hash": prev})``.
    """
    rows = []
    seq, prev = head_seq, head_hash
    for item in items:
        seq += 1
        parts = item.parts if item.parts is not None else canonical_parts(item.body)
        # seq is a positive int and prev_hash 64 hex digits: their canonical text is plain.
        body = join_parts({**parts, "seq": str(seq), "prev_hash": f'"{prev}"'})
        digest = record_hash(prev, body.encode("utf-8"))
        rows.append((
            seq, item.decision_id, item.client_id, item.decided_at, item.requester,
            item.segment, item.warning_codes, body, prev, digest,
        ))  # fmt: skip
        prev = digest
    return rows


class SqlStore:
    """Backend-neutral SQL; subclasses set ``placeholder`` and implement the hooks."""

    placeholder = "?"

    # --- hooks --------------------------------------------------------------------------
    def write_txn(self) -> AbstractContextManager[Any]:
        """A cursor in a transaction holding the chain-head lock; commits on exit."""
        raise NotImplementedError

    def read_cursor(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def sync(self) -> None:
        """Make every transaction committed so far durable. Called after ``write_batch``,
        outside its lock, before anyone is answered; a no-op where COMMIT is durable."""

    # --- helpers ------------------------------------------------------------------------
    def sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def migrate_in(self, cur: Any) -> None:
        """Create or upgrade the schema; the caller holds the migration lock."""
        cur.execute("CREATE TABLE IF NOT EXISTS crmc_schema_version (version INTEGER NOT NULL)")
        cur.execute("SELECT version FROM crmc_schema_version")
        row = cur.fetchone()
        version = row[0] if row else 0
        if version > SCHEMA_VERSION:
            raise LogUnavailable(
                f"decision log schema version {version} is newer than this crmc "
                f"understands ({SCHEMA_VERSION}); upgrade crmc"
            )
        if version < 1:
            for statement in DDL_V1:
                cur.execute(statement)
        # Future migrations: `if version < 2: ...` here, each in this same transaction.
        if row is None:
            cur.execute(
                self.sql("INSERT INTO crmc_schema_version (version) VALUES (?)"), (SCHEMA_VERSION,)
            )
        elif version != SCHEMA_VERSION:
            cur.execute(self.sql("UPDATE crmc_schema_version SET version = ?"), (SCHEMA_VERSION,))

    @staticmethod
    def head_in(cur: Any) -> tuple[int, str]:
        cur.execute("SELECT seq, hash FROM crmc_decisions ORDER BY seq DESC LIMIT 1")
        row = cur.fetchone()
        return (int(row[0]), row[1]) if row else (0, GENESIS)

    def insert_checkpoint_in(self, cur: Any, key: bytes, seq: int, head_hash: str) -> None:
        now = utc_text(dt.datetime.now(dt.UTC))
        cur.execute(
            self.sql(
                "INSERT INTO crmc_checkpoints (seq, hash, created_at, mac) VALUES (?, ?, ?, ?)"
            ),
            (seq, head_hash, now, checkpoint_mac(key, seq, head_hash)),
        )

    # --- operations ---------------------------------------------------------------------
    def write_batch(self, items: Sequence[Pending], key: bytes | None, every: int) -> list[int]:
        """Chain and insert ``items`` in one transaction; checkpoint when a multiple of
        ``every`` is passed. Returns the sequence numbers, in order."""
        marks = ", ".join("?" * len(COLUMNS))
        insert = self.sql(f"INSERT INTO crmc_decisions ({', '.join(COLUMNS)}) VALUES ({marks})")
        with self.write_txn() as cur:
            head_seq, head_hash = self.head_in(cur)
            rows = chain_rows(head_seq, head_hash, items)
            cur.executemany(insert, rows)
            last_seq, last_hash = rows[-1][0], rows[-1][-1]
            if key is not None and every > 0 and last_seq // every > head_seq // every:
                self.insert_checkpoint_in(cur, key, last_seq, last_hash)
        return [row[0] for row in rows]

    def checkpoint(self, key: bytes) -> Checkpoint | None:
        """Sign the current head unless the latest checkpoint already does."""
        with self.write_txn() as cur:
            seq, head_hash = self.head_in(cur)
            if seq == 0:
                return None
            cur.execute("SELECT seq, hash FROM crmc_checkpoints ORDER BY seq DESC LIMIT 1")
            last = cur.fetchone()
            if last is None or (int(last[0]), last[1]) != (seq, head_hash):
                self.insert_checkpoint_in(cur, key, seq, head_hash)
        return Checkpoint(seq, head_hash, "", "")

    def get(self, decision_id: str) -> tuple | None:
        with self.read_cursor() as cur:
            cur.execute(
                self.sql("SELECT body, hash FROM crmc_decisions WHERE decision_id = ?"),
                (decision_id,),
            )
            return cur.fetchone()

    def search(self, where: list[tuple[str, Any]], limit: int) -> list[tuple]:
        clause = " AND ".join(cond for cond, _ in where) or "1 = 1"
        params = [value for _, value in where] + [limit]
        with self.read_cursor() as cur:
            cur.execute(
                self.sql(
                    f"SELECT body, hash FROM crmc_decisions WHERE {clause} "
                    "ORDER BY seq DESC LIMIT ?"
                ),
                params,
            )
            return cur.fetchall()

    def iter_rows(self, since: str | None = None) -> Iterator[tuple]:
        """Every row (seq, decision_id, body, prev_hash, hash) in seq order, a page at a time."""
        after = -1
        while True:
            cond = "seq > ?" + (" AND decided_at >= ?" if since else "")
            params: list[Any] = [after] + ([since] if since else []) + [PAGE]
            with self.read_cursor() as cur:
                cur.execute(
                    self.sql(
                        "SELECT seq, decision_id, body, prev_hash, hash FROM crmc_decisions "
                        f"WHERE {cond} ORDER BY seq LIMIT ?"
                    ),
                    params,
                )
                rows = cur.fetchall()
            yield from rows
            if len(rows) < PAGE:
                return
            after = rows[-1][0]

    def count(self, since: str | None = None) -> int:
        with self.read_cursor() as cur:
            if since:
                cur.execute(
                    self.sql("SELECT COUNT(*) FROM crmc_decisions WHERE decided_at >= ?"), (since,)
                )
            else:
                cur.execute("SELECT COUNT(*) FROM crmc_decisions")
            return int(cur.fetchone()[0])

    def checkpoints(self) -> list[Checkpoint]:
        with self.read_cursor() as cur:
            cur.execute(
                "SELECT seq, hash, created_at, mac FROM crmc_checkpoints ORDER BY seq, created_at"
            )
            return [Checkpoint(int(r[0]), r[1], r[2], r[3]) for r in cur.fetchall()]
