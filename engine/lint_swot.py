"""SWOT indicator checks: holes between bands, and quadrants one missing fact removes.

What the SWOT step does with a value (``engine.swot``): the first band whose bounds it
meets scores it (or its ``map`` entry, or the value itself for ``direct``); a missing fact
or a value no band/entry takes scores ``otherwise`` if given, else the indicator is left
out and its quadrant renormalises over the indicators present; a quadrant with none present
drops out and the quadrant weights renormalise.

* ``band-gap``: values in the fact's domain (facts schema) that no band or map entry scores,
  with no else band and no ``otherwise``: the hole silently acts like a missing fact.
* ``missing-unhandled``: renormalising *within* a quadrant is the policy's stated way of
  handling a missing fact (the other indicators of the quadrant stand in, and the decision
  lists the fact under ``missing_facts``), so an ordinary indicator is not reported. It is
  reported when nothing can stand in: every indicator of its quadrant reads the same
  optional fact, none has ``otherwise``, and the fact is not in ``requires`` — then one
  missing value removes the whole quadrant and shifts its weight to the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lint_sets import NumSet
from engine.lint_space import ABSENT
from engine.model import QUADRANTS, Band, Indicator, SwotPolicy

if TYPE_CHECKING:
    from engine.lint_rules import Linter

__all__ = ["band_set", "lint_swot"]


def band_set(band: Band) -> NumSet:
    """The values a band's bounds admit (all reals for an else band)."""
    lo, lo_in, hi, hi_in = -float("inf"), False, float("inf"), False
    if band.gte is not None:
        lo, lo_in = band.gte, True
    if band.gt is not None and (band.gt > lo or (band.gt == lo and lo_in)):
        lo, lo_in = band.gt, False
    if band.lte is not None:
        hi, hi_in = band.lte, True
    if band.lt is not None and (band.lt < hi or (band.lt == hi and hi_in)):
        hi, hi_in = band.lt, False
    return NumSet.of([(lo, lo_in, hi, hi_in)])


def _is_else(band: Band) -> bool:
    return all(getattr(band, k) is None for k in ("gte", "gt", "lte", "lt"))


def _others(lt: Linter, ind: Indicator, value: object) -> dict[str, object]:
    """A point with every indicator's fact present, and ``ind``'s fact at ``value``."""
    assert isinstance(lt.policy, SwotPolicy)
    point = {other.fact: lt.space.any_value(other.fact) for other in lt.policy.indicators}
    point[ind.fact] = value
    return point


def lint_swot(lt: Linter, policy: SwotPolicy) -> None:
    for i, ind in enumerate(policy.indicators):
        lt.fact_ref(ind.fact, ("indicators", i, "fact"))
        if not lt.unknown(ind.fact) and ind.otherwise is None:
            _holes(lt, i, ind)
    for quadrant in QUADRANTS:
        _quadrant(lt, policy, quadrant)


def _holes(lt: Linter, i: int, ind: Indicator) -> None:
    dom = lt.space.domain(ind.fact)
    path = ("indicators", i)
    if ind.bands is not None and dom.numeric:
        if any(_is_else(band) for band in ind.bands):
            return
        covered = NumSet()
        for band in ind.bands:
            covered = covered | band_set(band)
        hole = dom.full.values - covered  # type: ignore[operator]
        if hole.empty:
            return
        value = hole.pick()
        lt.add((*path, "bands"), "band-gap",
               f"no band of indicator '{ind.id}' scores {ind.fact} "
               f"{hole.describe()} and it has no else band or otherwise: such a value "
               f"leaves the indicator out as if the fact were missing",
               example=lt.example(_others(lt, ind, value), "indicators", misses=(ind.id,)))
    elif ind.map is not None and dom.kind in ("enum", "boolean"):
        def key(v: object) -> str:
            return ("true" if v else "false") if isinstance(v, bool) else str(v)

        hole = [v for v in dom.order if key(v) not in ind.map]
        if hole:
            lt.add((*path, "map"), "band-gap",
                   f"the map of indicator '{ind.id}' has no entry for {ind.fact} "
                   f"{', '.join(key(v) for v in hole)} and there is no otherwise: such a "
                   f"value leaves the indicator out as if the fact were missing",
                   example=lt.example(_others(lt, ind, hole[0]), "indicators",
                                      misses=(ind.id,)))


def _quadrant(lt: Linter, policy: SwotPolicy, quadrant: str) -> None:
    members = [(i, ind) for i, ind in enumerate(policy.indicators) if ind.quadrant == quadrant]
    if not members or any(ind.otherwise is not None for _, ind in members):
        return
    facts = {ind.fact for _, ind in members}
    if len(facts) != 1:
        return
    fact = facts.pop()
    if lt.unknown(fact) or not lt.space.full(fact).absent:
        return
    # Every other indicator present, this fact missing: the quadrant alone disappears.
    point = {ind.fact: lt.space.any_value(ind.fact) for ind in policy.indicators}
    point[fact] = ABSENT
    i = members[0][0]
    lt.add(("indicators", i, "fact"), "missing-unhandled",
           f"when {fact} is missing, the {quadrant} quadrant has no indicator left and drops "
           f"out of the SWOT score, its weight going to the other quadrants; add another "
           f"indicator to the quadrant, give '{members[0][1].id}' an otherwise score, or list "
           f"{fact} under requires",
           example=lt.example(point, "indicators", misses=tuple(ind.id for _, ind in members)))

