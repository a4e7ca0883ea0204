"""Web pages: what they show — policies, diff, decisions with explanations, try it —
escaping, and that "try it" never writes to the decision log (issue 7)."""

from __future__ import annotations

import copy
import io
import json

import pytest
from http_support import DISTRESSED, SEED, copy_policies, draft_of
from web_support import decide, log_count, new_app, sign_in

SCRIPT = '<script>alert("x")</script>'


@pytest.fixture
def auditor(tmp_path):
    app, keys = new_app(tmp_path)
    client = app.test_client()
    token = sign_in(client, keys["audit"])
    return app, keys, client, token


def text(resp) -> str:
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def test_policies_timeline_lists_every_version_with_its_metadata(auditor):
    app, _, client, _ = auditor
    page = text(client.get("/ui/policies"))
    registry = app.extensions["crmc"].runtime.current().registry
    for lp in registry.all():
        assert f"/ui/policies/{lp.id}/{lp.version}" in page
        assert lp.sha256[:12] in page
        assert lp.policy.owner in page
    assert "2026-06-30" in page and "open-ended" in page and "in force" in page
    assert '<svg class="timeline"' in page


def test_a_version_reads_as_rule_tables_in_words(auditor):
    _, _, client, _ = auditor
    page = text(client.get("/ui/policies/classification/1.1.0"))
    assert "requested ≥ 100" in page
    assert "rating in AAA, AA, A" in page
    assert "segment: <strong>high-net-worth</strong>" in page
    assert "first matching rule wins" in page and "otherwise (default)" in page
    assert "fact:" not in page and "gte" not in page  # not raw YAML
    risk = text(client.get("/ui/policies/risk/1.0.0"))
    assert "DSCR ≥ 1.4" in risk and "any of" in risk and "70 %" in risk
    warnings = text(client.get("/ui/policies/early_warning/1.1.0"))
    assert 'class="sev sev-critical">critical</span>' in warnings  # the word, not colour alone
    swot = text(client.get("/ui/policies/swot/1.0.0"))
    assert "≥ 1.5 → 10" in swot


def test_diff_shows_the_classification_changes_side_by_side(auditor):
    _, _, client, _ = auditor
    page = text(client.get("/ui/policies/classification/diff?from=1.0.0&to=1.1.0"))
    assert page.count('<span class="tag added">added</span>') >= 3  # legend + 2 rules
    assert "strategic-broad-relationship" in page and "hnw-market-leader" in page
    assert "<del>request.amount &gt;= 150</del> → <ins>request.amount &gt;= 100</ins>" in page
    assert '<li class="hl"><span class="sr">changed: </span>requested ≥ 100</li>' in page
    assert "progress_reporting" in page  # a service-plan setting changed
    assert client.get("/ui/policies/classification/diff?from=1.0.0&to=7.0.0").status_code == 404


def test_search_by_client_date_segment_and_warning(auditor):
    _, keys, client, _ = auditor
    seed = decide(client, keys, SEED)
    distressed = decide(client, keys, DISTRESSED)
    today = seed["decided_at"][:10]

    def found(**query):
        page = text(client.get("/ui/decisions", query_string=query))
        return {d["decision_id"] for d in (seed, distressed) if d["decision_id"] in page}

    both = {seed["decision_id"], distressed["decision_id"]}
    assert found() == both
    assert found(client_id="MFG-0042") == {seed["decision_id"]}
    assert found(**{"from": today, "to": today}) == both
    assert found(**{"from": "2000-01-01", "to": "2000-01-02"}) == set()
    assert found(segment="high_net_worth") == {seed["decision_id"]}
    code = distressed["warnings"][0]["code"]
    assert found(warning=code) == {distressed["decision_id"]}
    bad = client.get("/ui/decisions", query_string={"from": "yesterday"})
    assert "is not a date" in bad.get_data(as_text=True)
    assert "✓ Intact" in text(client.get("/ui/decisions"))
    again = text(client.get("/ui/decisions", query_string={"verify": "1", "segment": "general"}))
    assert "✓ Intact" in again and "verify=1" in again


