"""gunicorn configuration of the crmc service (``crmc serve-prod`` / ``make serve``).

One worker process per core: durable_rules never releases the GIL, so evaluation scales
with processes. Each worker has a few threads only so that requests waiting on the decision
log's commit overlap (and share one commit). ``preload_app = False``: each worker builds
its own rulesets, database connection and metric files after the fork.

The master creates a fresh run directory ``var/run/gunicorn-<pid>/`` shared by its workers:
``prometheus/`` for multiprocess metrics and ``policies/`` for the accepted policy sets
through which ``/v1/admin/reload`` reaches every worker (``server/runtime.py``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

from gunicorn.glogging import Logger

VAR = Path(os.environ.get("CRMC_VAR_DIR", "var")).resolve()
RUN_ROOT = VAR / "run"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fresh_run_dir() -> Path:
    RUN_ROOT.mkdir(parents=True, exist_ok=True)
    for old in RUN_ROOT.glob("gunicorn-*"):  # left behind by a master that was killed
        pid = old.name.partition("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    run_dir = RUN_ROOT / f"gunicorn-{os.getpid()}"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "prometheus").mkdir(parents=True)
    return run_dir


# Set before any process imports prometheus_client (it reads the variable at import time);
# workers inherit the environment through fork.
RUN_DIR = _fresh_run_dir()
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(RUN_DIR / "prometheus")
os.environ["CRMC_RUN_DIR"] = str(RUN_DIR)

wsgi_app = "server:create_app()"
bind = os.environ.get("CRMC_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("CRMC_WORKERS", 0)) or len(os.sched_getaffinity(0))
# Threads let one worker's decision-log appends share a commit (group commit: the log's
# fsync releases the GIL); CRMC_THREADS=1 gives plain sync workers.
threads = int(os.environ.get("CRMC_THREADS", 4))
worker_class = "gthread" if threads > 1 else "sync"
preload_app = False
timeout = 30  # a decision takes milliseconds; a worker stuck this long is restarted
graceful_timeout = 20
keepalive = 2
limit_request_line = 8190
limit_request_fields = 100
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("CRMC_LOG_LEVEL", "info").lower()
proc_name = "crmc"
control_socket_disable = True  # the default path is per user, shared by every instance


class JsonAccessLogger(Logger):
    """One JSON object per request. Deliberately without headers (Authorization carries the
    key) and without bodies (facts are client data)."""

    def access(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        if not self.cfg.accesslog:
            return
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "remote": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            # The full path: the pages' sub-app (DispatcherMiddleware) moved its mount
            # point (/ui) from PATH_INFO to SCRIPT_NAME in this same environ.
            "path": environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
            "status": resp.status_code if hasattr(resp, "status_code") else resp.status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "pid": os.getpid(),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        self.access_log.info(json.dumps(entry))


logger_class = JsonAccessLogger


def on_starting(server) -> None:  # type: ignore[no-untyped-def]
    """Validate the policies once and publish them as generation 1 before any worker
    starts: an invalid directory stops the server here, with every problem listed."""
    from engine.config import Settings
    from engine.errors import PolicyError, report
    from server.runtime import publish_snapshot

    settings = Settings.from_env()
    try:
        generation, registry, _ = publish_snapshot(settings.policies_dir, RUN_DIR)
    except PolicyError as exc:
        for line in report(exc.problems):
            server.log.error(line)
        raise SystemExit(1) from None
    server.log.info("policies: %d versions from %s (generation %d)",
                    len(registry.all()), settings.policies_dir, generation)


def worker_exit(server, worker) -> None:  # type: ignore[no-untyped-def]
    """Close the decision log cleanly (it signs a checkpoint of the head on close)."""
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get("crmc")
    if services is not None:
        try:
            services.close()
        except Exception:
            logging.getLogger("crmc.server").exception("closing the decision log failed")


def child_exit(server, worker) -> None:  # type: ignore[no-untyped-def]
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:  # type: ignore[no-untyped-def]
    shutil.rmtree(RUN_DIR, ignore_errors=True)
