"""The decision log: every decision served is appended, committed, then answered.

``open_log(url, settings)`` picks the backend from the URL (``sqlite:///…`` or
``postgresql://…``). ``DecisionLog.append(entry)`` masks the request, chains the record
and returns its sequence number only once the transaction holding it has committed.

Group commit: appends from threads of one process are gathered while a transaction is in
flight and written together in the next one; every caller waits for the commit of its own
batch. A batch that fails is retried one entry at a time, so one bad entry (a duplicate
decision_id) fails alone. Across processes the backend's head lock serialises the chain.

An entry is ``{"decision": <contract §2 dict or Decision>, "request": {"facts", "as_of",
"pins", "explain"}, "requester": key name or None, "engine": "durable" | "compiled"}``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.chain import canonical_parts, load_or_create_key
from engine.config import Settings
from engine.mask import mask_entry
from engine.record_store import (
    Checkpoint,
    DuplicateDecision,
    LogUnavailable,
    Pending,
    SqlStore,
    utc_text,
)
from engine.record_verify import VerifyResult, verify_store

__all__ = [
    "RECORD_FORMAT",
    "DecisionLog",
    "DuplicateDecision",
    "LogUnavailable",
    "VerifyResult",
    "make_entry",
    "open_log",
    "redact_url",
]

RECORD_FORMAT = 1
_LIKE_SPECIAL = re.compile(r"[\\%_]")
CHECKPOINT_EVERY = 100


def open_log(
    url: str,
    settings: Settings,
    *,
    checkpoint_every: int = CHECKPOINT_EVERY,
    create_key: bool = True,
) -> DecisionLog:
    """Open (creating or migrating) the decision log at ``url``.

    ``create_key=False`` is for read-only tools (``crmc audit verify``): without a key
    they check the chain but cannot check checkpoint signatures, and say so.
    """
    if url.startswith("sqlite:"):
        from engine.record_sqlite import SqliteStore

        store: SqlStore = SqliteStore(url)
    elif url.startswith(("postgresql://", "postgres://")):
        from engine.record_postgres import PostgresStore

        store = PostgresStore(url)
    else:
        raise ValueError(
            "CRMC_DATABASE_URL must start with sqlite:/// or postgresql://, "
            f"not {redact_url(url)!r}"
        )
    key = load_or_create_key(settings.audit_key, settings.audit_key_file, create=create_key)
    return DecisionLog(store, key, mask=settings.audit_mask, checkpoint_every=checkpoint_every)


def redact_url(url: str) -> str:
    """``url`` without the password of its userinfo (``scheme://user:***@host/...``): an
    error message or a log line must not carry the database password."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return url
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:***@{host}{slash}{path}"


def make_entry(
    decision: Any,
    facts: Mapping[str, Any],
    *,
    as_of: dt.date | None = None,
    pins: Mapping[str, str] | None = None,
    explain: bool = False,
    requester: str | None = None,
) -> dict[str, Any]:
    """The log entry of a decision made on ``facts`` (``decision`` a Decision or its dict)."""
    doc = _jsonable(decision)
    return {
        "decision": doc,
        "request": {"facts": facts, "as_of": as_of, "pins": pins, "explain": explain},
        "requester": requester,
        "engine": doc.get("engine"),
    }


def _jsonable(value: Any) -> Any:
    """Plain JSON values: pydantic models dumped, dates as ISO text, tuples as lists."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is dict:
        return {str(k): _jsonable(v) for k, v in value.items()}
    if kind is list:
        return [_jsonable(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass
class _Ticket:
    items: list[Pending]
    taken: bool = False  # a leader is writing it
    done: bool = False  # committed and durable, or failed
    seqs: list[int] = field(default_factory=list)
    error: BaseException | None = None


class DecisionLog:
    def __init__(
        self, store: SqlStore, key: bytes | None, *, mask: Sequence[str] = (), checkpoint_every: int
    ):
        self.store = store
        self._key = key
        self._mask = tuple(mask)
        self._every = checkpoint_every
        self._cv = threading.Condition()
        self._pending: list[_Ticket] = []
        self._writing = False

    def __repr__(self) -> str:  # never shows the key
        return f"DecisionLog({type(self.store).__name__})"

    # --- writing ------------------------------------------------------------------------
    def prepare(self, entry: Mapping[str, Any]) -> Pending:
        """Validate, mask and canonicalise an entry; raises ValueError before anything is
        written (so one bad entry can never fail a batch it would have joined)."""
        decision, request = entry.get("decision"), entry.get("request") or {}
        if self._mask or type(decision) is not dict or type(request) is not dict:
            return self._prepare(entry, _jsonable(decision), _jsonable(request))
        try:
            # Plain dicts (the service's case): canonicalised as they are, without first
            # copying them into plain JSON values; dates inside become ISO text either way.
            return self._prepare(entry, decision, request)
        except ValueError as exc:
            if not isinstance(exc.__cause__, TypeError):
                raise
            # e.g. non-string keys, which the plain-JSON copy turns into strings
            return self._prepare(entry, _jsonable(decision), _jsonable(request))

    def _prepare(
        self, entry: Mapping[str, Any], decision: Any, request: Any
    ) -> Pending:
        if not isinstance(decision, dict):
            raise ValueError("entry.decision must be a decision object")
        decision_id = decision.get("decision_id")
        if not isinstance(decision_id, str) or not decision_id:
            raise ValueError("entry.decision.decision_id must be a non-empty string")
        decided_at = decision.get("decided_at")
        try:
            decided = (
                decided_at if isinstance(decided_at, dt.datetime)
                else dt.datetime.fromisoformat(str(decided_at))
            )
        except ValueError:
            raise ValueError(
                f"entry.decision.decided_at is not an RFC 3339 time: {decided_at!r}"
            ) from None
        if decided.tzinfo is None:
            raise ValueError("entry.decision.decided_at must carry a time zone")
        facts = request.get("facts") if isinstance(request.get("facts"), dict) else {}
        client_id = decision.get("client_id") or facts.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise ValueError(
                "entry has no client_id (decision.client_id or request.facts.client_id)"
            )
        req, dec, masked = mask_entry(request, decision, self._mask)
        requester = entry.get("requester")
        segment = dec.get("segment")
        codes = [w.get("code") for w in dec.get("warnings") or [] if isinstance(w, dict)]
        body = {
            "format": RECORD_FORMAT,
            "decision_id": decision_id,
            "client_id": client_id,
            "decided_at": decided_at,
            "as_of": dec.get("as_of"),
            "requester": requester,
            "request": req,
            "decision": dec,
            "policies": dec.get("policies") or [],
            "engine": entry.get("engine"),
            "masked": masked,
        }
        try:
            parts = canonical_parts(body)
            for text in parts.values():
                # A lone surrogate (JSON "\\ud800") cannot be UTF-8: refuse it here, not
                # in the leader's hash, where it would fail the whole group. isascii is O(1).
                if not text.isascii():
                    text.encode("utf-8")
        except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
            raise ValueError(f"entry cannot be recorded: {exc}") from exc
        return Pending(
            body=body,
            parts=parts,
            decision_id=decision_id,
            client_id=client_id,
            decided_at=utc_text(decided),
            requester=requester,
            segment=segment.get("value") if isinstance(segment, dict) else None,
            warning_codes="," + ",".join(str(c) for c in codes) + ",",
        )

    def append(self, entry: Mapping[str, Any]) -> int:
        """Append one record; returns its seq once committed."""
        return self.append_many([entry])[0]

    def append_many(self, entries: Sequence[Mapping[str, Any]]) -> list[int]:
        """Append records in order, in one transaction; their seqs once committed."""
        if not entries:
            return []
        ticket = _Ticket([self.prepare(e) for e in entries])
        with self._cv:
            self._pending.append(ticket)
            while not ticket.done:
                if self._writing or ticket.taken:
                    self._cv.wait()
                    continue
                # Become the leader: write everything queued so far in one transaction.
                self._writing = True
                batch, self._pending = self._pending, []
                for queued in batch:
                    queued.taken = True
                self._cv.release()
                try:
                    self._lead(batch)
                finally:
                    self._cv.acquire()
                    for queued in batch:
                        queued.done = True
                    self._cv.notify_all()
        if ticket.error is not None:
            raise ticket.error
        return ticket.seqs

    def _lead(self, batch: list[_Ticket]) -> None:
        """Commit ``batch``, let the next leader start its transaction, then make the
        commit durable (``store.sync``): the next batch is written while this one's
        disk flush runs, and nobody in ``batch`` is answered before that flush."""
        try:
            self._write(batch)
        finally:
            with self._cv:
                self._writing = False
                self._cv.notify_all()
        committed = [t for t in batch if t.error is None]
        if not committed:
            return
        try:
            self.store.sync()
        except BaseException as exc:  # committed but not known durable: not answered 200
            for ticket in committed:
                ticket.error = exc

    def _write(self, batch: list[_Ticket]) -> None:
        """Insert and commit; sets each ticket's seqs or error."""
        try:
            try:
                seqs = self.store.write_batch(
                    [i for t in batch for i in t.items], self._key, self._every
                )
            except (LogUnavailable, DuplicateDecision):
                if len(batch) == 1:
                    raise
                for ticket in batch:  # isolate the failing entry; the others still commit
                    self._write([ticket])
                return
            pos = 0
            for ticket in batch:
                ticket.seqs = seqs[pos : pos + len(ticket.items)]
                pos += len(ticket.items)
        except BaseException as exc:
            for ticket in batch:
                if not ticket.seqs and ticket.error is None:
                    ticket.error = exc

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head now (also done every N records and on close)."""
        if self._key is None:
            raise LogUnavailable("no audit key: set CRMC_AUDIT_KEY or create the key file")
        checkpoint = self.store.checkpoint(self._key)
        self.store.sync()
        return checkpoint

    def close(self) -> None:
        try:
            if self._key is not None:
                self.store.checkpoint(self._key)
                self.store.sync()
        finally:
            self.store.close()

    # --- reading ------------------------------------------------------------------------
    @staticmethod
    def _record(row: tuple) -> dict[str, Any]:
        body, digest = row
        record = json.loads(body)
        record["hash"] = digest
        return record

    def get(self, decision_id: str) -> dict[str, Any] | None:
        row = self.store.get(decision_id)
        return None if row is None else self._record(row)

    def search(
        self,
        client_id: str | None = None,
        since: dt.date | dt.datetime | None = None,
        until: dt.date | dt.datetime | None = None,
        segment: str | None = None,
        warning_code: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Records matching every filter given, newest first; ``until`` is exclusive."""
        where: list[tuple[str, Any]] = []
        if client_id is not None:
            where.append(("client_id = ?", client_id))
        if since is not None:
            where.append(("decided_at >= ?", _moment(since)))
        if until is not None:
            where.append(("decided_at < ?", _moment(until)))
        if segment is not None:
            where.append(("segment = ?", segment))
        if warning_code is not None:
            # A code is a literal: "%" or "_" in it (and "_" is in most codes) must not
            # act as LIKE wildcards ("?warning=%" would match every record).
            literal = _LIKE_SPECIAL.sub(r"\\\g<0>", warning_code)
            where.append(("warning_codes LIKE ? ESCAPE '\\'", f"%,{literal},%"))
        return [self._record(row) for row in self.store.search(where, max(0, int(limit)))]

    def iter_records(self, since: dt.date | dt.datetime | None = None) -> Iterator[dict[str, Any]]:
        """Every record (decided at or after ``since``), in seq order."""
        for _seq, _id, body, _prev, digest in self.store.iter_rows(
            _moment(since) if since else None
        ):
            yield self._record((body, digest))

    def count(self, since: dt.date | dt.datetime | None = None) -> int:
        """Number of records (decided at or after ``since``)."""
        return self.store.count(_moment(since) if since else None)

    def verify(self) -> VerifyResult:
        return verify_store(self.store, self._key)


def _moment(value: dt.date | dt.datetime) -> str:
    """A date means its midnight UTC; naive times are taken as UTC."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return utc_text(value)
