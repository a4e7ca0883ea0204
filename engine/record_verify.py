"""Verification of a stored decision log: the chain, then the signed checkpoints.

The chain pass walks every record in seq order and checks, for each: no gap in seq, the
stored prev_hash equals the previous record's hash, sha256(prev_hash + body) equals the
stored hash, and the indexed copies (seq, decision_id, prev_hash) agree with the hashed
body. That finds a changed byte, a deleted, inserted or moved record.

A chain is still valid after its tail is cut off or replaced by a freshly computed chain.
The checkpoint pass catches those: each checkpoint signs (seq, hash) of the head at the
time; its signature must verify and the record at that seq must still carry that hash.
Records after the latest valid checkpoint are covered by the chain only (``unsigned_tail``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from engine.chain import GENESIS, record_hash, verify_mac
from engine.record_store import SqlStore

__all__ = ["VerifyResult", "verify_store"]


@dataclass(frozen=True)
class VerifyResult:
    intact: bool
    records: int
    first_broken: int | None = None
    reason: str | None = None
    head_seq: int = 0
    head_hash: str = GENESIS
    checkpoints: int = 0
    last_checkpoint: int | None = None  # seq of the latest checkpoint that verified
    unsigned_tail: int = 0  # records after it, protected by the chain only
    signatures_checked: bool = True  # false when no key was available

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.first_broken is None:
            data.pop("first_broken")
            data.pop("reason")
        return data


def _chain_problem(seq: int, expected: int, prev: str, row: tuple) -> tuple[int, str] | None:
    _seq, decision_id, body, prev_hash, digest = row
    if seq != expected:
        return expected, f"record {expected} is missing (the next stored record is {seq})"
    if prev_hash != prev:
        return (
            seq,
            f"record {seq} does not follow record {seq - 1} (prev_hash differs): "
            "records were removed, inserted or reordered",
        )
    if record_hash(prev_hash, body.encode("utf-8")) != digest:
        return seq, f"record {seq} was altered: its content does not match its hash"
    try:
        parsed = json.loads(body)
    except ValueError:
        return seq, f"record {seq} is not valid JSON"
    if (parsed.get("seq"), parsed.get("prev_hash"), parsed.get("decision_id")) != (
        seq,
        prev_hash,
        decision_id,
    ):
        return (
            seq,
            f"record {seq}: stored columns disagree with the hashed record (moved or altered)",
        )
    return None


def verify_store(store: SqlStore, key: bytes | None) -> VerifyResult:
    checkpoints = store.checkpoints()
    wanted = {cp.seq for cp in checkpoints}
    hash_at: dict[int, str] = {}
    broken: tuple[int, str] | None = None
    records, expected, prev = 0, 1, GENESIS
    head_seq = 0
    for row in store.iter_rows():
        seq = int(row[0])
        records += 1
        if broken is None:
            broken = _chain_problem(seq, expected, prev, row)
        if seq in wanted:
            hash_at[seq] = row[4]
        expected, prev, head_seq = seq + 1, row[4], seq

    cp_broken: tuple[int, str] | None = None
    last_good: int | None = None
    for cp in checkpoints:  # in seq order
        if key is not None and not verify_mac(key, cp.seq, cp.hash, cp.mac):
            cp_broken = (
                cp.seq,
                f"checkpoint for record {cp.seq} has an invalid signature "
                "(forged or altered, or signed with a different key)",
            )
        elif cp.seq > head_seq:
            cp_broken = (
                head_seq + 1,
                f"log truncated: a checkpoint signs record {cp.seq} "
                f"but the log ends at record {head_seq}",
            )
        elif hash_at.get(cp.seq) != cp.hash:
            start = (last_good or 0) + 1
            cp_broken = (
                start,
                f"records {start}..{cp.seq} were rewritten or removed: record {cp.seq} no longer "
                "matches its signed checkpoint",
            )
        else:
            last_good = cp.seq
            continue
        break

    problems = [p for p in (broken, cp_broken) if p is not None]
    first = min(problems) if problems else None
    return VerifyResult(
        intact=first is None,
        records=records,
        first_broken=first[0] if first else None,
        reason=first[1] if first else None,
        head_seq=head_seq,
        head_hash=prev,
        checkpoints=len(checkpoints),
        last_checkpoint=last_good,
        unsigned_tail=head_seq - (last_good or 0),
        signatures_checked=key is not None,
    )
