"""Strict JSON decoding, the same for every transport (HTTP bodies, ``crmc decide`` files).

Python's ``json`` accepts what a decision must not silently take:

- a duplicated member name (``{"client_id": "A", "client_id": "B"}``): the last one wins,
  so a client who sent two ``facts`` would be decided on one of them without knowing which;
- nesting as deep as the parser's recursion allows (and a ``RecursionError`` past it);
- ``NaN`` and ``Infinity``, which are not JSON.

``decode`` refuses the first two with :class:`JsonRefused` (message and RFC 6901 pointer to
where it is) and, unless told otherwise, the constants with a ``ValueError``.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from engine.pointer import escape, to_pointer

__all__ = ["MAX_DEPTH", "JsonRefused", "decode"]

MAX_DEPTH = 32  # a request is ~5 levels deep (items/N/facts/group/field); 32 is generous


def _no_constants(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON does not, and neither does a decision.
    raise ValueError(f"{name} is not valid JSON")


class JsonRefused(ValueError):
    """Valid JSON syntax that is refused: a duplicated member name, or nesting deeper than
    ``MAX_DEPTH``; ``pointer`` is where in the document (RFC 6901), None if not known."""

    def __init__(self, message: str, pointer: str | None = None):
        super().__init__(message)
        self.message = message
        self.pointer = pointer


class _Duplicate(Exception):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # The C scanner builds the pairs anyway: one dict() and a length comparison per object
    # is all the check costs.
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


def _decoders(constants: bool) -> tuple[json.JSONDecoder, json.JSONDecoder]:
    extra: dict[str, Any] = {} if constants else {"parse_constant": _no_constants}
    return (
        json.JSONDecoder(object_pairs_hook=_unique_pairs, **extra),
        # Only after a duplicate was found: parses again to say where (the hook sees
        # objects innermost first, so it cannot know their pointer).
        json.JSONDecoder(object_pairs_hook=_marking_pairs, **extra),
    )


# One decoder (and C scanner) per mode for every document: json.loads with an option
# builds both each time. The scanner runs under the GIL from start to end, so threads can
# share it.
_STRICT = _decoders(constants=False)
_WITH_CONSTANTS = _decoders(constants=True)


def _walk(doc: Any, check_marks: bool) -> None:
    """Raise JsonRefused at the first container nested deeper than MAX_DEPTH (or, with
    ``check_marks``, at the first object holding a duplicated name). Iterative: the
    document may be nested deeper than Python's recursion limit allows to walk."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(doc, ())]
    while stack:
        value, path = stack.pop()
        if check_marks and isinstance(value, _Marked) and hasattr(value, "duplicate"):
            at = to_pointer(path)
            raise JsonRefused(
                f"Member name {value.duplicate!r} appears twice in the object at "
                f"{at or '/'}: send each name once.", at + "/" + escape(value.duplicate),
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
    raise JsonRefused(
        f"The JSON is nested too deeply at {to_pointer(path[:8])}/…: at most {MAX_DEPTH} "
        "levels of objects and arrays.",
        to_pointer(path) or None,
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


def decode(text: str, *, constants: bool = False) -> Any:
    """The JSON value of ``text``: raises ``json.JSONDecodeError`` (syntax), ``JsonRefused``
    (duplicated name, too deep, with a pointer) or ``ValueError`` (NaN/Infinity unless
    ``constants``, integers over Python's digit limit)."""
    decoder, locator = _WITH_CONSTANTS if constants else _STRICT
    try:
        try:
            doc = decoder.decode(text)
        except _Duplicate:
            _walk(locator.decode(text), check_marks=True)
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