def test_decision_page_explains_the_seed_case(auditor):
    _, keys, client, _ = auditor
    record = decide(client, keys, SEED, explain=True)
    page = text(client.get(f"/ui/decisions/{record['decision_id']}"))
    assert ("high-net-worth because rule `hnw-large-need`: requested 300 ≥ 100 ✓; "
            "rating A in AAA/AA/A ✓") in page
    assert "Regenerated explanation" not in page
    # rules that did not fire, with the values that failed them
    assert "strategic-long-high-contribution" in page
    assert "years of relationship 1 ≥ 5" in page
    assert "hnw-market-leader" in page  # after the winner: listed as not considered
    assert "Not considered (an earlier rule matched first)" in page
    for ref in record["policies"]:
        assert ref["sha256"] in page
    assert "✓ Identical" in page and "✓ Intact" in page
    assert "✓ same content" in page


def test_a_decision_logged_without_trace_is_explained_by_deciding_again(auditor):
    _, keys, client, _ = auditor
    record = decide(client, keys, SEED)  # no explain: no trace in the log
    page = text(client.get(f"/ui/decisions/{record['decision_id']}"))
    assert "Regenerated explanation" in page
    assert "recorded policy versions pinned" in page
    assert "because rule `hnw-large-need`" in page


def test_missing_facts_are_named_in_the_explanation(auditor):
    _, keys, client, _ = auditor
    facts = copy.deepcopy(SEED)
    del facts["request"]["amount"]
    record = decide(client, keys, facts, explain=True)
    page = text(client.get(f"/ui/decisions/{record['decision_id']}"))
    assert "requested missing (needs ≥ 100)" in page
    assert "fact missing" in page


def test_unknown_decision_is_a_404_page(auditor):
    _, _, client, _ = auditor
    resp = client.get("/ui/decisions/nope")
    assert resp.status_code == 404 and "text/html" in resp.headers["Content-Type"]


def test_client_supplied_text_stays_text(auditor):
    _, keys, client, token = auditor
    facts = copy.deepcopy(SEED)
    facts["profile"]["name"] = SCRIPT
    facts["request"]["purpose"] = '"><img src=x onerror=alert(1)>'
    record = decide(client, keys, facts, explain=True)
    pages = [
        text(client.get("/ui/decisions", query_string={"client_id": "MFG-0042"})),
        text(client.get(f"/ui/decisions/{record['decision_id']}")),
        text(client.post("/ui/try", data={"csrf_token": token, "facts": json.dumps(facts)})),
    ]
    for page in pages:
        assert SCRIPT not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(" in page
    search = client.get("/ui/decisions", query_string={"client_id": SCRIPT})
    assert SCRIPT not in search.get_data(as_text=True)


def test_try_it_decides_and_explains_without_logging(auditor):
    app, _, client, token = auditor
    before = log_count(app)
    page = text(client.post("/ui/try", data={"csrf_token": token, "facts": json.dumps(SEED)}))
    assert "Decision (not logged)" in page
    assert "high-net-worth because rule `hnw-large-need`" in page
    assert "5-year fixed-rate loan" in page
    upload = {"csrf_token": token, "facts": "",
              "facts_file": (io.BytesIO(json.dumps(DISTRESSED).encode()), "distressed.json")}
    page = text(client.post("/ui/try", data=upload, content_type="multipart/form-data"))
    assert "Decision (not logged)" in page
    for warning in ("payment_delay", "dscr_breach"):
        assert f"</span> <strong>{warning}</strong>" in page  # severity word, then the code
    assert log_count(app) == before


def test_try_it_with_a_draft_pinned(tmp_path):
    policies = copy_policies(tmp_path / "policies")
    draft_of(policies, "1.2.0")
    app, keys = new_app(tmp_path, policies=policies)
    client = app.test_client()
    token = sign_in(client, keys["decide"])
    form = text(client.get("/ui/try"))
    assert '<option value="1.2.0">1.2.0 (draft)</option>' in form
    page = text(client.post("/ui/try", data={"csrf_token": token, "facts": json.dumps(SEED),
                                              "pin_classification": "1.2.0"}))
    assert "classification 1.2.0" in page and "Decision (not logged)" in page
    assert log_count(app) == 0


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ("", "Paste a facts document"),
        (json.dumps({"client_id": "X", "financials": {"dscr": -1}}), "/financials/dscr"),
    ],
)
def test_try_it_reports_bad_documents(auditor, facts, message):
    app, _, client, token = auditor
    resp = client.post("/ui/try", data={"csrf_token": token, "facts": facts})
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert log_count(app) == 0
