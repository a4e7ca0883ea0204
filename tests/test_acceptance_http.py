"""Acceptance findings on the HTTP service, kept as regression tests.

A lone surrogate escape (``"\\ud800"``) is valid JSON syntax but not valid Unicode: the
request is accepted, decided, and then the decision log cannot encode it (UTF-8) while
hashing the chain. The service answers 500 — and, because entries are committed in
groups, concurrent good requests that share the group fail with it. Contract §4: never a
500 for anything a client sends; issue 4: a bad batch item never fails the others.

Fixed: the service refuses such a string with 422 and its pointer (``server/body.py``),
and the decision log refuses an entry it cannot encode before it joins a group.
"""

from __future__ import annotations

import json

from http_support import SEED, assert_problem, bearer

LONE_NAME = json.dumps({"facts": {**SEED, "profile": {**SEED["profile"], "name": "@@"}}})
LONE_NAME = LONE_NAME.replace('"@@"', '"\\ud800"')

def _post(client, keys, path: str, raw: str):
    return client.post(path, data=raw.encode("ascii"), content_type="application/json",
                       headers=bearer(keys["decide"]))


def test_a_lone_surrogate_in_the_facts_is_a_client_error(client, keys):
    resp = _post(client, keys, "/v1/decisions", LONE_NAME)
    assert resp.status_code in (400, 422), resp.get_data(as_text=True)
    assert_problem(resp, resp.status_code)


def test_a_lone_surrogate_in_one_batch_item_fails_that_item_only(client, keys):
    item = json.loads(LONE_NAME.replace('"\\ud800"', '"@@"'))
    raw = json.dumps({"items": [item, {"facts": SEED}]}).replace('"@@"', '"\\ud800"')
    resp = _post(client, keys, "/v1/decisions/batch", raw)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    first, second = resp.json["results"]
    assert first["status"] in (400, 422)
    assert second["segment"]["value"] == "high_net_worth"


def test_the_log_stays_intact_after_a_refused_request(client, keys):
    # whatever the answer to the bad request, the chain must verify and good ones go on
    _post(client, keys, "/v1/decisions", LONE_NAME)
    good = _post(client, keys, "/v1/decisions", json.dumps({"facts": SEED}))
    assert good.status_code == 200
    verify = client.get("/v1/audit/verify", headers=bearer(keys["audit"]))
    assert verify.status_code == 200 and verify.json["intact"] is True


def test_try_it_refuses_a_lone_surrogate_instead_of_a_500(tmp_path):
    # was: the page rendered the decision and failed encoding it (UnicodeEncodeError, 500)
    from web_support import new_app, sign_in

    app, web_keys = new_app(tmp_path)
    web = app.test_client()
    token = sign_in(web, web_keys["audit"])
    in_a_value = LONE_NAME[len('{"facts": '):-1]
    in_a_name = json.dumps({**SEED, "swot": {"@@": 5}}).replace('"@@"', '"\\ud800"')
    for text in (in_a_value, in_a_name):
        resp = web.post("/ui/try", data={"csrf_token": token, "facts": text})
        assert resp.status_code == 422, resp.status_code
        assert "is not valid Unicode" in resp.get_data(as_text=True)
