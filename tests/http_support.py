"""Helpers for the HTTP service tests: apps on temporary state, keys, the one problem-shape
check every error test uses, and a real gunicorn on a free loopback port."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from flask import Flask

from engine.config import Settings
from engine.keys import ROLES, KeyStore

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "http"
SEED = json.loads((DATA / "seed-case.json").read_text(encoding="utf-8"))
DISTRESSED = json.loads((DATA / "distressed-client.json").read_text(encoding="utf-8"))
PROBLEM_MIME = "application/problem+json"
# A classification version that fails validation (no rules, owner, dates ...).
BROKEN = "kind: classification\nid: classification\nversion: 1.2.0\nstatus: draft\n"


def copy_policies(target: Path) -> Path:
    shutil.copytree(REPO / "policies", target)
    return target


def draft_of(policies: Path, version: str = "1.2.0") -> None:
    """A valid draft version (drafts need no lock entry): a copy of 1.1.0, renumbered."""
    text = (policies / "classification" / "1.1.0.yaml").read_text()
    text = text.replace("version: 1.1.0", f"version: {version}")
    text = text.replace("status: active", "status: draft")
    (policies / "classification" / f"{version}.yaml").write_text(text)


def settings_for(state: Path, policies: Path | None = None, **overrides: Any) -> Settings:
    state.mkdir(parents=True, exist_ok=True)
    base = Settings(
        policies_dir=policies or REPO / "policies",
        engine="compiled",
        database_url=f"sqlite:///{state / 'decisions.db'}",
        keys_file=state / "keys.json",
        audit_key_file=state / "audit.key",
    )
    return Settings(**{**base.__dict__, **overrides})


def make_app(state: Path, policies: Path | None = None, *, run_dir: Path | None = None,
             **overrides: Any) -> Flask:
    from server import create_app

    return create_app(settings_for(state, policies, **overrides), run_dir=run_dir)


def add_keys(keys_file: Path) -> dict[str, str]:
    """One key per role; returns role -> key."""
    store = KeyStore(keys_file)
    return {role: store.add(role, f"test-{role}")[0] for role in ROLES}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_problem(resp: Any, status: int, *, paths: Iterable[str] | None = None,
                   detail: str | None = None) -> dict[str, Any]:
    """The one check of the error shape: RFC 9457 problem, status, located errors."""
    content_type = resp.headers.get("Content-Type", "")
    assert content_type.startswith(PROBLEM_MIME), (content_type, _text(resp))
    body = resp.json if hasattr(resp, "json") and not callable(resp.json) else resp.body
    assert body["status"] == status == _status(resp), body
    for name, kind in (("type", str), ("title", str), ("status", int), ("detail", str)):
        assert isinstance(body[name], kind), (name, body)
    assert body["type"].startswith("https://crmc.example/problems/")
    if "errors" in body:
        for err in body["errors"]:
            assert isinstance(err["path"], str) and isinstance(err["message"], str), err
    if paths is not None:
        assert sorted(e["path"] for e in body.get("errors", [])) == sorted(paths), body
    if detail is not None:
        assert detail in body["detail"], body
    return body


def _status(resp: Any) -> int:
    return resp.status_code if hasattr(resp, "status_code") else resp.status


def _text(resp: Any) -> str:
    return resp.get_data(as_text=True) if hasattr(resp, "get_data") else str(resp.body)


# --- a real gunicorn ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Reply:
    def __init__(self, status: int, headers: dict[str, str], raw: bytes):
        self.status = status
        self.headers = headers
        self.raw = raw

    @property
    def body(self) -> Any:
        return json.loads(self.raw)


class Server:
    """gunicorn with the repository's gunicorn.conf.py, state under ``var``."""

    def __init__(self, var: Path, policies: Path, *, workers: int = 2, engine: str = "durable"):
        self.var = var
        self.policies = policies
        self.workers = workers
        self.engine = engine
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.keys: dict[str, str] = {}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CRMC_", "PROMETHEUS_MULTIPROC_DIR"))}
        env.update(
            PYTHONPATH=str(REPO),
            CRMC_VAR_DIR=str(self.var),
            CRMC_POLICIES_DIR=str(self.policies),
            CRMC_ENGINE=self.engine,
            CRMC_DATABASE_URL=f"sqlite:///{self.var / 'decisions.db'}",
            CRMC_KEYS_FILE=str(self.var / "keys.json"),
            CRMC_AUDIT_KEY_FILE=str(self.var / "audit.key"),
            CRMC_WORKERS=str(self.workers),
        )
        return env

    def start(self, attempts: int = 5) -> Server:
        self.var.mkdir(parents=True, exist_ok=True)
        self.keys = add_keys(self.var / "keys.json")
        for _ in range(attempts):
            self.port = free_port()
            env = dict(self.env(), CRMC_BIND=f"127.0.0.1:{self.port}")
            log = open(self.var / "gunicorn.log", "ab")  # noqa: SIM115 - owned by the process
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", str(REPO / "gunicorn.conf.py")],
                cwd=REPO, env=env, stdout=log, stderr=log,
            )
            log.close()
            if self._wait_ready():
                return self
            self.stop()  # most likely the port was taken meanwhile: try another
        raise RuntimeError("gunicorn did not start:\n" + self.log_text()[-3000:])

    def _wait_ready(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with contextlib.suppress(OSError):
                reply = self.request("GET", "/metrics")
                # ready when every worker has booted and loaded its policies
                if reply.raw.count(b"crmc_policy_generation{") >= self.workers:
                    return True
            time.sleep(0.2)
        return False

    def log_text(self) -> str:
        path = self.var / "gunicorn.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: Any = None, *, role: str | None = None,
                headers: dict[str, str] | None = None, timeout: float = 30) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            hdrs = dict(headers or {})
            data = None
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                hdrs.setdefault("Content-Type", "application/json")
            if role is not None:
                hdrs.update(bearer(self.keys[role]))
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return Reply(resp.status, dict(resp.getheaders()), resp.read())
        finally:
            conn.close()

    def metric(self, name: str) -> dict[str, float]:
        """Samples of one metric: label text -> value."""
        out = {}
        for line in self.request("GET", "/metrics").raw.decode().splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                labels, _, value = line.rpartition(" ")
                out[labels[len(name):]] = float(value)
        return out


@contextlib.contextmanager
def running(var: Path, policies: Path, **kwargs: Any) -> Iterator[Server]:
    server = Server(var, policies, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()
