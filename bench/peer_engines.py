"""The peers' reference implementations, adapted from ``/work/shared/peers/engines/``.

Three ways to decide the reference policy on a peer-shaped (flat) client, each returning
the peers' flat output ``{classification, swot_score, swot_grade, term_years, rate_type,
interest_only_years, risk_sharing, warnings: [[code, severity], ...]}``:

* :func:`plain_decide` — ``plain_policy.py``, the hand-written Python function (the limit);
* :func:`make_zen` — ``zen_policy.py`` ``make()``: zen-engine's fastest path, ``ZenEngine``
  with a loader returning a pre-compiled ``ZenDecisionContent``; the graph is
  ``bench/zen_reference.jdm.json``, a verbatim copy of ``zen_policy.jdm.json``;
* :func:`make_raw_durable` — ``durable_policy.py``: durable_rules used directly, the peers'
  naive design (events posted for first match, a fact asserted and retracted for collect-all,
  results in a module-level dict, the stock ``durable.lang`` host). Single-threaded only.

Changes from the originals: the durable ruleset is declared inside :func:`make_raw_durable`
(so importing this module registers nothing), names and formatting follow our style. The
logic, rule order and priorities are the peers'.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Flat = dict[str, Any]
Decide = Callable[[dict[str, Any]], Flat]

ZEN_JDM = Path(__file__).with_name("zen_reference.jdm.json")
TOP_RATINGS = ("AAA", "AA", "A")
ZEN_KEYS = ("classification", "swot_score", "swot_grade", "term_years", "rate_type",
            "interest_only_years", "risk_sharing")


# --- plain Python (plain_policy.py) --------------------------------------------------------


def plain_decide(c: dict[str, Any]) -> Flat:
    """The reference policy by hand: classification, SWOT, proposal, early warnings."""
    # a) classification, first match wins
    if c["years_of_cooperation"] >= 5 and c["annual_revenue_contribution"] >= 20:
        cls = "strategic_partner"
    elif c["funding_need"] >= 100 and c["credit_rating"] in TOP_RATINGS:
        cls = "high_net_worth"
    else:
        cls = "general"
    # b) SWOT
    raw = (0.35 * c["strengths"] + 0.25 * c["opportunities"]
           - 0.25 * c["weaknesses"] - 0.15 * c["threats"])
    score = round((raw + 4) / 10 * 100, 1)
    grade = "A" if score >= 70 else "B" if score >= 50 else "C"
    # c) proposal (class in {high_net_worth, strategic_partner} AND dscr >= 1.3)
    dscr = c["dscr"]
    if cls != "general" and dscr >= 1.3:
        term, rate, io = 5, "fixed", 3
    elif dscr >= 1.2:
        term, rate, io = 7, "floating", 1
    else:
        term, rate, io = 3, "floating", 0
    # d) early warnings, collect all
    w = []
    if dscr < 1.1:
        w.append(["dscr_breach", "high"])
    dpd = c["days_past_due"]
    if dpd >= 30:
        w.append(["payment_delay", "high"])
    if dpd >= 90:
        w.append(["non_performing", "critical"])
    if c["cost_overrun_pct"] > 15:
        w.append(["cost_overrun", "medium"])
    if c["construction_delay_months"] > 6:
        w.append(["construction_delay", "medium"])
    if c["rating_downgrades_12m"] >= 2:
        w.append(["rating_pressure", "medium"])
    if c["leverage"] > 4:
        w.append(["over_leveraged", "low"])
    return {
        "classification": cls, "swot_score": score, "swot_grade": grade,
        "term_years": term, "rate_type": rate, "interest_only_years": io,
        "risk_sharing": "revenue_share" if c["cost_overrun_pct"] > 10 else "none",
        "warnings": w,
    }


# --- zen-engine (zen_policy.py, make()) ----------------------------------------------------


def make_zen() -> Decide:
    import zen

    content = zen.ZenDecisionContent(ZEN_JDM.read_text())  # parsed and compiled once
    engine = zen.ZenEngine({"loader": lambda key: content})
    evaluate = engine.evaluate

    def decide(c: dict[str, Any]) -> Flat:
        r = evaluate("policy", c)["result"]
        out = {k: r[k] for k in ZEN_KEYS}
        out["warnings"] = [[w["code"], w["severity"]] for w in r["warnings"]]
        return out

    return decide


# --- raw durable_rules (durable_policy.py) ------------------------------------------------

RAW_RULESET = "project_finance_policy"
_OUT: dict[str, Any] = {}  # actions cannot return values: the peers' module-level result
_raw_decide: Decide | None = None


def make_raw_durable() -> Decide:
    """Declare and register the peers' ruleset once per process; return its decide()."""
    global _raw_decide
    if _raw_decide is None:
        _declare_raw_ruleset()
        _raw_decide = _raw_durable_decide
    return _raw_decide


