"""GET /v1/audit/verify (role audit): the decision log's hash chain and checkpoints, checked
at most every 30 s per worker (``server.chain_status``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from engine.record import LogUnavailable
from server.api_models import VerifyResult
from server.app import services
from server.auth import require
from server.chain_status import chain_status
from server.errors import ApiProblem
from server.openapi import documented

__all__ = ["bp"]

bp = Blueprint("audit", __name__)


@bp.get("/v1/audit/verify")
@documented(
    "Verify the decision log. The result of a check is reused for up to 30 seconds "
    "(checked_at says when it ran): a check reads the whole log.",
    response=VerifyResult, errors=[503],
)
@require("audit")
def verify() -> Any:
    try:
        result, checked = chain_status(services().decision_log())
    except LogUnavailable as exc:
        raise ApiProblem(503, "The decision log cannot be read.") from exc
    return {**result.to_json(), "checked_at": checked.isoformat().replace("+00:00", "Z")}
