"""Web pages: sign-in and sign-out, the session cookie, CSRF, role boundaries (issue 7)."""

from __future__ import annotations

import os
import stat

import pytest
from http_support import SEED, bearer, make_app
from web_support import csrf_of, decide, new_app, page_token, sign_in

from engine.keys import KeyStore


@pytest.fixture
def web(tmp_path):
    app, keys = new_app(tmp_path)
    return app, keys


def test_root_redirects_to_the_pages_and_pages_to_sign_in(web):
    app, _ = web
    client = app.test_client()
    assert client.get("/").headers["Location"].endswith("/ui/")
    resp = client.get("/ui/decisions?client_id=X")
    assert resp.status_code == 302
    assert "/ui/sign-in?next=/ui/decisions?client_id%3DX" in resp.headers["Location"]


def test_sign_in_sets_a_strict_httponly_cookie_scoped_to_the_pages(web):
    app, keys = web
    client = app.test_client()
    token = csrf_of(client.get("/ui/sign-in").get_data(as_text=True))
    resp = client.post("/ui/sign-in", data={"csrf_token": token, "api_key": keys["audit"],
                                            "next": "/ui/decisions"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/ui/decisions"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    assert keys["audit"] not in cookie  # the key itself is never stored
    assert "Signed in as" in client.get("/ui/decisions").get_data(as_text=True)


def test_cookie_is_secure_over_tls_and_with_the_flag(tmp_path, monkeypatch):
    app, keys = new_app(tmp_path / "a")
    client = app.test_client()
    tls = "https://localhost"
    token = csrf_of(client.get("/ui/sign-in", base_url=tls).get_data(as_text=True))
    resp = client.post("/ui/sign-in", base_url=tls,
                       data={"csrf_token": token, "api_key": keys["decide"]})
    assert "Secure" in resp.headers["Set-Cookie"]

    monkeypatch.setenv("CRMC_WEB_SECURE_COOKIE", "1")
    app, _ = new_app(tmp_path / "b")
    resp = app.test_client().get("/ui/sign-in")
    assert "Secure" in resp.headers["Set-Cookie"]


def test_wrong_key_is_refused_and_signs_nobody_in(web):
    app, _ = web
    client = app.test_client()
    token = csrf_of(client.get("/ui/sign-in").get_data(as_text=True))
    resp = client.post("/ui/sign-in", data={"csrf_token": token, "api_key": "crmc_nope"})
    assert resp.status_code == 401
    assert "not valid" in resp.get_data(as_text=True)
    assert client.get("/ui/policies").status_code == 302


def test_sign_out_ends_the_session(web):
    app, keys = web
    client = app.test_client()
    token = sign_in(client, keys["audit"])
    resp = client.post("/ui/sign-out", data={"csrf_token": token})
    assert resp.status_code == 302 and "signed_out=1" in resp.headers["Location"]
    assert client.get("/ui/policies").status_code == 302


def test_a_revoked_key_is_signed_out_at_once(web):
    app, keys = web
    client = app.test_client()
    sign_in(client, keys["audit"])
    assert client.get("/ui/decisions").status_code == 200
    KeyStore(app.extensions["crmc"].settings.keys_file).revoke("test-audit")
    assert client.get("/ui/decisions").status_code == 302


@pytest.mark.parametrize("token", [None, "", "wrong-token", "é"])
def test_posts_without_the_right_csrf_token_are_refused_and_do_nothing(web, token):
    app, keys = web
    client = app.test_client()
    client.get("/ui/sign-in")  # a session with a token exists
    data = {"api_key": keys["audit"]}
    if token is not None:
        data["csrf_token"] = token
    assert client.post("/ui/sign-in", data=data).status_code == 400
    assert client.get("/ui/policies").status_code == 302  # not signed in

    real = sign_in(client, keys["audit"])
    bad = {} if token is None else {"csrf_token": token}
    assert client.post("/ui/sign-out", data=bad).status_code == 400
    assert client.get("/ui/policies").status_code == 200  # still signed in
    resp = client.post("/ui/try", data={**bad, "facts": '{"client_id": "X"}'})
    assert resp.status_code == 400 and "Decision (not logged)" not in resp.get_data(as_text=True)
    assert client.post("/ui/sign-out", data={"csrf_token": real}).status_code == 302


def test_the_token_of_another_session_does_not_work(web):
    app, keys = web
    first, second = app.test_client(), app.test_client()
    theirs = sign_in(first, keys["audit"])
    sign_in(second, keys["audit"])
    assert second.post("/ui/sign-out", data={"csrf_token": theirs}).status_code == 400


def test_sign_in_never_redirects_off_site(web):
    app, keys = web
    for target in ("https://evil.example/", "//evil.example/x", "/v1/policies", "/\\evil"):
        client = app.test_client()
        token = csrf_of(client.get("/ui/sign-in").get_data(as_text=True))
        resp = client.post("/ui/sign-in", data={"csrf_token": token, "api_key": keys["audit"],
                                                "next": target})
        assert resp.headers["Location"] == "/ui/", target


@pytest.mark.parametrize(
    ("role", "decisions", "policies", "try_it"),
    [("audit", 200, 200, 200), ("decide", 403, 200, 200), ("admin", 403, 200, 200)],
)
def test_role_boundaries(web, role, decisions, policies, try_it):
    app, keys = web
    record = decide(app.test_client(), keys, SEED)
    client = app.test_client()
    sign_in(client, keys[role])
    assert client.get("/ui/decisions").status_code == decisions
    resp = client.get(f"/ui/decisions/{record['decision_id']}")
    assert resp.status_code == decisions
    if decisions == 403:
        assert "MFG-0042" not in resp.get_data(as_text=True)
        assert "this page needs &#39;audit&#39;" in resp.get_data(as_text=True)
    assert client.get("/ui/policies").status_code == policies
    assert client.get("/ui/policies/classification/1.1.0").status_code == policies
    assert client.get("/ui/try").status_code == try_it


def test_the_page_session_does_not_authenticate_the_api(web):
    app, keys = web
    client = app.test_client()
    sign_in(client, keys["audit"])
    assert client.get("/v1/audit/verify").status_code == 401
    assert client.get("/v1/audit/verify", headers=bearer(keys["audit"])).status_code == 200
    paths = client.get("/openapi.json").json["paths"]
    assert not [p for p in paths if p.startswith("/ui") or p == "/"]


def test_the_session_secret_persists_across_apps_and_is_private(tmp_path):
    app, keys = new_app(tmp_path)
    client = app.test_client()
    sign_in(client, keys["audit"])
    again = make_app(tmp_path / "state")  # a second worker, or a restart, on the same state
    cookie = client.get_cookie("crmc_ui", path="/ui")
    other = again.test_client()
    other.set_cookie("crmc_ui", cookie.value, path="/ui")
    assert other.get("/ui/decisions").status_code == 200
    secret = app.extensions["crmc"].settings.audit_key_file.parent / "web-session.key"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600


def test_pages_send_a_strict_content_security_policy(web):
    app, keys = web
    client = app.test_client()
    sign_in(client, keys["decide"])
    resp = client.get("/ui/policies")
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert "script-src" not in resp.headers["Content-Security-Policy"]  # no script at all
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert page_token(client)
