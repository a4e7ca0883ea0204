"""SWOT scoring: the indicator system of a ``swot`` policy turned into a 0–100 score.

Number model: every figure enters as ``Decimal(str(x))`` (so ``0.35`` is exactly 0.35, not
the nearest binary float) and the arithmetic runs in ``decimal.Decimal`` with 40 digits;
the score is rounded **half-up to one decimal** (``ROUND_HALF_UP``) once, at the end.

1. Indicator score ``s_i`` (0–10) from its fact: the first band whose bounds the number
   meets (``bands``), the entry for the value (``map``; booleans as ``true``/``false``), or
   the value itself (``direct``, a number 0–10). A missing fact or a value that falls in no
   band / map entry takes the ``otherwise`` score if the indicator has one; without it the
   indicator is left out (never scored as 0).
2. Quadrant score ``q = Σ w_i·s_i / Σ w_i`` over the indicators present (renormalised); a
   quadrant with no indicator present is left out.
3. ``raw = Σ_{S,O} wq·q − Σ_{W,T} wq·q`` over the quadrants present, with
   ``min = −10·Σ_{W,T present} wq`` and ``max = 10·Σ_{S,O present} wq``;
   ``score = (raw − min) / (max − min) · 100``, rounded half-up to one decimal.
   No indicator present at all: score and grade are null.
4. Grade: the first grade band (highest first) whose ``min`` the rounded score reaches.

With every quadrant present and weights 0.35/0.25/0.25/0.15 this is
``round((0.35·S + 0.25·O − 0.25·W − 0.15·T + 4) / 10 · 100, 1)`` — the reference policy of
``peers/engines/plain_policy.py`` — except that ties round half-up in decimal, where binary
floats and ``round()`` would round some ``.x5`` the other way.

Contributions: ``score = baseline + Σ points`` with ``baseline = 100·Σ_{W,T} wq / Σ wq``,
effective weight ``e_i = wq·w_i / (Σ_quadrant w · Σ wq)`` (the e_i sum to 1) and
``points_i = ±10·e_i·s_i`` (minus for weaknesses and threats). Quadrant scores are shown
to 2 decimals, weights to 4, points to 2 (display only; the score uses exact values).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import lru_cache
from typing import Any

from engine.context import MISSING, OUTPUT_PATHS, lookup
from engine.model import QUADRANTS, Indicator, SwotPolicy

__all__ = ["SwotResult", "score_swot"]

_POSITIVE = ("strengths", "opportunities")
_TEN = Decimal(10)
_HUNDRED = Decimal(100)


@lru_cache(maxsize=4096)  # weights, bounds and band scores recur in every decision
def D(x: float | int | str) -> Decimal:
    """A Decimal from the shortest decimal text of the number (0.35 -> 0.35 exactly)."""
    return Decimal(str(x))


def _q(value: Decimal, places: str) -> float:
    # "+ 0.0" turns a negative zero (a weakness scored 0) into 0.0
    return float(value.quantize(Decimal(places), rounding=ROUND_HALF_UP)) + 0.0


@dataclass
class SwotResult:
    score: float | None
    grade: str | None
    quadrants: dict[str, float | None]
    contributions: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # fact paths needed and not present


def _is_number(v: Any) -> bool:
    return v.__class__ is int or v.__class__ is float


def _band_score(ind: Indicator, v: Any) -> float | None:
    if not _is_number(v) or ind.bands is None:
        return None
    for band in ind.bands:
        if band.gte is not None and not v >= band.gte:
            continue
        if band.gt is not None and not v > band.gt:
            continue
        if band.lte is not None and not v <= band.lte:
            continue
        if band.lt is not None and not v < band.lt:
            continue
        return band.score
    return None


def indicator_score(ind: Indicator, value: Any) -> Decimal | None:
    """The indicator's 0–10 score for ``value`` (``MISSING`` allowed); None = left out."""
    raw: float | int | None = None
    if value is not MISSING:
        if ind.bands is not None:
            raw = _band_score(ind, value)
        elif ind.map is not None:
            if value.__class__ is bool:
                key = "true" if value else "false"
            elif value.__class__ is str:
                key = value
            else:
                key = None
            raw = ind.map.get(key) if key is not None else None
        elif ind.direct and _is_number(value) and 0 <= value <= 10:
            raw = value
    if raw is None:
        raw = ind.otherwise
    return None if raw is None else D(raw)


def score_swot(policy: SwotPolicy, ctx: Mapping[str, Any]) -> SwotResult:
    """Score every indicator of ``policy`` against the context (see the module docstring)."""
    with localcontext() as dec:
        dec.prec = 40
        return _score(policy, ctx)


def _score(policy: SwotPolicy, ctx: Mapping[str, Any]) -> SwotResult:
    missing: list[str] = []
    present: dict[str, list[tuple[Indicator, Decimal]]] = {q: [] for q in QUADRANTS}
    scored: list[tuple[Indicator, Decimal]] = []
    for ind in policy.indicators:
        value = lookup(ctx, ind.fact)
        if value is MISSING and ind.fact not in OUTPUT_PATHS:
            missing.append(ind.fact)
        s = indicator_score(ind, value)
        if s is not None:
            present[ind.quadrant].append((ind, s))
            scored.append((ind, s))

    quadrant_score: dict[str, Decimal] = {}
    quadrant_wsum: dict[str, Decimal] = {}
    for quadrant, items in present.items():
        if items:
            wsum = sum((D(ind.weight) for ind, _ in items), Decimal(0))
            quadrant_wsum[quadrant] = wsum
            weighted = sum((D(ind.weight) * s for ind, s in items), Decimal(0))
            quadrant_score[quadrant] = weighted / wsum
    shown = {q: (_q(quadrant_score[q], "0.01") if q in quadrant_score else None) for q in QUADRANTS}
    if not quadrant_score:
        return SwotResult(None, None, shown, [], sorted(set(missing)))

    wq = {q: D(policy.quadrant_weights.get(q, 0)) for q in quadrant_score}
    positive = sum((wq[q] for q in quadrant_score if q in _POSITIVE), Decimal(0))
    negative = sum((wq[q] for q in quadrant_score if q not in _POSITIVE), Decimal(0))
    raw = sum(
        (wq[q] * s if q in _POSITIVE else -wq[q] * s for q, s in quadrant_score.items()),
        Decimal(0),
    )
    lo, hi = -_TEN * negative, _TEN * positive
    if hi == lo:  # only quadrants weighted 0 are present: nothing to scale
        return SwotResult(None, None, shown, [], sorted(set(missing)))
    exact = (raw - lo) / (hi - lo) * _HUNDRED
    score = exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    grade = next((g.grade for g in policy.grades if score >= D(g.min)), None)

    total = positive + negative
    contributions = []
    for ind, s in scored:  # policy order
        quadrant = ind.quadrant
        e = wq[quadrant] * D(ind.weight) / (quadrant_wsum[quadrant] * total)
        points = _TEN * e * s * (1 if quadrant in _POSITIVE else -1)
        contributions.append(
            {
                "indicator": ind.id,
                "quadrant": quadrant,
                "fact": ind.fact,
                "score": float(s),
                "weight": _q(e, "0.0001"),
                "points": _q(points, "0.01"),
            }
        )
    return SwotResult(float(score), grade, shown, contributions, sorted(set(missing)))
