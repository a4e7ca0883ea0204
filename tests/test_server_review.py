"""Regressions from the server review and the acceptance test: one test (or a few) per
finding, each failing before its fix."""

from __future__ import annotations

import copy
import json

import pytest
from http_support import SEED, add_keys, assert_problem, bearer, copy_policies, make_app
from web_support import csrf_of, log_count, sign_in


def post_text(client, keys, path, text, role="decide"):
    return client.post(path, data=text.encode(), content_type="application/json",
                       headers=bearer(keys[role]))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- 1. never 500 on nesting; a batch item's unexpected error stays in its place ----------


@pytest.mark.parametrize("depth", [40, 975, 5000])
def test_deeply_nested_facts_are_400_naming_where(client, keys, depth):
    text = '{"facts":{"client_id":"a","profile":{"name":' + nested(depth) + "}}}"
    resp = post_text(client, keys, "/v1/decisions", text)
    body = assert_problem(resp, 400, detail="nested too deeply")
    if depth < 1000:  # deeper than the parser's own limit: refused before any pointer exists
        assert "/facts/profile/name/0/" in body["detail"]
        assert body["errors"][0]["path"].startswith("/facts/profile/name/0/0/")


def test_deeply_nested_batch_item_is_400(client, keys):
    text = '{"items":[{"facts":{"client_id":"a","profile":{"name":' + nested(975) + "}}}]}"
    resp = post_text(client, keys, "/v1/decisions/batch", text)
    assert_problem(resp, 400, detail="nested too deeply at /items/0/facts/profile/name/0/")


def test_ordinary_nesting_is_still_decided(client, keys):
    facts = {**SEED, "swot": {}}
    resp = client.post("/v1/decisions", json={"facts": facts}, headers=bearer(keys["decide"]))
    assert resp.status_code == 200, resp.json


def test_a_batch_items_unexpected_error_is_that_items_500_only(app, client, keys,
                                                              monkeypatch, caplog):
    # The real Decider has no known crash to trigger; one is injected for one client only.
    decider = app.extensions["crmc"].runtime.current().decider
    real = decider.decide

    def decide(facts, **kwargs):
        if facts.get("client_id") == "BOOM":
            raise KeyError("an engine bug")
        return real(facts, **kwargs)

    monkeypatch.setattr(decider, "decide", decide)
    items = [{"facts": SEED}, {"facts": {**SEED, "client_id": "BOOM"}}, {"facts": SEED}]
    resp = client.post("/v1/decisions/batch", json={"items": items},
                       headers=bearer(keys["decide"]))
    assert resp.status_code == 200, resp.json
    first, broken, last = resp.json["results"]
    assert first["decision_id"] and last["decision_id"]
    assert broken["status"] == 500 and "an engine bug" not in json.dumps(broken)
    assert broken["correlation_id"] in caplog.text and "/items/1" in caplog.text
    assert log_count(app) == 2


def test_try_it_refuses_deep_nesting_and_duplicates(tmp_path):
    app = make_app(tmp_path / "state")
    keys = add_keys(tmp_path / "state" / "keys.json")
    client = app.test_client()
    token = sign_in(client, keys["audit"])
    deep = '{"client_id":"a","profile":{"name":' + nested(975) + "}}"
    resp = client.post("/ui/try", data={"csrf_token": token, "facts": deep})
    assert resp.status_code == 422 and "nested too deeply" in resp.get_data(as_text=True)
    twice = '{"client_id":"a","client_id":"b"}'
    resp = client.post("/ui/try", data={"csrf_token": token, "facts": twice})
    assert resp.status_code == 422 and "appears twice" in resp.get_data(as_text=True)


# --- 2. duplicated member names ---------------------------------------------------------------


def test_duplicate_top_level_member_is_400(client, keys):
    other = {**SEED, "client_id": "OTHER"}
    text = '{"facts":' + json.dumps(SEED) + ',"facts":' + json.dumps(other) + "}"
    resp = post_text(client, keys, "/v1/decisions", text)
    body = assert_problem(resp, 400, paths=["/facts"])
    assert "'facts' appears twice" in body["detail"]


