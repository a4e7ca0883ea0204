"""Helpers for the audit-trail tests: both log backends, entries, raw SQL for tampering.

PostgreSQL is the server at 127.0.0.1:5432, database ``test`` (override with
``CRMC_TEST_DATABASE_URL``); each test gets its own schema, dropped afterwards, so parallel
runs never collide. Without a server the PostgreSQL cases skip with a loud reason on a
developer's machine, and fail under CI (``CI`` set): CI always has PostgreSQL, so a skip
there would hide half of the audit suite.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import secrets
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from engine.config import Settings

PG_URL = os.environ.get("CRMC_TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")
EXAMPLES = Path(__file__).resolve().parent / "data" / "audit"  # copies of shared/examples
AUDIT_KEY = "test-audit-key-not-secret"


@functools.lru_cache(maxsize=1)
def pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be tested, or None; probed once per process (a server that
    is down costs one connect timeout, not one per test)."""
    try:
        import psycopg

        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as exc:  # any failure means: no server to test against
        return (
            f"PostgreSQL at {PG_URL} is unreachable ({exc.__class__.__name__}: {exc}); "
            "THE POSTGRESQL HALF OF THE AUDIT SUITE WAS NOT RUN"
        )
    return None


def backend_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, empty log URL for ``backend``; PostgreSQL schemas are dropped afterwards."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/var/decisions.db"
    reason = pg_unreachable()
    if reason and os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: CI always has PostgreSQL)")
    if reason:
        pytest.skip(reason)
    schema = f"crmc_t_{os.getpid()}_{secrets.token_hex(4)}"
    url = f"{PG_URL}?schema={schema}"

    def drop() -> None:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    request.addfinalizer(drop)
    return url


def settings(tmp_path: Path, **changes: Any) -> Settings:
    base = Settings(audit_key=AUDIT_KEY, audit_key_file=tmp_path / "var" / "audit.key")
    return Settings(**{**base.__dict__, **changes})


def example_facts(name: str = "seed-case") -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def make_entry(i: int = 0, client_id: str = "MFG-0042", **decision: Any) -> dict[str, Any]:
    """A well-formed log entry with a synthetic decision (the log does not interpret it)."""
    facts = example_facts()
    facts["client_id"] = client_id
    facts["financials"]["dscr"] = 1.0 + i / 100
    body = {
        "decision_id": str(uuid.uuid4()),
        "client_id": client_id,
        "decided_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        "as_of": "2026-11-30",
        "policies": [{"id": "classification", "version": "1.0.0", "sha256": "0" * 64}],
        "segment": {"value": "general", "rule": None},
        "warnings": [],
        "risk": {"grade": "good", "expected_loss_rate": 0.008, "risk_weight": 0.9},
        **decision,
    }
    return {
        "decision": body,
        "request": {"facts": facts, "as_of": None, "pins": None, "explain": False},
        "requester": "tester",
        "engine": "compiled",
    }


def append_worker(url: str, key_file: str, count: int, threads: int) -> list[int]:
    """Run in a child process: append ``count`` entries from ``threads`` threads."""
    from engine.record import open_log

    log = open_log(url, Settings(audit_key=AUDIT_KEY, audit_key_file=Path(key_file)))
    seqs: list[int] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        for i in range(n):
            seq = log.append(make_entry(i, client_id=f"C-{os.getpid()}"))
            with lock:
                seqs.append(seq)

    workers = [threading.Thread(target=run, args=(count // threads,)) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    log.close()
    return seqs


class Raw:
    """Direct SQL on a log's database, as a tamperer with write access would use it."""

    def __init__(self, url: str):
        self.url = url
        if url.startswith("sqlite:"):
            self.conn: Any = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
            self.mark = "?"
        else:
            import psycopg

            from engine.record_postgres import split_schema

            base, schema = split_schema(url)
            self.conn = psycopg.connect(base, autocommit=True)
            self.conn.execute(f'SET search_path TO "{schema}"')
            self.mark = "%s"

    def run(self, sql: str, params: tuple = ()) -> list[tuple]:
        cur = self.conn.execute(sql.replace("?", self.mark), params)
        try:
            return list(cur.fetchall())
        except Exception:  # statements without a result set
            return []

    def close(self) -> None:
        self.conn.close()


EXAMPLE_NAMES = ("seed-case", "strategic-partner", "general-client", "distressed-client")
RATINGS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC")
# (group, field, low, high, kind): ranges stay inside the facts schema.
VARIED = (
    ("relationship", "years", 0, 15, int),
    ("relationship", "annual_contribution", 0, 40, float),
    ("relationship", "products_held", 0, 8, int),
    ("financials", "leverage", 0, 6, float),
    ("financials", "dscr", 0.8, 2.2, float),
    ("financials", "ebitda_margin", -0.1, 0.4, float),
    ("financials", "historical_default_rate", 0, 0.1, float),
    ("request", "amount", 5, 400, float),
    ("request", "tenor_years", 1, 20, int),
    ("project", "cost_overrun_pct", 0, 25, float),
    ("project", "construction_delay_months", 0, 12, int),
    ("monitoring", "days_past_due", 0, 120, int),
    ("monitoring", "covenant_breaches_12m", 0, 3, int),
    ("monitoring", "rating_downgrades_12m", 0, 3, int),
)


def varied_facts(count: int, seed: int = 20261204) -> list[dict[str, Any]]:
    """Facts documents: the shared examples with seeded variations of their numbers,
    ratings and dates (2025–2027, so every policy version gets used)."""
    import random

    rng = random.Random(seed)
    bases = [example_facts(name) for name in EXAMPLE_NAMES]
    out = []
    for i in range(count):
        facts = json.loads(json.dumps(bases[i % len(bases)]))
        facts["client_id"] = f"{facts['client_id']}-{i}"
        day = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(3 * 365))
        facts["as_of"] = day.isoformat()
        for group, name, low, high, kind in VARIED:
            if group in facts and rng.random() < 0.7:
                value = rng.uniform(low, high)
                # Some values exactly on round numbers, where thresholds usually sit.
                facts[group][name] = (
                    kind(round(value)) if rng.random() < 0.3 else kind(round(value, 2))
                )
        if "financials" in facts and rng.random() < 0.5:
            facts["financials"]["credit_rating"] = rng.choice(RATINGS)
        if "monitoring" in facts and rng.random() < 0.2:
            facts["monitoring"]["sponsor_distress"] = not facts["monitoring"]["sponsor_distress"]
        out.append(facts)
    return out
