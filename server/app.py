"""The app factory: settings → keys, policies, Decider, decision log, metrics, blueprints.

Under gunicorn (``preload_app = False``) each worker calls ``create_app`` after the fork, so
durable_rules state, database connections and metric files all belong to one process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from engine.config import Settings
from engine.keys import KeyStore
from engine.seam import Engine, LoadedPolicy
from server.body import JsonProvider
from server.errors import ApiProblem, register_error_handlers
from server.metrics import Metrics
from server.runtime import PolicyRuntime

__all__ = ["Services", "create_app", "services"]

log = logging.getLogger("crmc.server")
RUN_DIR_ENV = "CRMC_RUN_DIR"  # set by gunicorn.conf.py: the workers' shared run directory


class OncePerProcess:
    """An engine that prepares each policy version once per process, across reloads and
    apps (``engine_for``).

    A reload builds a new Decider; without this it would ask the engine to compile the
    unchanged versions again, and durable_rules refuses to register a ruleset name twice.
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self.name = engine.name
        self._lock = threading.Lock()
        self._prepared: dict[tuple[str, str], Any] = {}

    def prepare(self, loaded: LoadedPolicy) -> Any:
        with self._lock:
            key = (loaded.key, loaded.sha256)
            if key not in self._prepared:
                self._prepared[key] = self._engine.prepare(loaded)
            return self._prepared[key]

    def match(self, prepared: Any, context: Mapping[str, Any]) -> frozenset[str]:
        return self._engine.match(prepared, context)


_ENGINES: dict[str, OncePerProcess] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(name: str) -> OncePerProcess:
    """The process's one engine of that name (a forked worker starts with none built:
    the gunicorn master never creates an app)."""
    from engine.engines import get_engine

    with _ENGINES_LOCK:
        if name not in _ENGINES:
            _ENGINES[name] = OncePerProcess(get_engine(name))
        return _ENGINES[name]


@dataclass
class Services:
    """What the blueprints use; one per app (``app.extensions["crmc"]``)."""

    settings: Settings
    keys: KeyStore
    runtime: PolicyRuntime
    metrics: Metrics
    engine_name: str
    _log: Any = None
    _log_lock: threading.Lock = field(default_factory=threading.Lock)

    def decision_log(self) -> Any:
        """The decision log, opened on first use; 503 while the database is unreachable."""
        if self._log is None:
            from engine.record import open_log

            with self._log_lock:
                if self._log is None:
                    try:
                        self._log = open_log(self.settings.database_url, self.settings)
                    except Exception as exc:
                        log.error("decision log unavailable: %s", type(exc).__name__)
                        raise ApiProblem(
                            503, "The decision log is unavailable; nothing was decided."
                        ) from exc
        return self._log

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def services() -> Services:
    return current_app.extensions["crmc"]


def _settings(config: Settings | None, overrides: dict[str, Any]) -> Settings:
    settings = config if config is not None else Settings.from_env()
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
    paths = {k: Path(v) for k, v in overrides.items() if k.endswith(("_dir", "_file"))}
    return dataclasses.replace(settings, **{**overrides, **paths})


def create_app(
    config: Settings | None = None, *, run_dir: Path | str | None = None, **overrides: Any
) -> Flask:
    """The service. ``overrides`` replace fields of ``config`` (default: from the
    environment); ``run_dir`` (default ``$CRMC_RUN_DIR``) is the directory shared by the
    workers of one server, through which a reload reaches all of them."""
    settings = _settings(config, overrides)
    if run_dir is None and os.environ.get(RUN_DIR_ENV):
        run_dir = os.environ[RUN_DIR_ENV]
    logging.getLogger("crmc").setLevel(settings.log_level)

    # No static route: the API is bearer-key only and fully documented in /openapi.json;
    # the pages' sub-app serves their static files under /ui/static.
    app = Flask("server", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body
    app.json = JsonProvider(app)  # keeps the decision's field order (contract §2)
    register_error_handlers(app)

    from engine.evaluate import Decider

    engine = engine_for(settings.engine)
    metrics = Metrics()
    runtime = PolicyRuntime(
        settings.policies_dir,
        make_decider=lambda registry: Decider(registry, engine=engine),
        run_dir=Path(run_dir) if run_dir is not None else None,
        on_swap=metrics.policies_loaded,
    )
    runtime.start()  # PolicyError here: a worker without valid policies does not start
    app.extensions["crmc"] = Services(
        settings=settings,
        keys=KeyStore(settings.keys_file),
        runtime=runtime,
        metrics=metrics,
        engine_name=settings.engine,
    )
    metrics.init_app(app)
    # Open (and migrate) the log now rather than on the first request; if the database is
    # unreachable, /readyz and every decision answer 503 until it is.
    with contextlib.suppress(ApiProblem):
        app.extensions["crmc"].decision_log()

    from server import admin, audit, decisions, ops, policies

    for module in (decisions, policies, audit, admin, ops):
        app.register_blueprint(module.bp)
    from server import web  # the HTML pages at /ui (issue 7): a sub-app, not in the API's URL map

    web.mount(app)
    return app