def test_duplicate_member_inside_facts_is_400_with_its_pointer(client, keys):
    facts = copy.deepcopy(SEED)
    text = json.dumps({"facts": facts})
    text = text.replace('"dscr":', '"dscr": 0.1, "dscr":', 1)
    assert text.count('"dscr"') == 2
    resp = post_text(client, keys, "/v1/decisions", text)
    assert_problem(resp, 400, paths=["/facts/financials/dscr"], detail="'dscr' appears twice")


def test_duplicate_in_a_batch_item_names_the_item(client, keys):
    text = '{"items":[{"facts":{"client_id":"A"}},{"facts":{"client_id":"A","client_id":"B"}}]}'
    resp = post_text(client, keys, "/v1/decisions/batch", text)
    assert_problem(resp, 400, paths=["/items/1/facts/client_id"])


# --- 3. the search form's end date ------------------------------------------------------------


@pytest.mark.parametrize("query", ["to=9999-12-31", "from=9999-12-31&to=9999-12-31",
                                   "from=0001-01-01&to=9999-12-31"])
def test_searching_up_to_the_last_date_is_not_a_500(app, keys, client, query):
    client.post("/v1/decisions", json={"facts": SEED}, headers=bearer(keys["decide"]))
    sign_in(client, keys["audit"])
    resp = client.get(f"/ui/decisions?{query}")
    assert resp.status_code == 200, resp.status_code
    found = "/ui/decisions/" in resp.get_data(as_text=True)
    assert found is query.startswith(("to=", "from=0001"))


# --- 6. metric labels come from a closed set ----------------------------------------------------


def test_unknown_methods_are_one_metric_label(client):
    for method in ("FOO", "BAR", "PROPFIND"):
        client.open("/healthz", method=method)
    client.get("/healthz")
    text = client.get("/metrics").get_data(as_text=True)
    lines = [line for line in text.splitlines() if line.startswith("crmc_http_requests_total{")]
    methods = {line.split('method="')[1].split('"')[0] for line in lines}
    assert methods == {"GET", "OTHER"}, lines
    other = next(line for line in lines if 'method="OTHER"' in line)
    assert other.endswith(" 3.0"), other


# --- 8. the API app has no static route ----------------------------------------------------------


def test_the_api_serves_no_static_files(app, client):
    assert not [r.rule for r in app.url_map.iter_rules() if "static" in r.rule]
    with client.get("/static/crmc.css") as resp:
        assert resp.status_code == 404
    with client.get("/ui/static/crmc.css") as resp:
        assert resp.status_code == 200


# --- 10. a warning code is searched literally --------------------------------------------------


def test_search_page_refuses_a_code_with_wildcards(app, keys, client):
    client.post("/v1/decisions", json={"facts": SEED}, headers=bearer(keys["decide"]))
    sign_in(client, keys["audit"])
    page = client.get("/ui/decisions?warning=%25").get_data(as_text=True)
    assert "warning-err" in page and "/ui/decisions/" not in page


# --- 9. a corrupt keys file --------------------------------------------------------------------


@pytest.mark.parametrize("content", ['{"keys": [', '["not", "an object"]', '{"keys": [{}]}',
                                     "\xff"])
def test_a_corrupt_keys_file_is_503_logged_once(app, keys, client, caplog, content):
    app.extensions["crmc"].settings.keys_file.write_text(content, encoding="latin-1")
    for _ in range(3):
        resp = client.post("/v1/decisions", json={"facts": SEED}, headers=bearer(keys["decide"]))
        assert_problem(resp, 503, detail="keys file is unreadable")
    assert caplog.text.count("is unreadable") == 1
    assert_problem(client.get("/readyz"), 503, detail="keys file is unreadable")
    form = client.get("/ui/sign-in")  # the form itself needs no key
    assert form.status_code == 200
    page = client.post("/ui/sign-in", data={"api_key": keys["audit"],
                                            "csrf_token": csrf_of(form.get_data(as_text=True))})
    assert page.status_code == 503 and "keys file" in page.get_data(as_text=True)


