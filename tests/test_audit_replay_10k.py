"""10,000 logged decisions replay 100 % identically, on each engine (issue 5).

Facts are the shared examples with seeded variations (``audit_support.varied_facts``),
spread over 2025–2027 so that every policy version takes part. Each engine decides and
logs all of them, then every record is read back from the log and replayed on the same
engine; the first 1,000 are also replayed on the other engine (ignoring only the engine
name), which checks the engines agree on logged requests too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from audit_support import settings, varied_facts

from engine.evaluate import Decider
from engine.record import make_entry, open_log
from engine.registry import Registry
from engine.replay import Replayer, format_result

POLICIES = Path(__file__).resolve().parents[1] / "policies"
# The issue asks for 10,000; CRMC_TEST_REPLAY_COUNT lowers it for a quick local run.
COUNT = int(os.environ.get("CRMC_TEST_REPLAY_COUNT", "10000"))
CROSS = min(1_000, COUNT)
CHUNK = 500


@pytest.fixture(scope="module")
def facts() -> list[dict]:
    return varied_facts(COUNT)


@pytest.mark.slow
@pytest.mark.parametrize(("engine", "other"), [("compiled", "durable"), ("durable", "compiled")])
def test_ten_thousand_replays_are_identical(
    engine: str, other: str, facts: list[dict], tmp_path: Path
) -> None:
    registry = Registry.load(POLICIES)
    decider = Decider(registry, engine)
    log = open_log(f"sqlite:///{tmp_path}/decisions.db", settings(tmp_path))
    for start in range(0, COUNT, CHUNK):
        entries = [
            make_entry(decider.decide(f), f, requester="bulk") for f in facts[start : start + CHUNK]
        ]
        log.append_many(entries)
    assert log.verify().intact

    same, cross = Replayer(registry), Replayer(registry, other)
    failures = []
    replayed = 0
    for record in log.iter_records():
        replayed += 1
        result = same.replay(record)
        if not result.identical:
            failures.append(format_result(result))
        if record["seq"] <= CROSS:
            result = cross.replay(record)
            if not result.identical:
                failures.append(format_result(result))
    log.close()
    assert replayed == COUNT
    assert not failures, f"{len(failures)} replays differ; first:\n{failures[0]}"
