"""Privacy masking of the stored request (``CRMC_AUDIT_MASK``), applied before hashing.

Pointers are RFC 6901 JSON pointers into the facts document, e.g. ``/profile/name``; the
HTTP form ``/facts/profile/name`` is accepted too. A masked value is replaced by the
string ``"[masked]"``; the record lists every pointer that was present and masked, so an
auditor knows the stored facts are not the facts that were decided on.

The decision itself is stored in full except where it repeats a masked fact: values in
``warnings[].observed`` keyed by the masked fact's dotted path (``profile.name``), and the
``observed`` value of trace leaves reading that fact, are masked the same way, or masking
would be pointless. (SWOT indicator scores derived from a masked fact are kept.)
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MASK", "mask_entry", "parse_pointer"]

MASK = "[masked]"


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """Tokens of a JSON pointer into the facts (``/facts`` prefix dropped)."""
    if not pointer.startswith("/"):
        raise ValueError(
            f"CRMC_AUDIT_MASK: {pointer!r} is not a JSON pointer (must start with '/')"
        )
    tokens = tuple(t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/"))
    if tokens and tokens[0] == "facts" and len(tokens) > 1:
        tokens = tokens[1:]
    return tokens


def _mask_in(doc: Any, tokens: tuple[str, ...]) -> bool:
    """Mask ``tokens`` in ``doc`` in place; true if the value was there."""
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    last = tokens[-1]
    if isinstance(node, dict) and last in node:
        node[last] = MASK
        return True
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = MASK
        return True
    return False


def _hit(path: str, dotted: set[str]) -> bool:
    """``path`` is a masked fact or lies inside a masked group."""
    return any(path == d or path.startswith(d + ".") for d in dotted)


def _mask_dotted(node: Any, dotted: set[str]) -> None:
    """Mask values keyed by a masked fact's dotted path anywhere in the decision."""
    if isinstance(node, dict):
        for key, value in node.items():
            if _hit(key, dotted) and not isinstance(value, dict | list):
                node[key] = MASK
            else:
                _mask_dotted(value, dotted)
        # A trace leaf reads {"fact": "financials.dscr", "op": ..., "observed": 1.2}.
        fact = node.get("fact")
        if isinstance(fact, str) and _hit(fact, dotted):
            for key in ("observed", "value"):
                if key in node:
                    node[key] = MASK
    elif isinstance(node, list):
        for item in node:
            _mask_dotted(item, dotted)


def mask_entry(
    request: Mapping[str, Any], decision: Mapping[str, Any], pointers: Iterable[str]
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Masked copies of the request and decision, and the pointers actually masked."""
    pointers = list(pointers)
    if not pointers:  # nothing to change: no copy (the log already holds its own copies)
        return dict(request), dict(decision), []
    req = copy.deepcopy(dict(request))
    dec = copy.deepcopy(dict(decision))
    facts = req.get("facts")
    masked: list[str] = []
    dotted: set[str] = set()
    for pointer in pointers:
        tokens = parse_pointer(pointer)
        if tokens == ("client_id",):
            continue  # the record's key; masking it would make the log unsearchable
        if facts is not None and tokens and _mask_in(facts, tokens):
            masked.append("/" + "/".join(t.replace("~", "~0").replace("/", "~1") for t in tokens))
            dotted.add(".".join(tokens))
    if dotted:
        _mask_dotted(dec, dotted)
    return req, dec, sorted(masked)
