"""Bearer-key authentication and role checks for the ``/v1`` endpoints.

401: no key, a malformed Authorization header, or a key the keys file does not know (the
answer does not say which). 403: a known key whose role may not use the endpoint. Roles are
disjoint on purpose: an admin key reloads policies but does not decide or read the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask import current_app, g, request

from engine.keys import ApiKey, KeyStore
from server.errors import ApiProblem

__all__ = ["ANY_ROLE", "current_key", "readable_keys", "require"]

log = logging.getLogger("crmc.server")

ANY_ROLE = ("decide", "audit", "admin")
F = TypeVar("F", bound=Callable[..., Any])
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="crmc"'}


def _unauthenticated(detail: str) -> ApiProblem:
    return ApiProblem(401, detail, headers=CHALLENGE)


_reported: dict[str, tuple[int, int, int] | None] = {}  # keys file -> state last logged


def _file_state(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@contextlib.contextmanager
def readable_keys(store: KeyStore) -> Iterator[None]:
    """Around a use of the keys file: a file that cannot be read or parsed (truncated,
    hand-edited, unreadable) is the service's fault, not the client's: 503 for every key
    until it is fixed, logged once per state of the file rather than on every request."""
    try:
        yield
    except ApiProblem:
        raise
    except Exception as exc:
        path = str(store.path)
        state = _file_state(store.path)
        if path not in _reported or _reported[path] != state:
            _reported[path] = state
            log.error("keys file %s is unreadable (%s: %s); every request is refused with 503",
                      path, type(exc).__name__, str(exc)[:200])
        raise ApiProblem(
            503, "The service's keys file is unreadable; no key can be checked.",
            slug="keys-unreadable", headers={"Retry-After": "30"},
        ) from None


def authenticate(store: KeyStore) -> ApiKey:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthenticated("Send an API key: 'Authorization: Bearer <key>'.")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthenticated("The Authorization header must be 'Bearer <key>'.")
    with readable_keys(store):
        key = store.authenticate(token.strip())
    if key is None:
        raise _unauthenticated("The API key is not valid.")
    return key


def require(*roles: str) -> Callable[[F], F]:
    """Decorator: the caller must present a key with one of ``roles``."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = authenticate(current_app.extensions["crmc"].keys)
            if key.role not in roles:
                raise ApiProblem(
                    403,
                    f"A {key.role!r} key may not use this endpoint; it needs "
                    f"{' or '.join(repr(r) for r in roles)}.",
                )
            g.api_key = key
            return view(*args, **kwargs)

        wrapper.required_roles = roles  # type: ignore[attr-defined]  # read by the OpenAPI builder
        return wrapper  # type: ignore[return-value]

    return decorate


def current_key() -> ApiKey:
    return g.api_key
