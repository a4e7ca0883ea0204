"""Reading a JSON request body: size limit, content type, syntax — each with its own status.

413 comes from werkzeug (``MAX_CONTENT_LENGTH``): it checks the Content-Length up front and,
for a chunked body without one, stops reading at the limit (gunicorn sets
``wsgi.input_terminated``, so werkzeug limits the stream instead of ignoring it) — and
``read_json`` turns a body cut at the limit into 413.

The strict decoding itself (duplicated names, depth, NaN) is ``engine.json_strict``, shared
with ``crmc decide``; its names are re-exported here for the modules that import them.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge

from engine.errors import FieldError
from engine.json_strict import MAX_DEPTH, JsonRefused, decode
from server.errors import ApiProblem

__all__ = ["MAX_DEPTH", "JsonProvider", "JsonRefused", "decode", "read_json", "unicode_problem"]


class JsonProvider(DefaultJSONProvider):
    """Flask's JSON responses, byte for byte, with the compact encoder built once per app
    (``json.dumps`` with options builds a new encoder for every response). Keys keep their
    order: the decision's field order is contract §2's."""

    sort_keys = False

    def __init__(self, app: Flask):
        super().__init__(app)
        self._encoder = json.JSONEncoder(
            default=self.default, ensure_ascii=self.ensure_ascii, sort_keys=False,
            separators=(",", ":"),
        )

    def response(self, *args: Any, **kwargs: Any) -> Response:
        if self.compact is False or (self.compact is None and self._app.debug):
            return super().response(*args, **kwargs)
        body = self._encoder.encode(self._prepare_response_obj(args, kwargs))
        return self._app.response_class(f"{body}\n", mimetype=self.mimetype)


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def read_json() -> Any:
    """The parsed body, or an ApiProblem: 400 missing/malformed, 413 too large, 415 not JSON."""
    data = request.get_data(cache=True)  # 413 raised here when Content-Length is over
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        # A chunked body is read up to the limit and silently cut there: a body that
        # reached the limit is treated as over it rather than parsed truncated.
        raise RequestEntityTooLarge()
    if not data.strip():
        raise ApiProblem(400, "The request has no body; send a JSON object.", slug="missing-body")
    if not _is_json(request.mimetype):
        sent = request.content_type or "no Content-Type"
        raise ApiProblem(415, f"Send application/json, not {sent}.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiProblem(400, f"The body is not UTF-8 (byte {exc.start}).") from None
    # Only a \\uXXXX escape can make a lone surrogate (the bytes were valid UTF-8); the
    # parse of the body checks the strings only then (``unicode_problem``).
    g.crmc_escaped_surrogate = "\\ud" in text or "\\uD" in text
    try:
        return decode(text)
    except JsonRefused as exc:
        located = None if exc.pointer is None else [FieldError(exc.pointer, exc.message)]
        raise ApiProblem(400, exc.message, errors=located) from None
    except json.JSONDecodeError as exc:
        raise ApiProblem(
            400,
            f"Malformed JSON at line {exc.lineno}, column {exc.colno} (character {exc.pos}): "
            f"{exc.msg}.",
            line=exc.lineno,
            column=exc.colno,
            position=exc.pos,
        ) from None
    except ValueError as exc:
        # NaN/Infinity, integers over Python's digit limit
        raise ApiProblem(400, f"Unusable JSON: {str(exc)[:200]}.") from None


def unicode_problem(value: Any, prefix: str = "") -> ApiProblem | None:
    """422 for a string or member name that is a lone surrogate escape (``"\\ud800"``):
    valid JSON syntax, but not Unicode, so no decision on it could be logged or sent."""
    if not g.get("crmc_escaped_surrogate"):
        return None
    from engine.json_locate import bad_string_pointer

    pointer = bad_string_pointer(value)
    if pointer is None:
        return None
    at = prefix + ("" if pointer == "/" else pointer)
    return ApiProblem(
        422, "The request is not valid.",
        errors=[FieldError(at, "is not valid Unicode (a lone surrogate escape)")],
    )
