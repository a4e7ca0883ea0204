"""Crash test: kill -9 gunicorn workers and the master under concurrent load.

A real gunicorn (``gunicorn.conf.py``, 2 sync workers, loopback, a free port) serves
decisions while client threads post them. A killer repeatedly ``kill -9``s a worker, then
the master with all its workers, and starts the service again. Afterwards every decision
answered with 200 has its record in the log, and the chain verifies.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from audit_support import AUDIT_KEY, BACKENDS, backend_url, example_facts, settings

from engine.keys import KeyStore
from engine.record import open_log

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 4
CYCLES = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


class Service:
    def __init__(self, env: dict[str, str], port: int, log_path: Path):
        self.env, self.port, self.log_path = env, port, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as out:  # the child keeps its own copy of the fd
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
                env=self.env, cwd=ROOT, stdout=out, stderr=out,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200 and len(children(self.proc.pid)) >= 2:
                    return
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        raise AssertionError("gunicorn did not become healthy")

    def kill_worker(self) -> None:
        workers = children(self.proc.pid)
        if workers:
            os.kill(workers[0], signal.SIGKILL)

    def kill_all(self) -> None:
        workers = children(self.proc.pid)
        self.proc.send_signal(signal.SIGKILL)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # a clean stop: workers sign the head on close
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill_all()


def client(port: int, key: str, stop: threading.Event, ok: list[str], lock: threading.Lock) -> None:
    facts = example_facts("seed-case")
    body = json.dumps({"facts": facts})
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    while not stop.is_set():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("POST", "/v1/decisions", body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)  # the service is down or a worker died mid-request
            continue
        finally:
            conn.close()
        if resp.status == 200:
            with lock:
                ok.append(json.loads(data)["decision_id"])


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_answered_decision_survives_kill_9(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = backend_url(backend, tmp_path, request)
    var = tmp_path / "var"
    var.mkdir()
    keys_file = var / "keys.json"
    key, _ = KeyStore(keys_file).add("decide", "crash-test")
    port = free_port()
    env = {
        **os.environ,
        "CRMC_VAR_DIR": str(var),
        "CRMC_DATABASE_URL": url,
        "CRMC_KEYS_FILE": str(keys_file),
        "CRMC_AUDIT_KEY": AUDIT_KEY,
        "CRMC_POLICIES_DIR": str(ROOT / "policies"),
        "CRMC_ENGINE": "compiled",
        "CRMC_WORKERS": "2",
        "CRMC_BIND": f"127.0.0.1:{port}",
        "CRMC_LOG_LEVEL": "warning",
    }
    service = Service(env, port, tmp_path / "gunicorn.log")
    ok: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    threads = [
        threading.Thread(target=client, args=(port, key, stop, ok, lock)) for _ in range(CLIENTS)
    ]
    service.start()
    try:
        for t in threads:
            t.start()
        for _ in range(CYCLES):
            time.sleep(1.0)
            service.kill_worker()
            time.sleep(1.0)
            service.kill_worker()
            time.sleep(1.0)
            service.kill_all()
            service.start()
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        service.stop()

    assert len(ok) > 50, "too few decisions were answered to prove anything"
    log = open_log(url, settings(tmp_path))
    missing = [d for d in ok if log.get(d) is None]
    result = log.verify()
    log.store.close()
    assert not missing, f"{len(missing)} decisions answered 200 have no record"
    assert result.intact, result.reason
    assert result.records >= len(ok)
