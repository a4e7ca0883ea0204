"""The decision log's chain check, shared by ``GET /v1/audit/verify`` and the pages.

``DecisionLog.verify()`` reads the whole log (every record is re-hashed), which on a large
log takes longer than gunicorn's 30 s worker timeout allows a request. So a worker reuses
its last result for ``VERIFY_TTL`` seconds and answers with the time of that check
(``checked_at``); while one thread verifies, the others answer with the previous result if
there is one, instead of starting the same scan again (at most one scan per log and
process at a time). ``crmc audit verify`` is the full, uncached check.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

__all__ = ["VERIFY_TTL", "chain_status"]

VERIFY_TTL = 30.0  # seconds a chain check is reused
KEEP = 4  # several logs live in one process only in tests

_lock = threading.Lock()
# Keyed by the log object itself (kept alive here, so its id cannot be reused).
_results: list[tuple[Any, float, Any, dt.datetime]] = []
_running: list[tuple[Any, threading.Lock]] = []


def _cached(log: Any) -> tuple[float, Any, dt.datetime] | None:
    with _lock:
        for known, at, result, checked in _results:
            if known is log:
                return at, result, checked
    return None


def _scan_lock(log: Any) -> threading.Lock:
    with _lock:
        for known, lock in _running:
            if known is log:
                return lock
        lock = threading.Lock()
        _running[:] = [*_running[-(KEEP - 1):], (log, lock)]
        return lock


def chain_status(log: Any, *, fresh: bool = False) -> tuple[Any, dt.datetime]:
    """The log's VerifyResult and when it was computed (cached for ``VERIFY_TTL``).

    With no cached result, a caller arriving during another thread's scan waits for it and
    takes its result. ``fresh``: wait for a running scan, then scan again unless that scan
    began after the request."""
    asked = time.monotonic()
    cached = _cached(log)
    if cached is not None and not fresh and asked - cached[0] <= VERIFY_TTL:
        return cached[1], cached[2]
    scan = _scan_lock(log)
    # Someone else is scanning: the previous result now, rather than a second scan.
    if not scan.acquire(blocking=cached is None or fresh):
        assert cached is not None
        return cached[1], cached[2]
    try:
        again = _cached(log)
        # A scan finished while we waited: recent enough for a cached answer; ``fresh``
        # needs one that began after it was asked.
        newest = asked if fresh else asked - VERIFY_TTL
        if again is not None and again[0] >= newest:
            return again[1], again[2]
        started = time.monotonic()
        result, checked = log.verify(), dt.datetime.now(dt.UTC)
        with _lock:
            kept = [item for item in _results if item[0] is not log][-(KEEP - 1):]
            _results[:] = [*kept, (log, started, result, checked)]
        return result, checked
    finally:
        scan.release()
