"""The shared decision log: PostgreSQL through psycopg 3 (``postgresql://…``).

Several service instances may append to one database. Each write transaction first takes
``pg_advisory_xact_lock`` on a key derived from the schema name, then reads the head:
the lock is held until commit, so heads never fork and sequence numbers never repeat.

An optional ``schema`` query parameter (``postgresql://host/db?schema=crmc_audit``) puts
the tables in their own schema (created if missing); tests use it to stay apart.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from engine.record_store import DuplicateDecision, LogUnavailable, SqlStore

__all__ = ["PostgresStore", "split_schema"]

CONNECT_TIMEOUT_S = 10


def split_schema(url: str) -> tuple[str, str]:
    """The connection URL without our ``schema`` parameter, and the schema (default public)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), "public")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ValueError(f"schema must be a lower-case SQL identifier, not {schema!r}")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def _lock_key(schema: str) -> int:
    """A stable signed 64-bit advisory-lock key per schema."""
    return int.from_bytes(
        hashlib.sha256(f"crmc-log:{schema}".encode()).digest()[:8], "big", signed=True
    )


class PostgresStore(SqlStore):
    placeholder = "%s"

    def __init__(self, url: str):
        self.url, self.schema = split_schema(url)
        self._key = _lock_key(self.schema)
        self._pid = -1
        self._writer: psycopg.Connection | None = None
        self._reader: psycopg.Connection | None = None
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        try:
            with self.write_txn() as cur:
                cur.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                )
                self.migrate_in(cur)
        except BaseException:
            self.close()
            raise

    def _open(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        except psycopg.Error as exc:
            raise LogUnavailable(f"cannot connect to the decision log database: {exc}") from exc
        return conn

    def _conn(self, which: str) -> psycopg.Connection:
        """The writer or reader connection, reopened after a fork or a broken connection."""
        if self._pid != os.getpid():
            # Never touch the parent's connections in a forked child; just drop them.
            self._writer = self._reader = None
            self._write_lock = threading.Lock()
            self._read_lock = threading.Lock()
            self._pid = os.getpid()
        conn = getattr(self, "_" + which)
        if conn is None or conn.closed or conn.broken:
            conn = self._open()
            setattr(self, "_" + which, conn)
        return conn

    @contextmanager
    def write_txn(self) -> Iterator[Any]:
        if self._pid != os.getpid():
            self._conn("writer")
        with self._write_lock:
            conn = self._conn("writer")
            try:
                with conn.transaction(), conn.cursor() as cur:
                    # Migration and appends share the lock; it is released at commit.
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (self._key,))
                    yield cur
            except psycopg.errors.UniqueViolation as exc:
                raise DuplicateDecision(str(exc).strip()) from exc
            except psycopg.Error as exc:
                raise LogUnavailable(f"decision log database: {str(exc).strip()}") from exc

    @contextmanager
    def read_cursor(self) -> Iterator[Any]:
        if self._pid != os.getpid():
            self._conn("reader")
        with self._read_lock:
            conn = self._conn("reader")
            try:
                with conn.cursor() as cur:
                    yield cur
            except psycopg.Error as exc:
                raise LogUnavailable(f"decision log database: {str(exc).strip()}") from exc

    def close(self) -> None:
        if self._pid == os.getpid():
            for conn in (self._writer, self._reader):
                if conn is not None:
                    conn.close()
        self._writer = self._reader = None

    def drop_schema(self) -> None:
        """Remove the schema and everything in it (tests only; refuses ``public``)."""
        if self.schema == "public":
            raise ValueError("refusing to drop the public schema")
        conn = self._conn("writer")
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))
        )
