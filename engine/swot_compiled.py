"""SWOT scoring compiled once per policy version: the hot path of ``engine.swot``.

``engine.swot.score_swot`` is the readable statement of the number model; this module
computes the very same figures with the per-decision work cut to what depends on the facts:

- every indicator becomes a closure from its fact's value to its raw 0–10 score (or None);
- everything that depends only on *which* indicators are present (quadrant weight sums,
  quadrant weights, ``min``/``max`` of the scale, effective weights and their display
  values) is computed once per presence pattern and kept;
- the arithmetic that depends on the scores runs as the same ``Decimal`` operations, in the
  same order, at the same 40-digit precision as ``score_swot`` (explicit context methods
  instead of a ``localcontext`` per call), so every figure is the same Decimal value;
- a decision's whole SWOT outcome depends only on the tuple of raw indicator scores, so it
  is memoised by that tuple (bounded; band and map indicators take a few values each),
  and so are the parts of outcomes that depend on fewer scores (a quadrant, an indicator).

``tests/test_decide_swot_compiled.py`` checks it against ``score_swot`` with hypothesis.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Any

from engine.context import MISSING, OUTPUT_PATHS, getter
from engine.decision import Contribution, Quadrants, construct
from engine.model import QUADRANTS, Indicator, SwotPolicy
from engine.swot import D

__all__ = ["SwotOutcome", "SwotScorer"]

# What ``localcontext()`` with ``prec = 40`` gives under the default context.
_C = Context(prec=40, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
_ZERO, _TEN, _HUNDRED = Decimal(0), Decimal(10), Decimal(100)
_ONE, _MINUS_ONE = Decimal(1), Decimal(-1)
_TENTH, _CENT, _BASIS = Decimal("0.1"), Decimal("0.01"), Decimal("0.0001")
_POSITIVE = frozenset(("strengths", "opportunities"))
_MEMO_LIMIT = 4096  # outcomes kept per policy version (at most ~10 MB with unique scores)
_PART_LIMIT = 1024  # quadrant parts / contributions kept per pattern, quadrant or indicator

Raw = float | int | None
# (score, grade, quadrants model, contribution models) of one tuple of raw scores
SwotOutcome = tuple[float | None, str | None, Quadrants, tuple[Contribution, ...]]


def _shown(value: Decimal, places: Decimal) -> float:
    # as engine.swot._q: "+ 0.0" turns a negative zero into 0.0
    return float(value.quantize(places, rounding=ROUND_HALF_UP, context=_C)) + 0.0


def _is_number(v: Any) -> bool:
    return v.__class__ is int or v.__class__ is float


def _scorer(ind: Indicator) -> Callable[[Any], Raw]:
    """The indicator's raw score for a value (``MISSING`` allowed), as ``indicator_score``."""
    otherwise = ind.otherwise
    if ind.bands is not None:
        bands = tuple((b.gte, b.gt, b.lte, b.lt, b.score) for b in ind.bands)

        def banded(v: Any) -> Raw:
            if v.__class__ is int or v.__class__ is float:
                for gte, gt, lte, lt, score in bands:
                    if gte is not None and not v >= gte:
                        continue
                    if gt is not None and not v > gt:
                        continue
                    if lte is not None and not v <= lte:
                        continue
                    if lt is not None and not v < lt:
                        continue
                    return score
            return otherwise

        return banded
    if ind.map is not None:
        table = dict(ind.map)

        def mapped(v: Any) -> Raw:
            cls = v.__class__
            if cls is str:
                raw = table.get(v)
            elif cls is bool:
                raw = table.get("true" if v else "false")
            else:
                raw = None
            return otherwise if raw is None else raw

        return mapped
    if ind.direct:
        return lambda v: v if _is_number(v) and 0 <= v <= 10 else otherwise
    return lambda v: otherwise