# --- 4. the service requires the policies' lock -----------------------------------------------


def test_the_service_refuses_a_policy_directory_without_its_lock(tmp_path):
    from engine.errors import PolicyError

    policies = copy_policies(tmp_path / "policies")
    (policies / "policies.lock").unlink()
    with pytest.raises(PolicyError) as info:
        make_app(tmp_path / "state", policies)
    assert {p.code for p in info.value.problems} == {"lock-missing"}


def test_a_reload_without_the_lock_is_rejected(tmp_path):
    policies = copy_policies(tmp_path / "policies")
    app = make_app(tmp_path / "state", policies)
    keys = add_keys(tmp_path / "state" / "keys.json")
    (policies / "policies.lock").unlink()
    resp = app.test_client().post("/v1/admin/reload", headers=bearer(keys["admin"]))
    body = assert_problem(resp, 422)
    assert all("lock-missing" in e["message"] for e in body["errors"]), body


# --- 5. workers follow reloads even after a failed build; pruning keeps current snapshots -----


def _runtime(policies, run_dir):
    from engine.evaluate import Decider
    from server.app import engine_for
    from server.runtime import PolicyRuntime

    engine = engine_for("compiled")
    return PolicyRuntime(policies, lambda registry: Decider(registry, engine=engine),
                         run_dir=run_dir, retry=(0.0, 0.0))


def test_a_worker_retries_a_failed_build_without_a_new_reload(tmp_path):
    from server.runtime import read_current

    policies, run_dir = copy_policies(tmp_path / "policies"), tmp_path / "run"
    first, second = _runtime(policies, run_dir), _runtime(policies, run_dir)
    assert first.start().generation == second.start().generation == 1
    assert first.reload().generation == 2
    _, snapshot = read_current(run_dir)
    hidden = snapshot.with_name(snapshot.name + ".away")
    snapshot.rename(hidden)  # the second worker's build fails (as on an I/O error)
    assert second.current().generation == 1
    hidden.rename(snapshot)  # CURRENT itself does not change again
    assert second.current().generation == 2


def test_pruning_keeps_the_current_generations_and_unpublished_copies(tmp_path):
    from server.runtime import KEEP_SNAPSHOTS, MARKER, read_current

    policies, run_dir = copy_policies(tmp_path / "policies"), tmp_path / "run"
    runtime = _runtime(policies, run_dir)
    runtime.start()
    snapshots = run_dir / "policies" / "snapshots"
    # another reload's copy, not yet validated: named as if older than every published one
    in_progress = snapshots / "00000000T000000-inflight"
    in_progress.mkdir()
    for _ in range(KEEP_SNAPSHOTS + 2):
        runtime.reload()
    generation, current = read_current(run_dir)
    assert current.is_dir() and in_progress.is_dir()
    kept = sorted(int((s / MARKER).read_text()) for s in snapshots.iterdir() if s != in_progress)
    assert kept == list(range(generation - KEEP_SNAPSHOTS + 1, generation + 1))


# --- 7. /v1/audit/verify reuses a recent check ---------------------------------------------------


def test_verify_reuses_a_recent_check_and_says_when_it_ran(client, keys):
    client.post("/v1/decisions", json={"facts": SEED}, headers=bearer(keys["decide"]))
    first = client.get("/v1/audit/verify", headers=bearer(keys["audit"])).json
    assert first["intact"] is True and first["records"] == 1
    assert first["checked_at"].endswith("Z")
    client.post("/v1/decisions", json={"facts": SEED}, headers=bearer(keys["decide"]))
    again = client.get("/v1/audit/verify", headers=bearer(keys["audit"])).json
    assert again == first  # the same check, not a second scan of the whole log
