"""Reading a JSON request body: size limit, content type, syntax — each with its own status.

413 comes from werkzeug (``MAX_CONTENT_LENGTH``): it checks the Content-Length up front and,
for a chunked body without one, stops reading at the limit (gunicorn sets
``wsgi.input_terminated``, so werkzeug limits the stream instead of ignoring it) — and
``read_json`` turns a body cut at the limit into 413.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from flask import Flask, Response, g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge

from engine.errors import FieldError
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


def _no_constants(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON does not, and neither does a decision.
    raise ValueError(f"{name} is not valid JSON")


MAX_DEPTH = 32  # a request is ~5 levels deep (items/N/facts/group/field); 32 is generous


class JsonRefused(ValueError):
    """Valid JSON syntax the service will not take: a duplicated member name, or nesting
    deeper than ``MAX_DEPTH``; ``pointer`` is where in the document (RFC 6901)."""

    def __init__(self, message: str, pointer: str | None = None):
        super().__init__(message)
        self.message = message
        self.pointer = pointer


class _Duplicate(Exception):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Python's json keeps the last of duplicated names silently; a client who sent two
    # "facts" would be decided on one of them without knowing which. The C scanner builds
    # the pairs anyway: one dict() and a length comparison per object is all this costs.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Duplicate
    return obj


class _Marked(dict):  # type: ignore[type-arg]
    duplicate: str


def _marking_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = _Marked(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _value in pairs:
            if name in seen:
                obj.duplicate = name
                break
            seen.add(name)
    return obj


# One decoder (and C scanner) for every request: json.loads with an option builds both
# each time. The scanner runs under the GIL from start to end, so threads can share it.
_DECODER = json.JSONDecoder(parse_constant=_no_constants, object_pairs_hook=_unique_pairs)
# Only after a duplicate was found: parses again to say where (the hook sees objects
# innermost first, so it cannot know their pointer).
_LOCATOR = json.JSONDecoder(parse_constant=_no_constants, object_pairs_hook=_marking_pairs)


def _escape(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _walk(doc: Any, check_marks: bool) -> None:
    """Raise JsonRefused at the first container nested deeper than MAX_DEPTH (or, with
    ``check_marks``, at the first object holding a duplicated name). Iterative: the
    document may be nested deeper than Python's recursion limit allows to walk."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(doc, ())]
    while stack:
        value, path = stack.pop()
        if check_marks and isinstance(value, _Marked) and hasattr(value, "duplicate"):
            at = "".join("/" + _escape(p) for p in path)
            raise JsonRefused(
                f"Member name {value.duplicate!r} appears twice in the object at "
                f"{at or '/'}: send each name once.", at + "/" + _escape(value.duplicate),
            )
        if isinstance(value, dict):
            children: Any = value.items()
        elif isinstance(value, list):
            children = enumerate(value)
        else:
            continue
        if len(path) >= MAX_DEPTH:
            _too_deep(path)
        stack.extend((child, (*path, key)) for key, child in children)


def _too_deep(path: tuple[Any, ...]) -> NoReturn:
    shown = "".join("/" + _escape(p) for p in path[:8])
    raise JsonRefused(
        f"The JSON is nested too deeply at {shown}/…: at most {MAX_DEPTH} levels "
        "of objects and arrays.",
        "".join("/" + _escape(p) for p in path) or None,
    )


def _deep_path(text: str) -> tuple[Any, ...] | None:
    """The path to the first container at depth MAX_DEPTH, read from the text itself (only
    for a document too deep to parse: a character loop in Python, but on the error path)."""
    path: list[Any] = []
    kinds: list[str] = []
    expect_key = False
    i, end = 0, len(text)
    while i < end:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < end and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if expect_key:
                try:
                    path[-1] = json.loads(text[i:j + 1])
                except ValueError:
                    return None
                expect_key = False
            i = j
        elif ch in "[{":
            if len(path) >= MAX_DEPTH:
                return tuple(path)
            kinds.append(ch)
            path.append(0 if ch == "[" else "")
            expect_key = ch == "{"
        elif ch in "]}":
            if not kinds:
                return None
            kinds.pop()
            path.pop()
        elif ch == ",":
            if kinds and kinds[-1] == "[":
                path[-1] += 1
            else:
                expect_key = True
        i += 1
    return None


def decode(text: str) -> Any:
    """The JSON value of ``text``: raises ``json.JSONDecodeError`` (syntax), ``JsonRefused``
    (duplicated name, too deep, with a pointer) or ``ValueError`` (NaN, huge integers)."""
    try:
        try:
            doc = _DECODER.decode(text)
        except _Duplicate:
            _walk(_LOCATOR.decode(text), check_marks=True)
            raise JsonRefused("A member name appears twice in an object.") from None
    except RecursionError:
        # Deeper than the parser's own limit: find the place in the text instead.
        _too_deep(_deep_path(text) or ())
    # A cheap bound first: a document with fewer brackets than MAX_DEPTH cannot be deeper.
    if text.count("[") + text.count("{") > MAX_DEPTH and _deeper_than_max(doc):
        _walk(doc, check_marks=False)  # finds where, and raises
    return doc


def _deeper_than_max(doc: Any) -> bool:
    """Level by level, containers only, no paths: ~2 ms for a batch of 1000 facts."""
    level = [doc] if isinstance(doc, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return True
        below: list[Any] = []
        add = below.append
        for container in level:
            for child in container.values() if type(container) is dict else container:
                kind = type(child)
                if kind is dict or kind is list:
                    add(child)
        level = below
    return False


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
