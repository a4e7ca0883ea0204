"""Several processes (each with several threads) append to one log at once, on both backends.

Afterwards the chain verifies, and every sequence number a caller got back is present
exactly once: nothing lost, duplicated or reordered.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from audit_support import BACKENDS, append_worker, backend_url, settings

from engine.record import open_log

PROCESSES = 4
PER_PROCESS = 40
THREADS = 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_processes_append_without_loss(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = backend_url(backend, tmp_path, request)
    key_file = str(tmp_path / "var" / "audit.key")
    open_log(url, settings(tmp_path)).close()  # schema exists before the race starts
    # spawn, not fork: the test process runs threads (xdist), and fork would copy them.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(PROCESSES, mp_context=ctx) as pool:
        futures = [
            pool.submit(append_worker, url, key_file, PER_PROCESS, THREADS)
            for _ in range(PROCESSES)
        ]
        returned = [seq for f in futures for seq in f.result()]

    total = PROCESSES * PER_PROCESS
    assert len(returned) == total
    assert sorted(returned) == list(range(1, total + 1))  # each seq exactly once
    log = open_log(url, settings(tmp_path), create_key=False)
    result = log.verify()
    stored = [r["seq"] for r in log.iter_records()]
    log.store.close()
    assert result.intact, result.reason
    assert result.records == total and stored == list(range(1, total + 1))
    assert result.unsigned_tail == 0  # every worker signed the head on close
