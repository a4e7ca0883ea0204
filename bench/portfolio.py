"""A realistic synthetic project-finance portfolio, of any size, from a seed.

    python -m bench.portfolio --n 100000 --seed 7 -o var/portfolio-100k.jsonl

Writes one facts document per line (valid against ``schemas/facts.schema.json``). The
distributions follow a lender's book rather than uniform noise: most clients are small
and general, ratings cluster around BBB/BB, DSCR and leverage depend on the rating,
construction projects carry overruns and delays, a minority is past due. About 10 % of
every thresholded numeric field is pinned exactly on one of the default policies'
thresholds (read from ``policies/``), because boundaries are where versions disagree.
A few optional facts are left out, as in real data.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter

from engine.model import PolicyDocument, SwotPolicy, leaves, rule_tables

__all__ = ["client", "generate", "thresholds"]

ROOT = Path(__file__).resolve().parent.parent
PIN_SHARE = 0.10  # share of each thresholded field set exactly on a threshold
MISSING_SHARE = 0.02  # share of each optional fact left out

RATINGS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D")
RATING_WEIGHTS = (2, 6, 15, 27, 25, 15, 5, 2, 1.5, 1.5)
# Median DSCR and leverage by rating: better ratings service debt more comfortably.
DSCR_BY_RATING = dict(zip(RATINGS, (1.75, 1.6, 1.5, 1.38, 1.27, 1.16, 1.05, 0.98, 0.92, 0.8),
                          strict=True))
LEVERAGE_BY_RATING = dict(zip(RATINGS, (1.2, 1.5, 1.8, 2.3, 2.9, 3.5, 4.3, 5.0, 5.5, 6.0),
                              strict=True))
INDUSTRIES = ("manufacturing", "energy", "infrastructure", "logistics", "real_estate",
              "telecom", "healthcare", "agriculture", "mining", "water")
PURPOSES = ("capacity_expansion", "refinancing", "wind_farm", "solar_park", "toll_road",
            "fleet_renewal", "plant_upgrade", "acquisition", "working_capital", "port_terminal")
NAME_PARTS = ("Precision", "Grid", "Harbour", "Northern", "Golden", "River", "Summit",
              "Pacific", "Jade", "Silk Road", "Evergreen", "Blue Sky", "Orient", "Delta")
NAME_KINDS = ("Manufacturing Co.", "Power Group", "Logistics Ltd.", "Infrastructure Co.",
              "Holdings", "Energy & Water Co.", "Construction <Group>", "Technologies Ltd.")
SIZE = {"small": (0.45, 20, 150), "medium": (0.35, 80, 900), "large": (0.20, 400, 6000)}


def thresholds(policies_dir: Path = ROOT / "policies") -> dict[str, list[float]]:
    """Numeric thresholds per fact path in every policy version (rules and SWOT bands)."""
    adapter: TypeAdapter[Any] = TypeAdapter(PolicyDocument)
    found: dict[str, set[float]] = defaultdict(set)
    for path in sorted(policies_dir.glob("*/*.yaml")):
        if path.parent.name == "tests":
            continue
        policy = adapter.validate_python(yaml.safe_load(path.read_text(encoding="utf-8")))
        for rules in rule_tables(policy).values():
            for rule in rules:
                for leaf in leaves(rule.when):
                    if leaf.op in ("lt", "lte", "gt", "gte"):
                        found[leaf.fact].add(float(leaf.value))
                    elif leaf.op == "between":
                        found[leaf.fact].update(map(float, leaf.value))
        if isinstance(policy, SwotPolicy):
            for ind in policy.indicators:
                for band in ind.bands or ():
                    found[ind.fact].update(
                        float(b) for b in (band.gte, band.gt, band.lte, band.lt) if b is not None)
    return {fact: sorted(values) for fact, values in found.items() if "." in fact}


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


def client(rng: random.Random, index: int, pins: dict[str, list[float]]) -> dict[str, Any]:
    """One client's facts document."""
    size = rng.choices(tuple(SIZE), weights=[v[0] for v in SIZE.values()])[0]
    _, amount_median, revenue_median = SIZE[size]
    rating = rng.choices(RATINGS, weights=RATING_WEIGHTS)[0]
    years = min(40.0, round(rng.expovariate(1 / 4.5), 1))
    contribution = round(_lognormal(rng, 0.8 + years * (0.6 if size == "large" else 0.25), 0.9), 2)
    phase = rng.choices(("development", "construction", "operation"), weights=(20, 35, 45))[0]
    building = phase != "operation"
    past_due = 0 if rng.random() < 0.85 else int(min(400, rng.expovariate(1 / 35)) + 1)
    doc: dict[str, Any] = {
        "client_id": f"PF-{index:08d}",
        "as_of": "2026-11-30",
        "profile": {
            "name": f"{rng.choice(NAME_PARTS)} {rng.choice(NAME_KINDS)} #{index}",
            "industry": rng.choice(INDUSTRIES),
            "size": size,
            "stage": rng.choices(("startup", "growth", "mature"), weights=(15, 40, 45))[0],
            "market_position": rng.choices(("leader", "challenger", "follower", "niche"),
                                           weights=(12, 30, 38, 20))[0],
        },
        "relationship": {
            "years": years,
            "annual_contribution": contribution,
            "products_held": min(15, int(rng.expovariate(1 / (1 + years / 3)))),
            "satisfaction": round(min(10.0, max(0.0, rng.gauss(7, 1.5))), 1),
        },
        "financials": {
            "credit_rating": rating,
            "annual_revenue": round(_lognormal(rng, revenue_median, 0.8), 1),
            "ebitda_margin": round(min(0.9, max(-0.5, rng.gauss(0.15, 0.08))), 3),
            "leverage": round(_lognormal(rng, LEVERAGE_BY_RATING[rating], 0.3), 2),
            "dscr": round(max(0.1, _lognormal(rng, DSCR_BY_RATING[rating], 0.12)), 2),
            "current_ratio": round(_lognormal(rng, 1.3, 0.3), 2),
            "historical_default_rate": (0.0 if rng.random() < 0.8
                                        else round(min(0.3, rng.expovariate(1 / 0.02)), 4)),
        },
        "request": {
            "amount": round(_lognormal(rng, amount_median, 0.9), 1) or 0.1,
            "currency": "CNY",
            "tenor_years": rng.choices((1, 2, 3, 5, 7, 10, 12, 15, 20),
                                       weights=(4, 6, 14, 22, 20, 15, 7, 8, 4))[0],
            "rate_preference": rng.choices(("fixed", "floating", "indifferent"),
                                           weights=(35, 30, 35))[0],
            "risk_appetite": rng.choices(("low", "medium", "high"), weights=(30, 50, 20))[0],
            "purpose": rng.choice(PURPOSES),
        },
        "project": {
            "phase": phase,
            "cost_overrun_pct": round(rng.expovariate(1 / 6), 1) if building else 0.0,
            "construction_delay_months": (round(rng.expovariate(1 / 3), 1)
                                          if building and rng.random() < 0.4 else 0.0),
            "expected_irr": round(rng.gauss(0.09, 0.03), 3),
        },
        "monitoring": {
            "days_past_due": past_due,
            "covenant_breaches_12m": int(rng.random() < 0.08) + int(rng.random() < 0.02),
            "rating_downgrades_12m": int(rng.random() < 0.1) + int(rng.random() < 0.04),
            "sponsor_distress": rng.random() < 0.02,
        },
    }
    if rng.random() < 0.7:
        doc["swot"] = {"management_quality": round(rng.uniform(3, 10), 1)}
    _pin_and_drop(rng, doc, pins)
    return doc


