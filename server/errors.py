"""The one place where errors become HTTP answers: RFC 9457 ``application/problem+json``.

Every error the service gives has the shape ``{type, title, status, detail}`` and, when a
request or its facts fail validation, ``errors: [{path, message}]`` with JSON pointers into
the request body (``/facts/financials/dscr``, ``/items/3/as_of``). An unexpected exception
is logged with a correlation id and answered 500 with that id only — no internals.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, json
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from engine.errors import (
    DecisionRefused,
    FieldError,
    NoPolicyInForce,
    PolicyError,
    Problem,
    UnknownPolicyVersion,
)

__all__ = [
    "PROBLEM_MIME",
    "ApiProblem",
    "field_errors",
    "pointer",
    "problem_body",
    "problem_response",
    "refused_errors",
    "register_error_handlers",
    "unexpected_body",
]

PROBLEM_MIME = "application/problem+json"
TYPE_BASE = "https://crmc.example/problems/"
log = logging.getLogger("crmc.server")

# status -> the problem type slug used in ``type`` (stable: clients may switch on it)
SLUGS = {
    400: "malformed-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "body-too-large",
    415: "unsupported-media-type",
    422: "validation-failed",
    500: "internal-error",
    503: "unavailable",
}


def pointer(loc: Iterable[Any], prefix: str = "") -> str:
    """A JSON pointer (RFC 6901) from path parts; ``prefix`` is already a pointer."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc]
    return prefix + "".join("/" + p for p in parts)


def problem_body(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    slug: str | None = None,
    errors: Sequence[FieldError] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + (slug or SLUGS.get(status, "error")),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = [e.to_json() for e in errors]
    body.update(extra)
    return body


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    resp = Response(json.dumps(body), status=body["status"], mimetype=PROBLEM_MIME)
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


class ApiProblem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        slug: str | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.body = problem_body(status, detail, title=title, slug=slug, errors=errors, **extra)
        self.headers = headers

    @property
    def status(self) -> int:
        return int(self.body["status"])


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """pydantic errors as pointers into the request (unknown fields named as such)."""
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = err["loc"]
        if err["type"] == "extra_forbidden":
            message = f"unknown field {str(loc[-1])!r}"
        else:
            message = err["msg"]
        out.append(FieldError(pointer(loc, prefix), message))
    return out


def refused_errors(exc: DecisionRefused, prefix: str = "/facts") -> list[FieldError]:
    """The Decider's pointers are into the facts document; the client sent them at ``prefix``."""
    return [FieldError(prefix + e.path, e.message) for e in exc.errors]


def policy_problems(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    """Policy-file problems (a rejected reload) as error entries with their location."""
    return [
        {
            "path": f"{p.file}#{p.json_path}",
            "message": f"{p.code}: {p.message}",
            "file": p.file,
            "line": p.line,
            "col": p.col,
        }
        for p in problems
    ]


def _http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {}
    if status == 405:  # keep the Allow header werkzeug computed
        allow = dict(exc.get_headers()).get("Allow")
        if allow:
            headers["Allow"] = allow
    detail = exc.description or HTTPStatus(status).description
    if status == 413:
        detail = "The request body is larger than the limit (CRMC_MAX_BODY)."
    return problem_response(problem_body(status, detail), headers)


def _rejected_policies(exc: PolicyError) -> Response:
    body = problem_body(
        422,
        f"The policy set was rejected ({len(exc.problems)} problems); "
        "the previous one keeps serving.",
        slug="policies-rejected",
    )
    body["errors"] = policy_problems(exc.problems)
    return problem_response(body)


def unexpected_body(exc: BaseException, where: str = "") -> dict[str, Any]:
    """A 500 problem for ``exc``: the traceback goes to the log under a new correlation
    id; the client gets the id only, no internals. ``where``: e.g. ``/items/3``."""
    correlation_id = uuid.uuid4().hex
    log.error("unexpected error%s correlation_id=%s", f" at {where}" if where else "",
              correlation_id, exc_info=exc)
    return problem_body(
        500,
        f"An unexpected error occurred. Quote correlation id {correlation_id} when reporting it.",
        correlation_id=correlation_id,
    )


def _unexpected(exc: Exception) -> Response:
    body = unexpected_body(exc)
    return problem_response(body, {"X-Correlation-Id": body["correlation_id"]})


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiProblem, lambda e: problem_response(e.body, e.headers))
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(
        DecisionRefused,
        lambda e: problem_response(
            problem_body(422, "The facts cannot be decided on.", errors=refused_errors(e))
        ),
    )
    app.register_error_handler(
        UnknownPolicyVersion, lambda e: problem_response(problem_body(404, str(e)))
    )
    app.register_error_handler(
        NoPolicyInForce,
        lambda e: problem_response(
            problem_body(422, str(e), errors=[FieldError("/as_of", str(e))])
        ),
    )
    app.register_error_handler(PolicyError, _rejected_policies)
    app.register_error_handler(Exception, _unexpected)
