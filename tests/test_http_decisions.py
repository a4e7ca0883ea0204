"""POST /v1/decisions, the batch and GET /v1/decisions/{id} through the test client."""

from __future__ import annotations

import copy
import io
import json

import pytest
from http_support import DISTRESSED, SEED, add_keys, assert_problem, bearer, make_app


def post(client, keys, path, body, role="decide", **kwargs):
    return client.post(path, json=body, headers=bearer(keys[role]), **kwargs)


def test_seed_case_is_a_high_net_worth_decision_with_versions_and_hashes(client, keys):
    resp = post(client, keys, "/v1/decisions", {"facts": SEED})
    assert resp.status_code == 200, resp.json
    doc = resp.json
    assert doc["segment"]["value"] == "high_net_worth"
    assert doc["proposal"]["rate_type"] == "fixed"
    assert doc["decision_id"]
    assert {p["id"] for p in doc["policies"]} == {
        "classification", "swot", "risk", "proposal", "early_warning"
    }
    assert all(len(p["sha256"]) == 64 for p in doc["policies"])
    assert "trace" not in doc


def test_every_decision_is_in_the_log_before_the_answer(client, keys):
    doc = post(client, keys, "/v1/decisions", {"facts": SEED, "explain": True}).json
    assert doc["trace"]
    record = client.get(f"/v1/decisions/{doc['decision_id']}", headers=bearer(keys["audit"]))
    assert record.status_code == 200
    assert record.json["decision"]["decision_id"] == doc["decision_id"]
    assert record.json["requester"] == "test-decide"
    assert record.json["request"]["facts"] == SEED
    verify = client.get("/v1/audit/verify", headers=bearer(keys["audit"]))
    assert verify.status_code == 200 and verify.json["intact"] is True
    assert verify.json["records"] == 1


def test_unknown_decision_id_is_404(client, keys):
    resp = client.get("/v1/decisions/nope", headers=bearer(keys["audit"]))
    assert_problem(resp, 404)


def test_as_of_and_pin_choose_the_versions(client, keys):
    body = {"facts": SEED, "pin": {"classification": "1.0.0"}, "as_of": "2026-11-30"}
    doc = post(client, keys, "/v1/decisions", body).json
    versions = {p["id"]: p["version"] for p in doc["policies"]}
    assert versions["classification"] == "1.0.0"
    assert doc["as_of"] == "2026-11-30"


def test_pin_to_an_unknown_version_is_404(client, keys):
    resp = post(client, keys, "/v1/decisions", {"facts": SEED, "pin": {"classification": "9.9.9"}})
    assert_problem(resp, 404, detail="classification 9.9.9")


def test_facts_errors_are_422_with_pointers_under_facts(client, keys):
    facts = copy.deepcopy(SEED)
    facts["financials"]["dscr"] = "high"
    facts["financials"]["ebitda_margn"] = 0.1
    resp = post(client, keys, "/v1/decisions", {"facts": facts})
    body = assert_problem(resp, 422)
    paths = {e["path"] for e in body["errors"]}
    assert "/facts/financials/dscr" in paths
    assert any(p.startswith("/facts/financials") and p != "/facts/financials/dscr" for p in paths)


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({"facts": SEED, "colour": "red"}, ["/colour"]),
        ({"facts": SEED, "as_of": 20261130}, ["/as_of"]),
        ({"facts": SEED, "as_of": "30.11.2026"}, ["/as_of"]),
        ({"facts": SEED, "explain": "yes"}, ["/explain"]),
        ({"facts": SEED, "pin": {"classification": 1}}, ["/pin/classification"]),
        ({"facts": SEED, "pin": {"classification": "latest"}}, ["/pin/classification"]),
        ({"facts": SEED, "pin": ["classification"]}, ["/pin"]),
        ({"facts": [SEED]}, ["/facts"]),
        ({}, ["/facts"]),
        ([SEED], [""]),
        ("facts", [""]),
    ],
)
def test_request_field_errors_point_at_the_field(client, keys, body, paths):
    resp = post(client, keys, "/v1/decisions", body)
    body = assert_problem(resp, 422, paths=paths)
    if paths == ["/colour"]:
        assert "unknown field" in body["errors"][0]["message"]


def test_a_date_with_no_policy_in_force_is_422_at_as_of(client, keys):
    resp = post(client, keys, "/v1/decisions", {"facts": SEED, "as_of": "1999-01-01"})
    assert_problem(resp, 422, paths=["/as_of"])


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b'{"facts": {', "line 1, column 12"),
        (b'{"facts":\n  {"client_id": "A",}}', "line 2, column"),
        (b'{"facts": NaN}', "NaN"),
        (b"\xff\xfe{}", "UTF-8"),
        (b'{"a": ' + b"1" * 5000 + b"}", "Unusable JSON"),
        (b"[" * 100_000, ""),
    ],
)
def test_malformed_json_is_400_naming_the_position(client, keys, data, detail):
    resp = client.post("/v1/decisions", data=data, content_type="application/json",
                       headers=bearer(keys["decide"]))
    assert_problem(resp, 400, detail=detail)


