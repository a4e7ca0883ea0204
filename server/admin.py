"""POST /v1/admin/reload (role admin): re-read the policies directory.

A set that fails validation is answered 422 with every problem; the old set keeps serving
in every worker. An accepted set reaches the other workers through the run directory
(``server.runtime``): each picks it up before its next request.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint

from server.api_models import ReloadResult
from server.app import services
from server.auth import current_key, require
from server.openapi import documented

__all__ = ["bp"]

bp = Blueprint("admin", __name__)
log = logging.getLogger("crmc.server")


@bp.post("/v1/admin/reload")
@documented("Re-read the policies directory.", response=ReloadResult, errors=[422])
@require("admin")
def reload() -> Any:
    svc = services()
    try:
        loaded = svc.runtime.reload()  # PolicyError → 422 (server.errors)
    except Exception:
        log.warning("reload by key %r rejected", current_key().name)
        raise
    log.info("reload by key %r: generation %d", current_key().name, loaded.generation)
    return {
        "generation": loaded.generation,
        "loaded_at": loaded.loaded_at.isoformat(),
        "policies": [
            {"id": lp.id, "version": lp.version, "sha256": lp.sha256}
            for lp in loaded.registry.all()
        ],
    }