def _declare_raw_ruleset() -> None:
    from durable.lang import m, pri, ruleset, when_all

    def classified(c: Any, cls: str) -> None:
        _OUT["classification"] = cls
        c.post({"kind": "classified", "classification": cls, "dscr": c.m.dscr})

    def proposal(term: int, rate: str, io: int) -> None:
        _OUT["term_years"], _OUT["rate_type"], _OUT["interest_only_years"] = term, rate, io

    def warn(code: str, severity: str) -> Callable[[Any], None]:
        return lambda c: _OUT["warnings"].append([code, severity])

    def put(key: str, value: str) -> Callable[[Any], None]:
        return lambda c: _OUT.__setitem__(key, value)

    def swot_score(c: Any) -> None:
        f = c.m
        raw = 0.35 * f.strengths + 0.25 * f.opportunities - 0.25 * f.weaknesses - 0.15 * f.threats
        _OUT["swot_score"] = score = round((raw + 4) / 10 * 100, 1)
        c.post({"kind": "swot", "score": score})

    client, cls_, swot, facts = (m.kind == "client"), (m.kind == "classified"), (
        m.kind == "swot"), (m.kind == "facts")
    with ruleset(RAW_RULESET):
        # a) classification: first match wins via event consumption + priority
        when_all(pri(1), client & (m.years_of_cooperation >= 5)
                 & (m.annual_revenue_contribution >= 20))(
            lambda c: classified(c, "strategic_partner"))
        when_all(pri(2), (m.kind == "client") & (m.funding_need >= 100)
                 & ((m.credit_rating == "AAA") | (m.credit_rating == "AA")
                    | (m.credit_rating == "A")))(lambda c: classified(c, "high_net_worth"))
        when_all(pri(3), m.kind == "client")(lambda c: classified(c, "general"))
        # c) proposal, on the chained 'classified' event
        when_all(pri(1), cls_ & (m.classification != "general") & (m.dscr >= 1.3))(
            lambda c: proposal(5, "fixed", 3))
        when_all(pri(2), (m.kind == "classified") & (m.dscr >= 1.2))(
            lambda c: proposal(7, "floating", 1))
        when_all(pri(3), m.kind == "classified")(lambda c: proposal(3, "floating", 0))
        # b) SWOT grade, on the chained 'swot' event
        when_all(pri(1), swot & (m.score >= 70))(put("swot_grade", "A"))
        when_all(pri(2), (m.kind == "swot") & (m.score >= 50))(put("swot_grade", "B"))
        when_all(pri(3), m.kind == "swot")(put("swot_grade", "C"))
        # facts: every matching rule fires
        when_all(facts)(swot_score)
        when_all((m.kind == "facts") & (m.cost_overrun_pct > 10))(
            put("risk_sharing", "revenue_share"))
        when_all((m.kind == "facts") & (m.cost_overrun_pct <= 10))(put("risk_sharing", "none"))
        # d) early warnings: collect all
        when_all((m.kind == "facts") & (m.dscr < 1.1))(warn("dscr_breach", "high"))
        when_all((m.kind == "facts") & (m.days_past_due >= 30))(warn("payment_delay", "high"))
        when_all((m.kind == "facts") & (m.days_past_due >= 90))(
            warn("non_performing", "critical"))
        when_all((m.kind == "facts") & (m.cost_overrun_pct > 15))(warn("cost_overrun", "medium"))
        when_all((m.kind == "facts") & (m.construction_delay_months > 6))(
            warn("construction_delay", "medium"))
        when_all((m.kind == "facts") & (m.rating_downgrades_12m >= 2))(
            warn("rating_pressure", "medium"))
        when_all((m.kind == "facts") & (m.leverage > 4))(warn("over_leveraged", "low"))


def _raw_durable_decide(client: dict[str, Any]) -> Flat:
    from durable.lang import assert_fact, post, retract_fact

    _OUT.clear()
    _OUT["warnings"] = []
    msg = {k: v for k, v in client.items() if k != "id"}
    post(RAW_RULESET, {"kind": "client", **msg})  # first-match part (event)
    fact = {"kind": "facts", **msg}
    assert_fact(RAW_RULESET, fact)  # collect-all part (fact)
    retract_fact(RAW_RULESET, fact)
    return dict(_OUT)