def test_missing_body_is_400(client, keys):
    resp = client.post("/v1/decisions", headers=bearer(keys["decide"]))
    assert_problem(resp, 400, detail="no body")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_415(client, keys, ctype):
    headers = bearer(keys["decide"])
    if ctype:
        headers["Content-Type"] = ctype
    resp = client.post("/v1/decisions", data=json.dumps({"facts": SEED}), headers=headers)
    assert_problem(resp, 415)


def test_a_body_over_the_limit_is_413(tmp_path):
    app = make_app(tmp_path / "state", max_body=2000)
    keys = add_keys(app.extensions["crmc"].settings.keys_file)
    big = {"facts": dict(SEED, profile={"name": "x" * 3000})}
    resp = app.test_client().post("/v1/decisions", json=big, headers=bearer(keys["decide"]))
    assert_problem(resp, 413)


def test_a_chunked_body_over_the_limit_is_413(tmp_path):
    """No Content-Length: werkzeug limits the stream when the server says it is terminated
    (gunicorn does); see also the end-to-end test over real HTTP."""
    app = make_app(tmp_path / "state", max_body=2000)
    keys = add_keys(app.extensions["crmc"].settings.keys_file)
    data = json.dumps({"facts": dict(SEED, profile={"name": "x" * 3000})}).encode()
    resp = app.test_client().post(
        "/v1/decisions",
        input_stream=io.BytesIO(data),
        headers={**bearer(keys["decide"]), "Content-Type": "application/json",
                 "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_problem(resp, 413)


def test_batch_answers_each_item_in_place(client, keys):
    bad = copy.deepcopy(SEED)
    bad["financials"]["dscr"] = -1
    items = [
        {"facts": SEED},
        {"facts": bad},
        {"facts": DISTRESSED, "explain": True},
        {"facts": SEED, "pin": {"risk": "7.0.0"}},
        {"facts": SEED, "extra": 1},
        "not an object",
    ]
    resp = post(client, keys, "/v1/decisions/batch", {"items": items, "as_of": "2026-11-30"})
    assert resp.status_code == 200, resp.json
    results = resp.json["results"]
    assert len(results) == 6
    assert results[0]["segment"]["value"] == "high_net_worth"
    assert results[0]["as_of"] == "2026-11-30"
    assert [e["path"] for e in results[1]["errors"]] == ["/items/1/facts/financials/dscr"]
    assert results[1]["status"] == 422
    assert results[2]["warnings"] and results[2]["trace"]
    assert results[3]["status"] == 404
    assert [e["path"] for e in results[4]["errors"]] == ["/items/4/extra"]
    assert [e["path"] for e in results[5]["errors"]] == ["/items/5"]
    verify = client.get("/v1/audit/verify", headers=bearer(keys["audit"])).json
    assert verify["records"] == 2  # only the decisions given are logged


def test_batch_defaults_apply_unless_the_item_sets_its_own(client, keys):
    items = [{"facts": SEED}, {"facts": SEED, "pin": {"classification": "1.1.0"}}]
    body = {"items": items, "pin": {"classification": "1.0.0"}}
    results = post(client, keys, "/v1/decisions/batch", body).json["results"]
    versions = [{p["id"]: p["version"] for p in r["policies"]}["classification"] for r in results]
    assert versions == ["1.0.0", "1.1.0"]


def test_batch_of_more_than_1000_items_is_422(client, keys):
    resp = post(client, keys, "/v1/decisions/batch", {"items": [{"facts": SEED}] * 1001})
    assert_problem(resp, 422, paths=["/items"])


@pytest.mark.parametrize("body", [{"items": "all"}, {"facts": SEED}, {"items": [], "x": 1}])
def test_batch_envelope_errors_are_422(client, keys, body):
    assert_problem(post(client, keys, "/v1/decisions/batch", body), 422)


def test_log_unavailable_is_503_and_nothing_is_answered(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the database directory should be")
    app = make_app(tmp_path / "state", database_url=f"sqlite:///{blocked}/sub/decisions.db")
    keys = add_keys(app.extensions["crmc"].settings.keys_file)
    client = app.test_client()
    resp = client.post("/v1/decisions", json={"facts": SEED}, headers=bearer(keys["decide"]))
    body = assert_problem(resp, 503)
    assert "decision_id" not in body
    assert_problem(client.get("/readyz"), 503)
    assert client.get("/healthz").status_code == 200
