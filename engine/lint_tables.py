"""First-match tables: shadowed rules, gaps (no default) and, on request, overlaps.

Regions are exact (see :mod:`engine.lint_space`); every finding carries a counter-example
whose claim (which rules match it, which do not) the compiled engine can confirm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lint_rules import box_text, outcome_text
from engine.lint_space import Box
from engine.model import Rule

if TYPE_CHECKING:
    from engine.lint_rules import Linter

__all__ = ["first_match"]

_WHAT = {"classification": "segment", "risk": "risk grade", "proposal": "base structure"}


def first_match(lt: Linter, table: str, rules: list[Rule], regions: list[list[Box]],
                reads: list[str]) -> None:
    space = lt.space
    ids = [rule.id for rule in rules]
    for j, rule in enumerate(rules):
        region = regions[j]
        earlier = [box for k in range(j) for box in regions[k]]
        if not region or not earlier or not space.covers(earlier, region):
            continue
        point = space.point(region[0], reads)
        k = next(k for k in range(j) if space.holds(regions[k], point))
        takers = _cover(lt, [m for m in range(j) if space.region_meet(regions[m], region)],
                        regions, region)
        names = ", ".join(repr(ids[t]) for t in takers)
        who = f"earlier rules {names} match" if len(takers) > 1 else f"earlier rule {names} matches"
        lt.add((table, j), "shadowed",
               f"rule '{rule.id}' is never reached: {who} every case it matches",
               example=lt.example(point, table, matches=(ids[k], rule.id),
                                  misses=tuple(ids[:k])))

    if lt.overlaps:
        _overlaps(lt, table, rules, regions, reads)

    if not lt.has_default:
        every = [box for region in regions for box in region]
        rest = space.region_minus([{}], every)
        if rest:
            # The most telling case: the one with the fewest facts that must be missing.
            box = min(rest, key=lambda b: sum(fs.values.empty for fs in b.values()))
            more = f" ({len(rest)} disjoint cases in all)" if len(rest) > 1 else ""
            lt.add((table,), "gap",
                   f"no rule matches {box_text(box, space)} and there is no default, so such "
                   f"facts get no {_WHAT.get(lt.policy.kind, 'outcome')}{more}",
                   example=lt.example(space.point(box, reads), table, misses=tuple(ids)),
                   key=True)


def _cover(lt: Linter, candidates: list[int], regions: list[list[Box]],
           region: list[Box]) -> list[int]:
    """A small subset of the earlier rules that still covers ``region`` (greedy)."""
    keep = list(candidates)
    for k in candidates:
        rest = [m for m in keep if m != k]
        if rest and lt.space.covers([b for m in rest for b in regions[m]], region):
            keep = rest
    return keep


def _overlaps(lt: Linter, table: str, rules: list[Rule], regions: list[list[Box]],
              reads: list[str]) -> None:
    """Pairs i < j with different outcomes that both match facts no rule before i takes:
    on those facts the order of i and j alone decides the outcome."""
    space = lt.space
    ids = [rule.id for rule in rules]
    for j, rule in enumerate(rules):
        for i in range(j):
            if outcome_text(rules[i]) == outcome_text(rule):
                continue
            both = space.region_meet(regions[i], regions[j])
            before = [box for k in range(i) for box in regions[k]]
            both = space.region_minus(both, before)
            if not both:
                continue
            point = space.point(both[0], reads)
            lt.add((table, j), "overlap",
                   f"rule '{rule.id}' ({outcome_text(rule)}) overlaps '{ids[i]}' "
                   f"({outcome_text(rules[i])}) on {box_text(both[0], space)}: '{ids[i]}' wins "
                   f"because it comes first; swapped, these facts would get "
                   f"{outcome_text(rule)}",
                   example=lt.example(point, table, matches=(ids[i], rule.id),
                                      misses=tuple(ids[:i])))
