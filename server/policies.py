"""GET /v1/policies, /v1/policies/{id}/{version} and the rule-level diff (any role)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, request

from engine.diff import diff_versions
from engine.errors import FieldError, UnknownPolicyVersion
from engine.seam import LoadedPolicy
from server.api_models import PolicyDetail, PolicyList
from server.app import services
from server.auth import ANY_ROLE, require
from server.errors import ApiProblem
from server.openapi import documented

__all__ = ["bp"]

bp = Blueprint("policies", __name__)


def version_info(lp: LoadedPolicy, today: dt.date) -> dict[str, Any]:
    p = lp.policy
    return {
        "version": lp.version,
        "kind": lp.kind,
        "status": p.status,
        "effective_from": p.effective_from.isoformat(),
        "effective_to": p.effective_to.isoformat() if p.effective_to else None,
        "owner": p.owner,
        "change_note": p.change_note,
        "sha256": lp.sha256,
        "in_force": lp.in_force(today),
    }


@bp.get("/v1/policies")
@documented("Every policy version loaded.", response=PolicyList)
@require(*ANY_ROLE)
def list_policies() -> Any:
    loaded = services().runtime.current()
    today = dt.datetime.now(dt.UTC).date()
    policies = []
    for policy_id in loaded.registry.ids():
        versions = loaded.registry.versions(policy_id)
        policies.append(
            {
                "id": policy_id,
                "kind": versions[-1].kind,
                "versions": [version_info(lp, today) for lp in versions],
            }
        )
    return {"generation": loaded.generation, "policies": policies}


@bp.get("/v1/policies/<policy_id>/<version>")
@documented("One policy version: content and metadata.", response=PolicyDetail, errors=[404])
@require(*ANY_ROLE)
def get_policy(policy_id: str, version: str) -> Any:
    lp = services().runtime.current().registry.get(policy_id, version)  # 404 if unknown
    today = dt.datetime.now(dt.UTC).date()
    return {"id": lp.id, **version_info(lp, today), "content": _plain(lp.raw)}


def _plain(value: Any) -> Any:
    """YAML gives dates as date objects; the API gives ISO text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@bp.get("/v1/policies/<policy_id>/diff")
@documented(
    "Rule-level diff of two versions.",
    errors=[404, 422],
    params={"from": "older version", "to": "newer version"},
)
@require(*ANY_ROLE)
def diff_policy(policy_id: str) -> Any:
    missing = [name for name in ("from", "to") if not request.args.get(name)]
    if missing:
        raise ApiProblem(
            422, "Name the two versions: ?from=V1&to=V2.",
            errors=[FieldError(f"?{name}", "required") for name in missing],
        )
    registry = services().runtime.current().registry
    if policy_id not in registry.ids():
        raise UnknownPolicyVersion(policy_id)
    old = registry.get(policy_id, request.args["from"])
    new = registry.get(policy_id, request.args["to"])
    return diff_versions(old, new)

