"""``/openapi.json``: OpenAPI 3.1 generated from the app itself.

Paths and methods come from the app's URL map, roles from ``auth.require``, bodies from the
pydantic models named by ``@documented`` (schemas via pydantic, the facts schema from
``schemas/facts.schema.json``): nothing here is a hand-written schema, so the document
cannot drift from what the service does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from server.api_models import Problem
from server.errors import PROBLEM_MIME

__all__ = ["build_spec", "documented"]

F = TypeVar("F", bound=Callable[..., Any])
FACTS_SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "facts.schema.json"
REF = "#/components/schemas/{model}"
BODY_ERRORS = (400, 413, 415, 422)


def documented(
    summary: str,
    *,
    request: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    content_type: str = "application/json",
    errors: Sequence[int] = (),
    params: dict[str, str] | None = None,
) -> Callable[[F], F]:
    """Attach what the OpenAPI document says about a view. Statuses from the body and the
    key (400/413/415/422, 401/403) are added by ``build_spec``; ``errors`` names the rest."""

    def mark(view: F) -> F:
        view.openapi = {  # type: ignore[attr-defined]
            "summary": summary,
            "request": request,
            "response": response,
            "content_type": content_type,
            "errors": tuple(errors),
            "params": params or {},
        }
        return view

    return mark


@cache
def _facts_schema() -> dict[str, Any]:
    schema = json.loads(FACTS_SCHEMA.read_text(encoding="utf-8"))
    return {k: v for k, v in schema.items() if k not in ("$schema", "$id")}


def _schemas(models: list[tuple[type[BaseModel], str]]) -> tuple[dict, dict[str, Any]]:
    refs, top = models_json_schema(models, ref_template=REF)
    defs = top.get("$defs", {})
    defs["Facts"] = _facts_schema()
    for name in ("DecisionRequest", "BatchRequest"):
        if name in defs:  # the request's facts are exactly the facts schema
            defs[name]["properties"]["facts"] = {"$ref": REF.format(model="Facts")}
    return refs, defs


def _path_of(rule: str) -> tuple[str, list[str]]:
    names = re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", rule)
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule), names


def _problem(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_MIME: {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def build_spec(app: Flask, version: str) -> dict[str, Any]:
    views = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        meta = getattr(view, "openapi", None)
        if meta is not None:
            views.append((rule, view, meta))
    models: list[tuple[type[BaseModel], str]] = [(Problem, "serialization")]
    for _, _, meta in views:
        if meta["request"] is not None:
            models.append((meta["request"], "validation"))
        if meta["response"] is not None:
            models.append((meta["response"], "serialization"))
    refs, defs = _schemas(list(dict.fromkeys(models)))

    paths: dict[str, dict[str, Any]] = {}
    for rule, view, meta in sorted(views, key=lambda v: v[0].rule):
        path, names = _path_of(rule.rule)
        roles = getattr(view, "required_roles", None)
        op: dict[str, Any] = {"summary": meta["summary"], "operationId": rule.endpoint}
        if names:
            op["parameters"] = [
                {"name": n, "in": "path", "required": True,
                 "schema": {"type": "string", "minLength": 1}}
                for n in names
            ]
        if meta["params"]:
            op.setdefault("parameters", []).extend(
                {"name": n, "in": "query", "required": True, "description": d,
                 "schema": {"type": "string"}}
                for n, d in meta["params"].items()
            )
        statuses = set(meta["errors"])
        if meta["request"] is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(meta["request"], "validation")]}},
            }
            statuses |= set(BODY_ERRORS)
        if roles:
            op["security"] = [{"bearerAuth": []}]
            op["description"] = f"Role: {' or '.join(roles)}."
            statuses |= {401, 403}
        ok: dict[str, Any] = {"description": "OK"}
        if meta["response"] is not None:
            ok["content"] = {
                meta["content_type"]: {"schema": refs[(meta["response"], "serialization")]}
            }
        else:  # a free-form document (a log record, a diff) or text (metrics)
            free = {"type": "object" if meta["content_type"].endswith("json") else "string"}
            ok["content"] = {meta["content_type"]: {"schema": free}}
        op["responses"] = {"200": ok, **{str(s): _problem(s) for s in sorted(statuses)}}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "crmc decision service",
            "version": version,
            "description": "Client-management decisions from versioned policies. "
            "Errors are application/problem+json.",
        },
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
