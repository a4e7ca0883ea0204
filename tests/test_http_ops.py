"""Health, readiness, metrics, the OpenAPI document, policies and reload (test client)."""

from __future__ import annotations

import pytest
from http_support import (
    BROKEN,
    SEED,
    add_keys,
    assert_problem,
    bearer,
    copy_policies,
    draft_of,
    make_app,
)


@pytest.fixture
def served(tmp_path):
    policies = copy_policies(tmp_path / "policies")
    app = make_app(tmp_path / "state", policies)
    return app, app.test_client(), add_keys(app.extensions["crmc"].settings.keys_file), policies


def test_healthz_and_readyz(served):
    _, client, _, _ = served
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz").json
    assert ready["status"] == "ready" and ready["generation"] == 1 and ready["policies"] >= 5


def test_metrics_count_requests_decisions_and_loaded_versions(served):
    _, client, keys, _ = served
    client.post("/v1/decisions", json={"facts": SEED}, headers=bearer(keys["decide"]))
    client.post("/v1/decisions", json={"facts": 1}, headers=bearer(keys["decide"]))
    text = client.get("/metrics").get_data(as_text=True)
    assert 'crmc_decisions_total{segment="high_net_worth"} 1.0' in text
    assert ('crmc_http_requests_total{endpoint="/v1/decisions",method="POST",status="422"} 1.0'
            in text)
    assert "crmc_http_request_duration_seconds_bucket" in text
    assert "crmc_engine_evaluation_seconds_count" in text
    assert 'crmc_policy_version_loaded{policy_id="classification"' in text
    assert "crmc_policy_generation 1.0" in text


def test_openapi_describes_every_route_with_its_errors(served):
    app, client, _, _ = served
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    routes = {
        (r.rule.replace("<", "{").replace(">", "}"), m.lower())
        for r in app.url_map.iter_rules() if r.endpoint != "static"
        for m in r.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert documented == routes
    decide = spec["paths"]["/v1/decisions"]["post"]
    assert {"400", "401", "403", "404", "413", "415", "422", "503"} <= decide["responses"].keys()
    assert decide["security"] == [{"bearerAuth": []}]
    schemas = spec["components"]["schemas"]
    assert {"Problem", "Decision", "DecisionRequest", "Facts"} <= schemas.keys()
    assert "security" not in spec["paths"]["/healthz"]["get"]


def test_policies_list_detail_diff_and_404(served):
    _, client, keys, _ = served
    h = bearer(keys["decide"])
    listed = client.get("/v1/policies", headers=h).json
    by_id = {p["id"]: p for p in listed["policies"]}
    versions = by_id["classification"]["versions"]
    assert [v["version"] for v in versions] == ["1.0.0", "1.1.0"]
    assert all(len(v["sha256"]) == 64 and v["effective_from"] for v in versions)
    detail = client.get("/v1/policies/classification/1.1.0", headers=h).json
    assert detail["content"]["rules"] and detail["owner"] and detail["status"] == "active"
    assert_problem(client.get("/v1/policies/classification/9.0.0", headers=h), 404)
    assert_problem(client.get("/v1/policies/nope/1.0.0", headers=h), 404)
    diff = client.get("/v1/policies/classification/diff?from=1.0.0&to=1.1.0", headers=h)
    assert diff.status_code == 200 and diff.json
    assert_problem(client.get("/v1/policies/classification/diff?from=1.0.0", headers=h), 422,
                   paths=["?to"])
    assert_problem(client.get("/v1/policies/nope/diff?from=1.0.0&to=1.1.0", headers=h), 404)


def test_a_good_reload_serves_the_new_set(served):
    _, client, keys, policies = served
    h = bearer(keys["admin"])
    assert_problem(client.get("/v1/policies/classification/1.2.0", headers=h), 404)
    draft_of(policies)
    resp = client.post("/v1/admin/reload", headers=h)
    assert resp.status_code == 200, resp.json
    assert resp.json["generation"] == 2
    assert {"id": "classification", "version": "1.2.0"}.items() <= {
        **next(p for p in resp.json["policies"] if p["version"] == "1.2.0")}.items()
    assert client.get("/v1/policies/classification/1.2.0", headers=h).status_code == 200


def test_a_broken_reload_is_422_and_the_old_set_keeps_serving(served):
    _, client, keys, policies = served
    (policies / "classification" / "1.2.0.yaml").write_text(BROKEN)
    resp = client.post("/v1/admin/reload", headers=bearer(keys["admin"]))
    body = assert_problem(resp, 422)
    assert body["errors"] and all("1.2.0.yaml" in e["path"] for e in body["errors"])
    assert all(str(policies) in e["file"] for e in body["errors"])  # not the snapshot copy
    decided = client.post("/v1/decisions", json={"facts": SEED}, headers=bearer(keys["decide"]))
    assert decided.status_code == 200
    assert client.get("/readyz").json["generation"] == 1


def test_a_reload_reaches_every_app_sharing_the_run_directory(tmp_path):
    """Two apps on one run directory stand for two gunicorn workers (the end-to-end test
    does it with real ones)."""
    policies = copy_policies(tmp_path / "policies")
    run_dir = tmp_path / "run"
    first = make_app(tmp_path / "state", policies, run_dir=run_dir)
    second = make_app(tmp_path / "state", policies, run_dir=run_dir)
    keys = add_keys(first.extensions["crmc"].settings.keys_file)
    c1, c2 = first.test_client(), second.test_client()
    assert c2.get("/readyz").json["generation"] == 1  # started from the published snapshot

    (policies / "classification" / "1.2.0.yaml").write_text(BROKEN)
    assert_problem(c1.post("/v1/admin/reload", headers=bearer(keys["admin"])), 422)
    assert c2.get("/v1/policies", headers=bearer(keys["audit"])).json["generation"] == 1

    draft_of(policies)
    assert c1.post("/v1/admin/reload", headers=bearer(keys["admin"])).status_code == 200
    listed = c2.get("/v1/policies", headers=bearer(keys["audit"])).json
    assert listed["generation"] == 2
    pinned = {"facts": SEED, "pin": {"classification": "1.2.0"}}
    assert c2.post("/v1/decisions", json=pinned, headers=bearer(keys["decide"])).status_code == 200

    # a worker forked later starts from the accepted snapshot, not from the directory
    (policies / "classification" / "1.3.0.yaml").write_text(BROKEN)
    third = make_app(tmp_path / "state", policies, run_dir=run_dir)
    assert third.test_client().get("/readyz").json["generation"] == 2


def test_unknown_routes_and_methods_are_problems(served):
    _, client, _, _ = served
    assert_problem(client.get("/v2/nothing"), 404)
    resp = client.get("/v1/decisions")
    assert_problem(resp, 405)
    assert "POST" in resp.headers["Allow"]
