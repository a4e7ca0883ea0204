"""GET /v1/audit/verify (role audit): the decision log's hash chain and checkpoints."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from engine.record import LogUnavailable
from server.api_models import VerifyResult
from server.app import services
from server.auth import require
from server.errors import ApiProblem
from server.openapi import documented

__all__ = ["bp"]

bp = Blueprint("audit", __name__)


@bp.get("/v1/audit/verify")
@documented("Verify the decision log.", response=VerifyResult, errors=[503])
@require("audit")
def verify() -> Any:
    try:
        result = services().decision_log().verify()
    except LogUnavailable as exc:
        raise ApiProblem(503, "The decision log cannot be read.") from exc
    return result.to_json()
