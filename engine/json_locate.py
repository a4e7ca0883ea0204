"""Where a JSON pointer sits in a JSON text: the line and column of a facts error.

``crmc`` reports problems in files as ``path:line:col: code: message`` (contract §3). The
facts check names each problem by JSON pointer (``/financials/dscr``); this module finds
the pointer's value in the text the document was parsed from. A pointer that is not in the
text (a required field that is missing) is placed at its nearest enclosing value, so the
reader lands on the object that lacks it.

The scanner only runs on text that ``json.loads`` accepted (and only when there is an
error to place), so it trusts the syntax; it is iterative, so nesting depth cannot
overflow the stack. Duplicate keys resolve like ``json.loads``: the last one wins.
"""

from __future__ import annotations

import json

from engine.pointer import escape

__all__ = ["bad_string_pointer", "line_col", "locate", "pointer_offsets"]

_WS = " \t\r\n"
_SCALAR_END = ",]}" + _WS


def _string_end(text: str, i: int) -> int:
    """Index just past the string whose opening quote is at ``i``."""
    i += 1
    while True:
        c = text[i]
        if c == "\\":
            i += 2
        elif c == '"':
            return i + 1
        else:
            i += 1


def pointer_offsets(text: str) -> dict[str, int]:
    """Offset of every value in ``text`` by its JSON pointer (``""`` is the root)."""
    offsets: dict[str, int] = {}
    # stack of [pointer of the container, kind "{" or "[", next array index]
    stack: list[list] = []
    pending_key: str | None = None  # the member name whose value comes next
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _WS or c in ",:":
            i += 1
            continue
        if c in "]}":
            stack.pop()
            i += 1
            continue
        if stack and stack[-1][1] == "{" and pending_key is None:
            end = _string_end(text, i)  # a member name
            pending_key = json.loads(text[i:end])
            i = end
            continue
        if not stack:
            pointer = ""
        elif stack[-1][1] == "{":
            pointer = f"{stack[-1][0]}/{escape(pending_key or '')}"
            pending_key = None
        else:
            pointer = f"{stack[-1][0]}/{stack[-1][2]}"
            stack[-1][2] += 1
        offsets[pointer] = i
        if c in "{[":
            stack.append([pointer, c, 0])
            i += 1
        elif c == '"':
            i = _string_end(text, i)
        else:
            while i < n and text[i] not in _SCALAR_END:
                i += 1
    return offsets


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def locate(text: str, pointer: str, offsets: dict[str, int] | None = None) -> tuple[int, int]:
    """Line and column of ``pointer``'s value, else of its nearest enclosing value."""
    offsets = pointer_offsets(text) if offsets is None else offsets
    probe = "" if pointer == "/" else pointer
    while probe not in offsets and probe:
        probe = probe.rpartition("/")[0]
    return line_col(text, offsets.get(probe, 0))


def bad_string_pointer(value: object) -> str | None:
    """Pointer of the first string (or member name) that is not valid Unicode.

    JSON's ``\\ud800`` escape decodes to a lone surrogate, which cannot be written as
    UTF-8: such a document is refused up front rather than failing later on output.
    Iterative, like the scanner: any depth ``json.loads`` accepted is fine here.
    """
    todo: list[tuple[str, object]] = [("", value)]
    while todo:
        pointer, item = todo.pop()
        if isinstance(item, str):
            if not _encodable(item):
                return pointer or "/"
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                here = f"{pointer}/{escape(key)}"
                if not _encodable(key):
                    return here
                children.append((here, child))
            todo.extend(reversed(children))
        elif isinstance(item, list):
            todo.extend(reversed([(f"{pointer}/{i}", c) for i, c in enumerate(item)]))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
