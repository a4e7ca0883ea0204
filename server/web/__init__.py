"""Server-rendered pages for auditors and analysts, under ``/ui`` (``/`` redirects there).

The pages are a small Flask app of their own, mounted in front of the API app's WSGI
callable rather than registered on it, because:

- the API's ``/openapi.json`` describes exactly the API app's URL map (a test holds it to
  that); HTML pages do not belong in the API document;
- the API answers every error as ``application/problem+json``; pages answer with HTML;
- the pages' session cookie is scoped to ``/ui`` and never reaches ``/v1``, which stays
  bearer-key only (so the cookie cannot be used to call the API, and the API needs no
  CSRF protection).

Both apps share one :class:`server.app.Services` (keys, policies, Decider, decision log).
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.utils import redirect
from werkzeug.wrappers import Request

from engine.errors import UnknownPolicyVersion
from engine.record import LogUnavailable
from server.errors import ApiProblem
from server.web import session as web_session

__all__ = ["MOUNT", "create_ui", "mount"]

MOUNT = "/ui"
SERVER_DIR = Path(__file__).resolve().parent.parent
log = logging.getLogger("crmc.web")

# Content-Security-Policy: no script at all, styles and images from this site only.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def create_ui(services: Any, *, secure_cookie: bool | None = None) -> Flask:
    """The pages app, sharing ``services`` with the API app."""
    ui = Flask(
        "server.web",
        root_path=str(SERVER_DIR),
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    ui.extensions["crmc"] = services
    ui.config["MAX_CONTENT_LENGTH"] = services.settings.max_body
    web_session.init_app(ui, services.settings, secure_cookie=secure_cookie)

    from server.web import decisions, diff, policies, tryit

    for module in (web_session, policies, diff, decisions, tryit):
        ui.register_blueprint(module.bp)
    ui.add_url_rule("/", "home", web_session.home)
    ui.after_request(_headers)
    ui.register_error_handler(HTTPException, _http_error)
    ui.register_error_handler(UnknownPolicyVersion, _not_found)
    ui.register_error_handler(LogUnavailable, _log_unavailable)
    ui.register_error_handler(ApiProblem, _problem)
    ui.register_error_handler(Exception, _unexpected)
    return ui


def mount(app: Flask) -> Flask:
    """Serve the pages at ``/ui`` in front of ``app`` and redirect ``/`` there."""
    ui = create_ui(app.extensions["crmc"])
    app.extensions["crmc_ui"] = ui
    app.wsgi_app = _RootRedirect(DispatcherMiddleware(app.wsgi_app, {MOUNT: ui}))  # type: ignore[method-assign]
    return ui


class _RootRedirect:
    """``GET /`` → ``/ui/``; everything else goes to the dispatcher."""

    def __init__(self, inner: Any):
        self.inner = inner

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "") in ("", "/") and environ.get("REQUEST_METHOD") in (
            "GET",
            "HEAD",
        ):
            root = Request(environ).root_path
            return redirect(f"{root}{MOUNT}/", 302)(environ, start_response)
        return self.inner(environ, start_response)


def _headers(response: Any) -> Any:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        # Pages show client data: keep them out of shared and back/forward caches.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _page(status: int, title: str, detail: str, correlation_id: str | None = None) -> Any:
    return (
        render_template(
            "web/error.html",
            status=status,
            title=title,
            detail=detail,
            correlation_id=correlation_id,
        ),
        status,
    )


def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    return _page(status, exc.name, exc.description or "")


def _not_found(exc: UnknownPolicyVersion) -> Any:
    return _page(404, "Not found", str(exc))


def _log_unavailable(exc: LogUnavailable) -> Any:
    return _page(503, "Decision log unavailable", "The decision log cannot be read just now.")


def _problem(exc: ApiProblem) -> Any:
    return _page(exc.status, exc.body["title"], exc.body["detail"])


def _unexpected(exc: Exception) -> Any:
    correlation_id = uuid.uuid4().hex
    log.error("unexpected error in a page correlation_id=%s", correlation_id, exc_info=exc)
    return _page(
        500, "Something went wrong", "An unexpected error occurred.", correlation_id
    )
