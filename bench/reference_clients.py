"""The 10,000 synthetic clients of the peer comparison, and their facts documents.

The generator reimplements ``/work/shared/peers/gen_clients.py`` (seed 20240917, integer
SWOT scores) with the very same sequence of ``random.Random`` calls, so the values are
identical to the peers' ``clients.json``: ``json.dumps`` of :func:`peer_clients` hashes to
:data:`PEER_CLIENTS_SHA256`, the digest recorded in the peers' ``results.json``
(``tests/test_bench_reference.py`` checks it). About 10 % of each thresholded field is
pinned exactly on a threshold of the reference policy, so every ``>=``/``>`` boundary is hit.

Two shapes of the same client:

* :func:`peer_clients` — the peers' flat dict (``years_of_cooperation``, ``dscr``, ...),
  what the peer engines (plain Python, zen-engine JDM, raw durable_rules) read;
* :func:`to_facts` — our facts document (contract §1), what our Decider reads.

One deliberate difference: the peer draws ``cost_overrun_pct`` from ``uniform(-5, 30)``
and our facts schema forbids a negative overrun (``minimum: 0``), so :func:`to_facts`
clamps it at 0. The reference policy only tests ``> 10`` and ``> 15`` on it, so no decision
can change; the flat peer dicts keep the original value.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

SEED = 20240917
COUNT = 10_000
PEER_CLIENTS_SHA256 = "f0f366319b1dcaf833e690bd1644d791b536aefd2ec53ac7b3b5e481a5620441"

RATINGS = ["AAA", "AA", "A", "BBB", "BB", "B", "CCC"]
# field -> exact threshold values of the reference policy. Dict order is part of the random
# call sequence: it must stay the peers' order.
BOUNDARY: dict[str, list[float]] = {
    "years_of_cooperation": [5],
    "annual_revenue_contribution": [20.0],
    "funding_need": [100.0],
    "dscr": [1.1, 1.2, 1.3],
    "days_past_due": [30, 90],
    "cost_overrun_pct": [10.0, 15.0],
    "construction_delay_months": [6],
    "rating_downgrades_12m": [2],
    "leverage": [4.0],
}


def _client(rng: random.Random, i: int) -> dict[str, Any]:
    # The order of the calls below is the peers' order (dict literal evaluation order).
    c: dict[str, Any] = {
        "id": i,
        "years_of_cooperation": rng.randint(0, 15),
        "annual_revenue_contribution": round(rng.uniform(0, 60), 2),
        "funding_need": round(rng.uniform(5, 300), 2),
        "credit_rating": rng.choice(RATINGS),
        "dscr": round(rng.uniform(0.6, 2.2), 2),
        "leverage": round(rng.uniform(0.3, 7.0), 2),
        "strengths": rng.randint(0, 10),
        "weaknesses": rng.randint(0, 10),
        "opportunities": rng.randint(0, 10),
        "threats": rng.randint(0, 10),
        "days_past_due": 0 if rng.random() < 0.6 else rng.randint(1, 180),
        "cost_overrun_pct": round(rng.uniform(-5, 30), 1),
        "construction_delay_months": 0 if rng.random() < 0.5 else rng.randint(1, 18),
        "rating_downgrades_12m": rng.choices([0, 1, 2, 3], weights=[60, 25, 10, 5])[0],
    }
    for field, values in BOUNDARY.items():
        if rng.random() < 0.10:
            c[field] = rng.choice(values)
    return c


def peer_clients(n: int = COUNT, seed: int = SEED) -> list[dict[str, Any]]:
    """The first ``n`` clients of the peers' generator, in the peers' flat shape."""
    rng = random.Random(seed)
    return [_client(rng, i) for i in range(n)]


def peer_clients_sha256(clients: list[dict[str, Any]]) -> str:
    """Digest of the clients serialised the way the peers' ``gen_clients.py`` writes them."""
    return hashlib.sha256(json.dumps(clients).encode()).hexdigest()


def to_facts(c: dict[str, Any]) -> dict[str, Any]:
    """Our facts document (contract §1) for one peer client."""
    return {
        "client_id": f"REF-{c['id']:05d}",
        "relationship": {
            "years": c["years_of_cooperation"],
            "annual_contribution": c["annual_revenue_contribution"],
        },
        "financials": {
            "credit_rating": c["credit_rating"],
            "dscr": c["dscr"],
            "leverage": c["leverage"],
        },
        "request": {"amount": c["funding_need"], "currency": "CNY"},
        "project": {
            # our schema forbids a negative overrun (see the module docstring)
            "cost_overrun_pct": max(c["cost_overrun_pct"], 0.0),
            "construction_delay_months": c["construction_delay_months"],
        },
        "monitoring": {
            "days_past_due": c["days_past_due"],
            "rating_downgrades_12m": c["rating_downgrades_12m"],
        },
        "swot": {
            "strengths": c["strengths"],
            "weaknesses": c["weaknesses"],
            "opportunities": c["opportunities"],
            "threats": c["threats"],
        },
    }


def facts_clients(n: int = COUNT, seed: int = SEED) -> list[dict[str, Any]]:
    """The same clients as :func:`peer_clients`, as facts documents."""
    return [to_facts(c) for c in peer_clients(n, seed)]