def _pin_and_drop(rng: random.Random, doc: dict[str, Any], pins: dict[str, list[float]]) -> None:
    for fact, values in pins.items():
        group, _, name = fact.partition(".")
        if group in doc and rng.random() < PIN_SHARE:
            value = rng.choice(values)
            integer = name in ("days_past_due", "covenant_breaches_12m",
                               "rating_downgrades_12m", "products_held")
            if integer and not value.is_integer():
                continue
            if fact in ("request.amount", "request.tenor_years") and value <= 0:
                continue  # the schema wants them positive
            doc[group][name] = int(value) if integer or value.is_integer() else value
    for group in ("relationship", "financials", "project", "monitoring"):
        for name in list(doc[group]):
            if name != "dscr" and rng.random() < MISSING_SHARE:
                del doc[group][name]  # dscr stays: the risk policy requires it


def generate(n: int, seed: int, policies_dir: Path = ROOT / "policies") -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    pins = thresholds(policies_dir)
    for i in range(n):
        yield client(rng, i, pins)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.portfolio", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, required=True, help="number of clients")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same file)")
    parser.add_argument("-o", "--output", default="-", help="JSONL file (default: stdout)")
    parser.add_argument("--policies", type=Path, default=ROOT / "policies",
                        help="policy directory whose thresholds are pinned")
    args = parser.parse_args(argv)
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    try:
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        for doc in generate(args.n, args.seed, args.policies):
            out.write(dumps(doc))
            out.write("\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
