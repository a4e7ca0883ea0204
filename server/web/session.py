"""Sign-in with an API key, the session cookie, CSRF tokens and role checks for the pages.

- The session is Flask's signed cookie, scoped to ``/ui``: HttpOnly, SameSite=Strict,
  Secure when the request came over TLS (or always, with ``CRMC_WEB_SECURE_COOKIE=1``
  behind a TLS-terminating proxy). It holds the key's *hash* (never the key), its name and
  role, and the CSRF token; every request looks the hash up in the keys file again, so a
  revoked key signs its sessions out at once.
- The signing secret is a random key in a file next to the audit key
  (``web-session.key``, mode 0600, created on first start): every worker and every restart
  read the same one. Deleting the file signs everybody out.
- CSRF: one random token per session, in a hidden field of every POST form, compared with
  ``hmac.compare_digest``; a POST without the right token is refused (400) before its view
  runs. Read-only GET forms (search, diff) carry no token: it would leak into URLs and logs.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface

from engine.chain import load_or_create_key
from engine.config import Settings
from engine.keys import ROLES, ApiKey
from server.auth import readable_keys

__all__ = ["bp", "csrf_token", "home", "init_app", "signed_in"]

bp = Blueprint("session", __name__)
F = TypeVar("F", bound=Callable[..., Any])
SECRET_FILE = "web-session.key"
SECURE_ENV = "CRMC_WEB_SECURE_COOKIE"
LIFETIME = dt.timedelta(hours=8)


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed cookie, Secure whenever the request itself came over TLS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def init_app(ui: Flask, settings: Settings, *, secure_cookie: bool | None = None) -> None:
    secret_file = settings.audit_key_file.parent / SECRET_FILE
    ui.secret_key = load_or_create_key(None, secret_file, create=True)
    if secure_cookie is None:
        secure_cookie = os.environ.get(SECURE_ENV, "") in ("1", "true", "yes")
    ui.config.update(
        SESSION_COOKIE_NAME="crmc_ui",
        SESSION_COOKIE_PATH="/ui",  # never sent to the API
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure_cookie,
        PERMANENT_SESSION_LIFETIME=LIFETIME,
    )
    ui.session_interface = _Sessions()
    ui.before_request(_check_csrf)
    ui.before_request(_load_user)
    ui.context_processor(lambda: {"csrf_token": csrf_token, "user": g.get("user")})


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not sent or not expected or not hmac.compare_digest(
        sent.encode("utf-8"), str(expected).encode("utf-8")
    ):
        abort(400, "The form was not sent by this site's page, or it has expired. "
                   "Reload the page and try again.")


def _load_user() -> None:
    """``g.user``: the signed-in key, if its hash is still in the keys file."""
    g.user = None
    key_hash = session.get("key")
    if not key_hash:
        return
    store = current_app.extensions["crmc"].keys
    with readable_keys(store):
        keys = store.entries()
    for key in keys:
        if hmac.compare_digest(key.hash, str(key_hash)):
            g.user = key
            return
    session.pop("key", None)  # revoked or replaced: sign the session out


def signed_in(*roles: str) -> Callable[[F], F]:
    """The page needs a signed-in key with one of ``roles`` (all roles when none given)."""
    allowed = roles or ROLES

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user: ApiKey | None = g.get("user")
            if user is None:
                here = request.script_root + request.full_path.rstrip("?")
                return redirect(url_for("session.sign_in", next=here))
            if user.role not in allowed:
                need = " or ".join(repr(r) for r in allowed)
                return render_template(
                    "web/error.html",
                    status=403,
                    title="Forbidden",
                    detail=f"Your key has the role {user.role!r}; this page needs {need}.",
                ), 403
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def home() -> Any:
    if g.get("user") is None:
        return redirect(url_for("session.sign_in"))
    return redirect(url_for("policies.index"))


def _safe_next(target: str | None) -> str:
    """Only a path inside the pages (no scheme, no host): never an open redirect."""
    if not target:
        return url_for("home")
    parts = urlsplit(target)
    root = request.script_root + "/"
    if parts.scheme or parts.netloc or not target.startswith(root) or "\\" in target:
        return url_for("home")
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    error = None
    status = 200
    if request.method == "POST":
        key = request.form.get("api_key", "").strip()
        store = current_app.extensions["crmc"].keys
        with readable_keys(store):
            found = store.authenticate(key) if key else None
        if found is None:
            error = "That API key is not valid." if key else "Enter your API key."
            status = 401
        else:
            # A fresh session (and CSRF token): nothing from before sign-in carries over.
            session.clear()
            session.permanent = True
            session["key"] = found.hash
            csrf_token()
            return redirect(_safe_next(request.form.get("next")))
    return render_template(
        "web/sign_in.html", error=error, next=request.values.get("next", "")
    ), status


@bp.post("/sign-out")
def sign_out() -> Any:
    session.clear()
    return redirect(url_for("session.sign_in", signed_out=1))
