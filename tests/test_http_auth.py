"""Keys, roles and the 401/403 boundary of every /v1 endpoint; keys stay out of logs."""

from __future__ import annotations

import json
import logging
import os
import stat

import pytest
from click.testing import CliRunner
from http_support import SEED, add_keys, assert_problem, bearer, make_app

from engine.cli import main
from engine.keys import KeyStore, KeyStoreError, hash_key

# endpoint -> the roles that may use it (contract §4)
ENDPOINTS = [
    ("POST", "/v1/decisions", {"facts": SEED}, {"decide"}),
    ("POST", "/v1/decisions/batch", {"items": [{"facts": SEED}]}, {"decide"}),
    ("GET", "/v1/decisions/abc", None, {"audit"}),
    ("GET", "/v1/audit/verify", None, {"audit"}),
    ("GET", "/v1/policies", None, {"decide", "audit", "admin"}),
    ("GET", "/v1/policies/classification/1.1.0", None, {"decide", "audit", "admin"}),
    ("GET", "/v1/policies/classification/diff?from=1.0.0&to=1.1.0", None,
     {"decide", "audit", "admin"}),
    ("POST", "/v1/admin/reload", None, {"admin"}),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("auth"))
    return app.test_client(), add_keys(app.extensions["crmc"].settings.keys_file)


def call(client, method, path, body, headers):
    return client.open(path, method=method, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "roles"), ENDPOINTS)
def test_every_v1_endpoint_needs_a_key(served, method, path, body, roles):
    client, _ = served
    for headers in ({}, bearer("crmc_not-a-key"), {"Authorization": "Basic dXNlcjpwdw=="},
                    {"Authorization": "Bearer"}, {"Authorization": "Bearer "}):
        resp = call(client, method, path, body, headers)
        assert_problem(resp, 401)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body", "roles"), ENDPOINTS)
def test_roles_are_403_outside_and_allowed_inside(served, method, path, body, roles):
    client, keys = served
    for role, key in keys.items():
        resp = call(client, method, path, body, bearer(key))
        if role in roles:
            assert resp.status_code in (200, 404), (role, resp.json)  # 404: unknown id
        else:
            assert_problem(resp, 403, detail=repr(role))


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
def test_ops_endpoints_are_open(served, path):
    assert served[0].get(path).status_code == 200


def test_a_revoked_key_is_refused_at_once(tmp_path):
    app = make_app(tmp_path)
    keys = add_keys(app.extensions["crmc"].settings.keys_file)
    client = app.test_client()
    assert client.get("/v1/policies", headers=bearer(keys["audit"])).status_code == 200
    KeyStore(app.extensions["crmc"].settings.keys_file).revoke("test-audit")
    assert_problem(client.get("/v1/policies", headers=bearer(keys["audit"])), 401)


def test_keys_and_facts_never_reach_the_logs(tmp_path, caplog):
    app = make_app(tmp_path)
    keys = add_keys(app.extensions["crmc"].settings.keys_file)
    client = app.test_client()
    app.add_url_rule("/boom", "boom", lambda: 1 / 0)
    with caplog.at_level(logging.DEBUG):
        client.post("/v1/decisions", json={"facts": SEED}, headers=bearer(keys["decide"]))
        client.post("/v1/decisions", json={"facts": {**SEED, "x": 1}},
                    headers=bearer(keys["decide"]))
        client.get("/v1/policies", headers=bearer("crmc_wrong-key-value"))
        client.get("/boom", headers=bearer(keys["admin"]))
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    for secret in [*keys.values(), "crmc_wrong-key-value", SEED["client_id"],
                   SEED["profile"]["name"]]:
        assert secret not in text


def test_an_unexpected_error_is_500_with_a_correlation_id_and_no_internals(tmp_path, caplog):
    app = make_app(tmp_path)

    def boom():
        raise RuntimeError("internal detail: /secret/path")

    app.add_url_rule("/boom", "boom", boom)
    with caplog.at_level(logging.ERROR, logger="crmc.server"):
        resp = app.test_client().get("/boom")
    body = assert_problem(resp, 500)
    assert "secret" not in json.dumps(body)
    cid = body["correlation_id"]
    assert cid in body["detail"] and resp.headers["X-Correlation-Id"] == cid
    assert any(cid in r.getMessage() and r.exc_info for r in caplog.records)


# --- the keys file and crmc keys ------------------------------------------------------------


def test_the_store_keeps_only_hashes_in_a_private_file(tmp_path):
    store = KeyStore(tmp_path / "var" / "keys.json")
    key, entry = store.add("decide", "svc")
    text = store.path.read_text()
    assert key not in text and hash_key(key) in text
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert json.loads(text)["keys"][0].keys() == {"name", "role", "hash", "created_at"}
    assert store.authenticate(key) == entry
    assert store.authenticate(key + "x") is None
    with pytest.raises(KeyStoreError):
        store.add("decide", "svc")
    with pytest.raises(KeyStoreError):
        store.add("root")
    with pytest.raises(KeyStoreError):
        store.revoke("nobody")


def test_crmc_keys_add_prints_the_key_alone_on_stdout(tmp_path):
    runner = CliRunner()
    env = {"CRMC_KEYS_FILE": str(tmp_path / "keys.json")}
    added = runner.invoke(main, ["keys", "add", "--role", "decide", "--name", "svc"], env=env)
    assert added.exit_code == 0, added.output
    key = added.stdout.strip()
    assert added.stdout == key + "\n" and key.startswith("crmc_") and len(key) > 40
    assert "svc" in added.stderr
    listed = runner.invoke(main, ["keys", "list", "--format", "json"], env=env)
    assert json.loads(listed.stdout) == [
        {"name": "svc", "role": "decide", "created_at": json.loads(listed.stdout)[0]["created_at"]}
    ]
    assert key not in listed.stdout
    assert runner.invoke(main, ["keys", "revoke", "svc"], env=env).exit_code == 0
    assert runner.invoke(main, ["keys", "revoke", "svc"], env=env).exit_code == 1
    assert runner.invoke(main, ["keys", "add", "--role", "root"], env=env).exit_code == 2


def test_a_key_name_with_a_trailing_newline_is_refused(tmp_path):
    # was: NAME_PATTERN.match with "$" accepted "svc\n" (a "$" matches before a final newline)
    store = KeyStore(tmp_path / "var" / "keys.json")
    with pytest.raises(KeyStoreError, match="key name"):
        store.add("decide", "svc\n")
    assert list(store.entries()) == []
