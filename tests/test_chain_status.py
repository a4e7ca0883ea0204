"""The verify cache: callers that arrive during a scan share it instead of scanning again."""

from __future__ import annotations

import threading
import time

from server.chain_status import chain_status


class SlowLog:
    """A decision log whose verification takes a while (a real log with many records)."""

    def __init__(self) -> None:
        self.scans = 0
        self.started = threading.Event()

    def verify(self) -> dict:
        self.scans += 1
        self.started.set()
        time.sleep(0.3)
        return {"intact": True, "scan": self.scans}


def test_callers_arriving_during_the_first_scan_share_its_result() -> None:
    log = SlowLog()
    results: list[dict] = []
    first = threading.Thread(target=lambda: results.append(chain_status(log)[0]))
    first.start()
    assert log.started.wait(5)
    others = [
        threading.Thread(target=lambda: results.append(chain_status(log)[0])) for _ in range(3)
    ]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join()
    assert log.scans == 1
    assert results == [{"intact": True, "scan": 1}] * 4


def test_fresh_scans_again_after_a_scan_that_began_before_it_was_asked() -> None:
    log = SlowLog()
    chain_status(log)
    assert chain_status(log, fresh=True)[0] == {"intact": True, "scan": 2}
    assert chain_status(log)[0] == {"intact": True, "scan": 2}  # cached now