class _Pattern:
    """What one set of present indicators fixes: weights, scale and effective weights."""

    def __init__(self, policy: SwotPolicy, present: tuple[int, ...]):
        inds = policy.indicators
        # per quadrant present: its (indicator, weight) items, and a cache of its part of
        # the outcome by the items' raw scores (see quadrant_part)
        self.quadrants: list[tuple[str, tuple[tuple[int, Decimal], ...], dict[Any, Any]]] = []
        wsums: dict[str, Decimal] = {}
        for quadrant in QUADRANTS:
            items = tuple((i, D(inds[i].weight)) for i in present if inds[i].quadrant == quadrant)
            if items:
                wsum = _ZERO
                for _, w in items:
                    wsum = _C.add(wsum, w)
                wsums[quadrant] = wsum
                self.quadrants.append((quadrant, items, {}))
        self.wsums = wsums
        self.empty = not self.quadrants
        wq = {q: D(policy.quadrant_weights.get(q, 0)) for q in wsums}
        positive = negative = _ZERO
        for q in wsums:
            if q in _POSITIVE:
                positive = _C.add(positive, wq[q])
            else:
                negative = _C.add(negative, wq[q])
        # raw's terms: +wq·q for S/O, (−wq)·q for W/T, in quadrant order
        self.signed = {q: wq[q] if q in _POSITIVE else _C.minus(wq[q]) for q in wsums}
        self.lo = _C.multiply(_C.minus(_TEN), negative)
        hi = _C.multiply(_TEN, positive)
        self.flat = hi == self.lo  # only quadrants weighted 0: no score
        self.span = _C.subtract(hi, self.lo)
        total = _C.add(positive, negative)
        # per present indicator: (index, 10·e, sign, e shown to 4 places, contribution
        # models by raw score)
        self.effective: list[tuple[int, Decimal, Decimal, float, dict[Any, Any]]] = []
        if not self.empty and not self.flat:
            for i in present:
                q = inds[i].quadrant
                e = _C.divide(_C.multiply(wq[q], D(inds[i].weight)), _C.multiply(wsums[q], total))
                sign = _ONE if q in _POSITIVE else _MINUS_ONE
                self.effective.append((i, _C.multiply(_TEN, e), sign, _shown(e, _BASIS), {}))

    def quadrant_part(
        self, quadrant: str, items: tuple[tuple[int, Decimal], ...], raws: tuple[Raw, ...]
    ) -> tuple[float, Decimal]:
        """The quadrant's score shown to 2 places, and its signed term of ``raw``."""
        weighted = _ZERO
        for i, w in items:
            weighted = _C.add(weighted, _C.multiply(w, D(raws[i])))  # type: ignore[arg-type]
        q = _C.divide(weighted, self.wsums[quadrant])
        return _shown(q, _CENT), _C.multiply(self.signed[quadrant], q)


class SwotScorer:
    """``score_swot`` for one policy version, compiled (thread-safe: memo writes are
    single dict assignments of values computed from the key alone)."""

    def __init__(self, policy: SwotPolicy):
        self.policy = policy
        self.reads = tuple(
            (getter(ind.fact), _scorer(ind), ind.fact if ind.fact not in OUTPUT_PATHS else None)
            for ind in policy.indicators
        )
        self.grades = tuple((D(g.min), g.grade) for g in policy.grades)
        self._patterns: dict[tuple[int, ...], _Pattern] = {}
        self._memo: dict[tuple[Raw, ...], SwotOutcome] = {}

    def score(self, ctx: Mapping[str, Any], missing: set[str]) -> SwotOutcome:
        """The outcome for the context; adds the indicator facts it lacked to ``missing``."""
        raws = []
        for get, scorer, fact in self.reads:
            value = get(ctx)
            if value is MISSING and fact is not None:
                missing.add(fact)
            raws.append(scorer(value))  # a scorer gives MISSING its ``otherwise``
        key = tuple(raws)
        outcome = self._memo.get(key)
        if outcome is None:
            outcome = self._outcome(key)
            # Bounded: once full it keeps what it has (no churn; a workload's recurring
            # tuples come early). The cost of a miss is a few µs, see _outcome.
            if len(self._memo) < _MEMO_LIMIT:
                self._memo[key] = outcome
        return outcome

    def _outcome(self, raws: tuple[Raw, ...]) -> SwotOutcome:
        present = tuple(i for i, raw in enumerate(raws) if raw is not None)
        pattern = self._patterns.get(present)
        if pattern is None:
            pattern = self._patterns[present] = _Pattern(self.policy, present)
        shown: dict[str, float | None] = dict.fromkeys(QUADRANTS)
        raw_sum = _ZERO
        for quadrant, items, cache in pattern.quadrants:
            key = raws[items[0][0]] if len(items) == 1 else tuple(raws[i] for i, _ in items)
            part = cache.get(key)
            if part is None:
                part = _bounded(cache, key, pattern.quadrant_part(quadrant, items, raws))
            shown[quadrant], term = part
            raw_sum = _C.add(raw_sum, term)
        quadrants = construct(Quadrants, shown)
        if pattern.empty or pattern.flat:
            return None, None, quadrants, ()
        exact = _C.multiply(
            _C.divide(_C.subtract(raw_sum, pattern.lo), pattern.span), _HUNDRED
        )
        score = exact.quantize(_TENTH, rounding=ROUND_HALF_UP, context=_C)
        grade = next((g for low, g in self.grades if score >= low), None)
        contributions = []
        for i, ten_e, sign, weight, cache in pattern.effective:
            raw = raws[i]
            contribution = cache.get(raw)
            if contribution is None:
                ind = self.policy.indicators[i]
                s = D(raw)  # type: ignore[arg-type]
                contribution = _bounded(cache, raw, construct(Contribution, {
                    "indicator": ind.id,
                    "quadrant": ind.quadrant,
                    "fact": ind.fact,
                    "score": float(s),
                    "weight": weight,
                    "points": _shown(_C.multiply(_C.multiply(ten_e, s), sign), _CENT),
                }))
            contributions.append(contribution)
        return float(score), grade, quadrants, tuple(contributions)


def _bounded(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    """Keep ``value`` under ``key`` unless the cache is full (as the memo); return it."""
    if len(cache) < _PART_LIMIT:
        cache[key] = value
    return value
