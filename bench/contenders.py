"""The five contenders of the engine benchmark, each as ``decide(input) -> flat output``.

Every contender decides the same reference policy on the same clients
(``bench.reference_clients``) and returns the peers' flat output shape, so that outputs
can be compared field by field:

========== ============================================================== ================
name       what                                                           reads
========== ============================================================== ================
durable    our Decider, engine "durable" (durable_rules behind the seam)  facts document
compiled   our Decider, engine "compiled" (conditions as Python closures) facts document
zen        zen-engine, ZenEngine + pre-compiled ZenDecisionContent        peer flat dict
raw        durable_rules used directly, the peers' naive ruleset          peer flat dict
plain      the hand-written Python function (the limit)                   peer flat dict
========== ============================================================== ================

Our decision is richer than the flat shape (service plan, risk grade and controls,
covenants, warning actions and observed values, SWOT contributions, policy versions and
sha256, decision id and time, facts validation): all of that is computed inside the timed
call and then reduced to the flat fields by :func:`flatten`. That is the honest comparison.
"""

from __future__ import annotations

import cProfile
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.reference_clients import facts_clients, peer_clients

REPO = Path(__file__).resolve().parents[1]
REFERENCE_POLICIES = Path(__file__).with_name("reference_policies")
DEFAULT_POLICIES = REPO / "policies"
AS_OF = dt.date(2026, 12, 1)  # fixed: the decision must not depend on the day of the run

ENGINES = ("durable", "compiled", "zen", "raw", "plain")
LABELS = {
    "durable": "crmc durable",
    "compiled": "crmc compiled",
    "zen": "zen-engine",
    "raw": "raw durable_rules",
    "plain": "plain Python",
}
FIELDS = ("classification", "swot_score", "swot_grade", "term_years", "rate_type",
          "interest_only_years", "risk_sharing", "warnings")
WARNING_ORDER = ("dscr_breach", "payment_delay", "non_performing", "cost_overrun",
                 "construction_delay", "rating_pressure", "over_leveraged")

Flat = dict[str, Any]
Decide = Callable[[Any], Flat]


def load_registry(directory: Path) -> Any:
    """``engine.registry.Registry.load`` (the agreed interface)."""
    from engine.registry import Registry

    return Registry.load(directory)


def flatten(decision: Any) -> Flat:
    """Our ``engine.decision.Decision`` reduced to the peers' flat output."""
    swot, proposal = decision.swot, decision.proposal
    return {
        "classification": decision.segment.value,
        "swot_score": None if swot.score is None else float(swot.score),
        "swot_grade": swot.grade,
        "term_years": proposal.tenor_years,
        "rate_type": proposal.rate_type,
        "interest_only_years": proposal.interest_only_years,
        "risk_sharing": proposal.risk_sharing.type,
        "warnings": [[w.code, w.severity] for w in decision.warnings],
    }


def make_ours(engine: str, policies: Path = REFERENCE_POLICIES) -> Decide:
    """Our whole pipeline, prepared once; each call is one full decision."""
    from engine.evaluate import Decider

    decider = Decider(load_registry(policies), engine=engine)
    decide = decider.decide

    def run(facts: dict[str, Any]) -> Flat:
        return flatten(decide(facts, as_of=AS_OF))

    return run


def make(name: str) -> Decide:
    """The decide function of one contender (prepared: policies loaded and compiled)."""
    from bench import peer_engines

    if name in ("durable", "compiled"):
        return make_ours(name)
    if name == "zen":
        return peer_engines.make_zen()
    if name == "raw":
        return peer_engines.make_raw_durable()
    if name == "plain":
        return peer_engines.plain_decide
    raise ValueError(f"unknown contender {name!r}: expected one of {', '.join(ENGINES)}")


def inputs(name: str, n: int) -> list[dict[str, Any]]:
    """The first ``n`` reference clients in the shape this contender reads."""
    return facts_clients(n) if name in ("durable", "compiled") else peer_clients(n)


# --- comparing outputs --------------------------------------------------------------------


def profiled(name: str, n: int, warm: int = 300) -> cProfile.Profile:
    """A cProfile of ``n`` decisions by contender ``name``, after ``warm`` untimed ones."""
    clients = inputs(name, n)
    decide = make(name)
    for c in clients[: min(n, warm)]:
        decide(c)
    prof = cProfile.Profile()
    prof.enable()
    for c in clients:
        decide(c)
    prof.disable()
    return prof


def canon(out: Flat, sort_warnings: bool = True) -> list[Any]:
    """Comparable form; numbers compare by value (45 == 45.0), warnings in canonical order."""
    warnings = [tuple(w) for w in out["warnings"]]
    if sort_warnings:
        warnings.sort(key=lambda w: WARNING_ORDER.index(w[0]))
    return [out[k] for k in FIELDS[:-1]] + [warnings]


def compare(reference: list[Flat], outputs: list[Flat]) -> dict[str, Any]:
    """Mismatch counts against the reference (plain Python), per field, plus order-only."""
    by_field = dict.fromkeys(FIELDS, 0)
    total = order_only = 0
    first: int | None = None
    for i, (ref, out) in enumerate(zip(reference, outputs, strict=True)):
        a, b = canon(ref), canon(out)
        if a != b:
            total += 1
            first = i if first is None else first
            for key, x, y in zip(FIELDS, a, b, strict=True):
                by_field[key] += x != y
        elif canon(ref, False) != canon(out, False):
            order_only += 1
    return {
        "mismatches": total,
        "order_only": order_only,
        "by_field": {k: v for k, v in by_field.items() if v},
        "first_mismatch": first,
    }
