"""POST /v1/decisions, POST /v1/decisions/batch, GET /v1/decisions/{id}.

A decision is appended to the decision log, committed, and only then answered; when the log
cannot be written the client gets 503 and no decision (a batch is one transaction: all of
its decisions are logged or none).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint
from pydantic import BaseModel, ValidationError

from engine.decision import Decision
from engine.errors import DecisionRefused, FieldError, NoPolicyInForce, UnknownPolicyVersion
from engine.record import LogUnavailable
from server.api_models import (
    BatchEnvelope,
    BatchRequest,
    BatchResponse,
    DecisionOptions,
    DecisionRequest,
)
from server.app import Services, services
from server.auth import current_key, require
from server.body import read_json, unicode_problem
from server.errors import (
    ApiProblem,
    field_errors,
    problem_body,
    refused_errors,
    unexpected_body,
)
from server.openapi import documented

__all__ = ["bp"]

bp = Blueprint("decisions", __name__)


def parse(model: type[BaseModel], body: Any, prefix: str = "", *, strings: bool = True) -> Any:
    """``body`` validated as ``model``; 422 with every error located in the request.

    ``strings``: also refuse text that is not Unicode (a batch checks each item instead,
    so that such an item fails alone)."""
    if not isinstance(body, dict):
        raise ApiProblem(
            422, "The request body must be a JSON object.",
            errors=[FieldError(prefix, "must be an object")],
        )
    if strings and (problem := unicode_problem(body, prefix)) is not None:
        raise problem
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ApiProblem(
            422, "The request is not valid.", errors=field_errors(exc, prefix)
        ) from None


def _decide(svc: Services, req: DecisionRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    """(decision as JSON, log entry); raises the Decider's errors."""
    decider = svc.runtime.current().decider
    started = time.perf_counter()
    decision = decider.decide(
        req.facts, as_of=req.as_of, pins=req.pin, explain=bool(req.explain)
    )
    doc = decision.model_dump(mode="json")
    svc.metrics.decision(doc, svc.engine_name, time.perf_counter() - started)
    entry = {
        "decision": doc,
        "request": {
            "facts": req.facts,
            "as_of": req.as_of,
            "pins": req.pin,
            "explain": bool(req.explain),
        },
        "requester": current_key().name,
        "engine": doc.get("engine", svc.engine_name),
    }
    return doc, entry


def append_to_log(svc: Services, entries: list[dict[str, Any]]) -> None:
    """Commit the entries (one transaction) or answer 503 with nothing decided."""
    if not entries:
        return
    try:
        svc.decision_log().append_many(entries)
    except LogUnavailable as exc:
        raise ApiProblem(
            503, "The decision log cannot be written; the decision was not given.",
            headers={"Retry-After": "5"},
        ) from exc


@bp.post("/v1/decisions")
@documented(
    "Decide on a client's facts.", request=DecisionRequest, response=Decision, errors=[404, 503]
)
@require("decide")
def decide() -> Any:
    svc = services()
    req = parse(DecisionRequest, read_json())
    doc, entry = _decide(svc, req)
    append_to_log(svc, [entry])
    return doc


def _item_problem(index: int, exc: Exception) -> dict[str, Any]:
    at = f"/items/{index}"
    if isinstance(exc, ApiProblem):
        return exc.body
    if isinstance(exc, DecisionRefused):
        return problem_body(
            422, "The facts cannot be decided on.", errors=refused_errors(exc, at + "/facts")
        )
    if isinstance(exc, UnknownPolicyVersion):
        return problem_body(404, str(exc))
    if isinstance(exc, NoPolicyInForce):
        return problem_body(422, str(exc), errors=[FieldError(at + "/as_of", str(exc))])
    # Not the client's fault, and not the other items' either: this item alone gets the
    # 500 (its correlation id in the log); the rest of the batch is decided and logged.
    return unexpected_body(exc, at)


@bp.post("/v1/decisions/batch")
@documented(
    "Decide on up to 1000 facts documents; each item's decision or problem in place.",
    request=BatchRequest,
    response=BatchResponse,
    errors=[503],
)
@require("decide")
def batch() -> Any:
    svc = services()
    envelope: BatchEnvelope = parse(BatchEnvelope, read_json(), strings=False)
    defaults = envelope.model_dump(include=set(DecisionOptions.model_fields), exclude_none=True)
    results: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for index, item in enumerate(envelope.items):
        try:
            req: DecisionRequest = parse(DecisionRequest, item, f"/items/{index}")
            req = _with_defaults(req, defaults)
            doc, entry = _decide(svc, req)
        except Exception as exc:  # every item's failure stays in its place (contract §4)
            results.append(_item_problem(index, exc))
            continue
        results.append(doc)
        entries.append(entry)
    append_to_log(svc, entries)
    return {"results": results}


def _with_defaults(req: DecisionRequest, defaults: dict[str, Any]) -> DecisionRequest:
    """The batch's as_of/pin/explain for what the item leaves out (item pins win per id)."""
    if not defaults:
        return req
    update: dict[str, Any] = {}
    if req.as_of is None and "as_of" in defaults:
        update["as_of"] = defaults["as_of"]
    if req.explain is None and "explain" in defaults:
        update["explain"] = defaults["explain"]
    if "pin" in defaults:
        update["pin"] = {**defaults["pin"], **(req.pin or {})}
    return req.model_copy(update=update)


@bp.get("/v1/decisions/<decision_id>")
@documented("A logged decision record.", errors=[404, 503])
@require("audit")
def get_decision(decision_id: str) -> Any:
    try:
        record = services().decision_log().get(decision_id)
    except LogUnavailable as exc:
        raise ApiProblem(503, "The decision log cannot be read.") from exc
    if record is None:
        raise ApiProblem(404, f"No decision {decision_id!r} in the log.")
    return record
