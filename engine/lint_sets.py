"""Exact value sets for static analysis: unions of numeric intervals and finite/cofinite sets.

``crmc lint`` reasons about rule conditions as regions of the facts space. Along one fact a
region is a value set, and these are the two kinds we need, both closed under intersection,
union and complement, so the analysis is exact (no sampling):

* :class:`NumSet` — a finite union of intervals with open or closed bounds, possibly
  unbounded. An *integer* set (``monitoring.days_past_due``) is normalised to closed integer
  bounds, so ``gt: 30`` and ``gte: 31`` are the same set there and ``(30, 31)`` is empty.
* :class:`FinSet` — a finite set of strings/booleans, or the complement of one (``co``) for a
  free-text fact such as ``profile.industry``.

Bounds are the policy's own numbers (floats as the engines compare them), never rounded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["INF", "FinSet", "Interval", "NumSet"]

INF = math.inf

# (low, low included, high, high included); an infinite bound is never included.
Interval = tuple[float, bool, float, bool]


def _empty(iv: Interval) -> bool:
    lo, lo_in, hi, hi_in = iv
    return lo > hi or (lo == hi and not (lo_in and hi_in))


def _to_int(iv: Interval) -> Interval:
    """Closed integer bounds: (30, 40] -> [31, 40]."""
    lo, lo_in, hi, hi_in = iv
    if math.isfinite(lo):
        lo = math.ceil(lo) if lo_in or lo != math.floor(lo) else math.floor(lo) + 1
        lo_in = True
    if math.isfinite(hi):
        hi = math.floor(hi) if hi_in or hi != math.ceil(hi) else math.ceil(hi) - 1
        hi_in = True
    return (lo, lo_in, hi, hi_in)


def _normalise(ivs: Iterable[Interval], integer: bool) -> tuple[Interval, ...]:
    items = [(_to_int(iv) if integer else iv) for iv in ivs]
    items = sorted((iv for iv in items if not _empty(iv)), key=lambda iv: (iv[0], not iv[1]))
    out: list[Interval] = []
    for iv in items:
        if out:
            lo, lo_in, hi, hi_in = out[-1]
            touches = iv[0] < hi or (iv[0] == hi and (hi_in or iv[1]))
            if integer and hi != INF and iv[0] == hi + 1:
                touches = True  # [1, 3] and [4, 9] hold every integer of [1, 9]
            if touches:
                if iv[2] > hi or (iv[2] == hi and iv[3]):
                    hi, hi_in = iv[2], iv[3] if iv[2] > hi else (hi_in or iv[3])
                out[-1] = (lo, lo_in, hi, hi_in)
                continue
        out.append(iv)
    return tuple(out)


def _nice_between(lo: float, hi: float) -> float:
    """A short decimal strictly inside (lo, hi), for counter-examples people can read."""
    for digits in range(7):
        candidate = round((lo + hi) / 2, digits)
        if lo < candidate < hi:
            return candidate
    return (lo + hi) / 2


@dataclass(frozen=True)
class NumSet:
    """A union of disjoint, sorted intervals; ``integer`` restricts it to whole numbers."""

    ivs: tuple[Interval, ...] = ()
    integer: bool = False

    @classmethod
    def of(cls, ivs: Iterable[Interval], integer: bool = False) -> NumSet:
        return cls(_normalise(ivs, integer), integer)

    @classmethod
    def reals(cls, integer: bool = False) -> NumSet:
        return cls.of([(-INF, False, INF, False)], integer)

    @classmethod
    def point(cls, value: float, integer: bool = False) -> NumSet:
        return cls.of([(value, True, value, True)], integer)

    @property
    def empty(self) -> bool:
        return not self.ivs

    def __and__(self, other: NumSet) -> NumSet:
        integer = self.integer or other.integer
        out: list[Interval] = []
        for a in self.ivs:
            for b in other.ivs:
                lo, lo_in = max((a[0], a[1]), (b[0], b[1]), key=lambda p: (p[0], not p[1]))
                hi, hi_in = min((a[2], a[3]), (b[2], b[3]), key=lambda p: (p[0], p[1]))
                out.append((lo, lo_in, hi, hi_in))
        return NumSet.of(out, integer)

    def __or__(self, other: NumSet) -> NumSet:
        return NumSet.of(self.ivs + other.ivs, self.integer and other.integer)

    def complement(self) -> NumSet:
        """Complement on the real line (integer sets: on the integers)."""
        out: list[Interval] = []
        lo, lo_in = -INF, False
        for a_lo, a_lo_in, a_hi, a_hi_in in self.ivs:
            out.append((lo, lo_in, a_lo, not a_lo_in and a_lo != -INF))
            lo, lo_in = a_hi, not a_hi_in and a_hi != INF
        out.append((lo, lo_in, INF, False))
        return NumSet.of(out, self.integer)

    def __sub__(self, other: NumSet) -> NumSet:
        return self & other.complement()

    def __contains__(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.integer and value != math.floor(value):
            return False
        return any(
            (lo < value or (lo_in and lo == value)) and (value < hi or (hi_in and hi == value))
            for lo, lo_in, hi, hi_in in self.ivs
        )

    def pick(self) -> float | int:
        """A representative member, preferring a bound or a short decimal."""
        lo, lo_in, hi, hi_in = self.ivs[0]
        if lo_in:
            value: float = lo
        elif hi_in:
            value = hi
        elif lo == -INF and hi == INF:
            value = 0
        elif lo == -INF:
            value = math.ceil(hi) - 1
        elif hi == INF:
            value = math.floor(lo) + 1
        else:
            value = _nice_between(lo, hi)
        return int(value) if value == int(value) and abs(value) < 1e15 else value

    def describe(self) -> str:
        if not self.ivs:
            return "no value"
        return " or ".join(_describe(iv) for iv in self.ivs)


def _fmt(x: float) -> str:
    return str(int(x)) if x == int(x) and abs(x) < 1e15 else repr(x)


def _describe(iv: Interval) -> str:
    lo, lo_in, hi, hi_in = iv
    if lo == hi:
        return f"= {_fmt(lo)}"
    if lo == -INF:
        return f"{'≤' if hi_in else '<'} {_fmt(hi)}"
    if hi == INF:
        return f"{'≥' if lo_in else '>'} {_fmt(lo)}"
    return f"{'[' if lo_in else '('}{_fmt(lo)}, {_fmt(hi)}{']' if hi_in else ')'}"


@dataclass(frozen=True)
class FinSet:
    """A finite set of values, or (``co``) everything except a finite set."""

    values: frozenset = frozenset()
    co: bool = False

    @property
    def empty(self) -> bool:
        return not self.co and not self.values

    def __and__(self, other: FinSet) -> FinSet:
        if not self.co and not other.co:
            return FinSet(self.values & other.values)
        if not self.co:
            return FinSet(self.values - other.values)
        if not other.co:
            return FinSet(other.values - self.values)
        return FinSet(self.values | other.values, co=True)

    def __or__(self, other: FinSet) -> FinSet:
        return (self.complement() & other.complement()).complement()

    def complement(self) -> FinSet:
        return FinSet(self.values, co=not self.co)

    def __sub__(self, other: FinSet) -> FinSet:
        return self & other.complement()

    def __contains__(self, value: Any) -> bool:
        # True == 1 in Python; a boolean and a number must never meet here.
        found = any(v == value and type(v) is type(value) for v in self.values)
        return found != self.co

    def pick(self, order: tuple = ()) -> Any:
        if not self.co:
            for value in order:
                if value in self:
                    return value
            return sorted(self.values, key=str)[0]
        n = 0
        while f"example{n or ''}" in self.values:
            n += 1
        return f"example{n or ''}"

    def describe(self, order: tuple = ()) -> str:
        rank = {v: k for k, v in enumerate(order)}
        ordered = sorted(self.values, key=lambda v: (rank.get(v, len(rank)), str(v)))
        shown = ", ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in ordered)
        if self.co:
            return f"anything but {shown}" if shown else "any value"
        return shown or "no value"
