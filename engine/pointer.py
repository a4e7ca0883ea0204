"""JSON pointers (RFC 6901): the one place that escapes and unescapes their tokens.

Every error about a facts document names its place with a pointer (``/financials/dscr``),
and the audit mask names what to hide with one; a token containing ``~`` or ``/`` must be
escaped (``~0`` and ``~1``) or the pointer names another place. ``~1`` is decoded before
``~0``, as the RFC says, so ``~01`` is the token ``~1`` and not ``/``.

``to_pointer(())`` is ``""``: the whole document, per the RFC. Facts errors about the
whole document use ``"/"`` instead (a convention of the error lists, see ``engine.facts``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["escape", "parse_pointer", "to_pointer", "unescape"]


def escape(token: Any) -> str:
    """One reference token, escaped (``a/b`` -> ``a~1b``); list indexes are numbers."""
    return str(token).replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def to_pointer(parts: Iterable[Any]) -> str:
    """The pointer of a path given as member names and list indexes."""
    return "".join("/" + escape(p) for p in parts)


def parse_pointer(text: str) -> tuple[str, ...]:
    """The reference tokens of a pointer (``""`` -> ``()``, ``"/"`` -> ``("",)``).

    Raises ValueError for text that is not a pointer (it must be empty or start with "/").
    Tokens stay strings: whether ``0`` is a list index or a member name depends on the
    document it is applied to.
    """
    if not text:
        return ()
    if not text.startswith("/"):
        raise ValueError(f"{text!r} is not a JSON pointer (must start with '/')")
    return tuple(unescape(t) for t in text[1:].split("/"))
