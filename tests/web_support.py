"""Helpers for the web page tests: an app on temporary state, signed-in test clients."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from http_support import add_keys, bearer, make_app

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = TOKEN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def new_app(tmp_path: Path, **kwargs: Any) -> tuple[Flask, dict[str, str]]:
    state = tmp_path / "state"
    app = make_app(state, **kwargs)
    return app, add_keys(state / "keys.json")


def sign_in(client: FlaskClient, key: str) -> str:
    """Sign ``client`` in with ``key``; returns the session's CSRF token."""
    token = csrf_of(client.get("/ui/sign-in").get_data(as_text=True))
    resp = client.post("/ui/sign-in", data={"csrf_token": token, "api_key": key})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return page_token(client)


def page_token(client: FlaskClient) -> str:
    return csrf_of(client.get("/ui/try").get_data(as_text=True))


def decide(client: FlaskClient, keys: dict[str, str], facts: dict[str, Any],
           **options: Any) -> dict[str, Any]:
    """A logged decision made through the API."""
    resp = client.post("/v1/decisions", json={"facts": facts, **options},
                       headers=bearer(keys["decide"]))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json


def log_count(app: Flask) -> int:
    return app.extensions["crmc"].decision_log().count()
