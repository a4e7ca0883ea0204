"""Open operational endpoints: /healthz, /readyz, /metrics, /openapi.json (no key needed)."""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from flask import Blueprint, Response, current_app

from server.api_models import Health, Ready
from server.app import services
from server.auth import readable_keys
from server.errors import ApiProblem
from server.openapi import build_spec, documented

__all__ = ["bp"]

bp = Blueprint("ops", __name__)
log = logging.getLogger("crmc.server")


@bp.get("/healthz")
@documented("The process is up.", response=Health)
def healthz() -> Any:
    return {"status": "ok"}


def _database_reachable() -> bool:
    try:
        dlog = services().decision_log()
        ping = getattr(dlog, "ping", None)
        if ping is not None:
            ping()
        else:
            with dlog.store.read_cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchone()
    except Exception as exc:  # any failure means "not ready", never a 500
        log.warning("readiness: database unreachable (%s)", type(exc).__name__)
        return False
    return True


@bp.get("/readyz")
@documented("Policies loaded and the database reachable.", response=Ready, errors=[503])
def readyz() -> Any:
    runtime = services().runtime
    if runtime.loaded is None:
        raise ApiProblem(503, "No policy set is loaded.")
    loaded = runtime.current()  # like any request: picks up another worker's reload first
    svc = services()
    with readable_keys(svc.keys):  # 503 "keys file unreadable" rather than ready
        svc.keys.entries()
    if not _database_reachable():
        raise ApiProblem(503, "The decision log's database is not reachable.")
    return {
        "status": "ready",
        "generation": loaded.generation,
        "policies": len(loaded.registry.all()),
    }


@bp.get("/metrics")
@documented("Prometheus metrics.", content_type="text/plain")
def metrics() -> Response:
    return services().metrics.expose()


@cache
def _version() -> str:
    try:
        return package_version("crmc")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"


@bp.get("/openapi.json")
@documented("This document (OpenAPI 3.1).", content_type="application/json")
def openapi() -> Any:
    app = current_app
    spec = app.extensions.get("crmc.openapi")
    if spec is None:  # built once per app, on first use (the URL map is final by then)
        spec = app.extensions["crmc.openapi"] = build_spec(app, _version())
    return spec
