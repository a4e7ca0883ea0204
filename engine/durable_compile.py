"""Policy version → durable_rules ruleset: the translation behind ``engine.durable``.

durable_rules is fragile with raw values (``1e-05`` and ``1e+20`` fail to parse with
error 204, integers beyond int64 saturate, ``inf`` fails with 202, mixed string/number
comparisons are lexicographic, ``Decimal`` cannot be serialised) and has no ``$in``.
So the engine never sees a raw fact value. Every fact path the version reads becomes one
flat attribute of the message (``f0``, ``f1``, …) holding a small integer *code*:

- numbers (``int``/``float``, never ``bool``) are coded by their rank among the numeric
  constants the version compares that path with: with sorted constants ``c0 < … < cn-1``,
  a value equal to ``ck`` is ``2k+2``, a value strictly between ``ck-1`` and ``ck`` is
  ``2k+1`` (below ``c0``: 1, above ``cn-1``: ``2n+1``). Python computes the rank exactly
  (an int and a float compare by value, big integers included), and every comparison the
  policy can make on that path gives the same answer on the codes;
- strings equal to a constant of the path get one code each, any other string a shared
  one; ``false``/``true`` one code each; anything else (NaN, lists, objects…) one code;
- an absent fact has no attribute (code 0 below stands for "absent").

A leaf is then a set of codes (``gte: 1.3`` = every numeric code from the one of 1.3 up),
``not`` is the complement — which contains "absent", so ``not`` over a leaf on a missing
fact holds — and ``all``/``any`` intersect or unite leaves on the same path. What is left
is expanded to disjunctive normal form, each alternative one durable_rules rule whose
pattern is a flat ``$and`` of the tag, integer intervals and ``$nex``: the engine still does
the matching (every alternative is matched in its Rete network), but only over small
integers it compares exactly, and without nested groups (see ``_expand``).

Limits found by experiment and enforced here as ``PolicyError``s (located at the rule):
at most 254 properties per message (``MAX_FACTS``), at most 513 rules per ruleset
(``MAX_BRANCHES`` + the open rule; from 514 on ``create_ruleset`` never returns).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.errors import PolicyError, Problem
from engine.model import AllOf, Condition, Leaf, NotOf, leaves, rule_tables
from engine.seam import LoadedPolicy

__all__ = ["MAX_BRANCHES", "MAX_FACTS", "TAG", "Coding", "Program", "compile_policy"]

TAG = "t"  # every pattern tests {t: 1}: the session-state fact {sid, id, $s} never matches
OPEN_RULE = "open"  # always fires first, so that delete_state never meets an action-less sid
MAX_FACTS = 250  # a message holds at most 255 properties (error 302): sid, id, t + facts
# Every alternative of a condition (in disjunctive normal form) is one durable_rules rule.
# From 514 rules (or internal $or branches) in one ruleset on, create_ruleset never returns
# (measured: 513 take 15 ms, 514 loop forever): the open rule + 512 at most.
MAX_BRANCHES = 512
MAX_NESTED_GROUPS = 8  # per pattern; error 113 (expression limit) from about 14 on
ABSENT = 0


@dataclass(frozen=True)
class Coding:
    """How the values of one fact path are coded as small integers (see module doc)."""

    path: str
    key: str
    numbers: tuple[int | float, ...]  # sorted, unique by value, no NaN
    strings: dict[str, int]
    other_string: int
    false: int
    true: int
    other: int  # also the largest code

    @classmethod
    def build(cls, path: str, key: str, constants: Iterable[Any]) -> Coding:
        numbers: set[int | float] = set()
        strings: dict[str, int] = {}
        for c in constants:
            kind = c.__class__
            if kind is bool:
                continue
            if kind is int or kind is float:
                if c == c:  # a NaN constant equals nothing: it needs no code
                    numbers.add(c)
            elif kind is str:
                strings.setdefault(c, len(strings))  # first appearance keeps `in` lists contiguous
        ordered = tuple(sorted(numbers))
        base = 2 * len(ordered) + 2
        codes = {s: base + i for s, i in strings.items()}
        n = base + len(codes)
        return cls(path, key, ordered, codes, n, n + 1, n + 2, n + 3)

    def encode(self, v: Any) -> int:
        """The code of a present value (the same rules as ``code_of_constant``)."""
        kind = v.__class__
        if kind is int or kind is float:
            if v != v:
                return self.other
            nums = self.numbers
            i = bisect.bisect_left(nums, v)
            return 2 * i + 2 if i < len(nums) and nums[i] == v else 2 * i + 1
        if kind is str:
            return self.strings.get(v, self.other_string)
        if kind is bool:
            return self.true if v else self.false
        return self.other

    def constant(self, c: Any) -> int | None:
        """The code a constant of the policy has; ``None`` if no value can equal it."""
        if c.__class__ is float and math.isnan(c):
            return None
        return self.encode(c)

    @property
    def present(self) -> frozenset[int]:
        return frozenset(range(1, self.other + 1))

    @property
    def universe(self) -> frozenset[int]:
        return frozenset(range(self.other + 1))

    def numeric(self, lo: int, hi: int) -> frozenset[int]:
        """Numeric codes in [lo, hi], clipped to the numeric range."""
        return frozenset(range(max(lo, 1), min(hi, 2 * len(self.numbers) + 1) + 1))


def _leaf_codes(leaf: Leaf, coding: Coding) -> frozenset[int]:
    """The codes (ABSENT included or not) for which ``leaf`` holds."""
    op, x = leaf.op, leaf.value
    top = 2 * len(coding.numbers) + 1
    if op == "exists":
        return coding.present if x else frozenset({ABSENT})
    if op in ("eq", "in", "ne", "not_in"):
        values = x if op in ("in", "not_in") else [x]
        hits = frozenset(c for v in values if (c := coding.constant(v)) is not None)
        # numbers are ranked, so the code of a numeric constant is an even number: a value
        # coded odd lies between constants and equals none of them.
        return hits if op in ("eq", "in") else coding.present - hits
    if op == "between":
        lo, hi = (coding.constant(v) for v in x)
        return frozenset() if lo is None or hi is None else coding.numeric(lo, hi)
    c = coding.constant(x)
    if c is None:
        return frozenset()
    return {
        "lt": lambda: coding.numeric(1, c - 1),
        "lte": lambda: coding.numeric(1, c),
        "gt": lambda: coding.numeric(c + 1, top),
        "gte": lambda: coding.numeric(c, top),
    }[op]()


# --- condition trees over code sets --------------------------------------------------------
# A node is True, False, ("leaf", Coding, codes), ("and", [nodes]) or ("or", [nodes]).
Node = Any


def _leaf_node(coding: Coding, codes: frozenset[int]) -> Node:
    if not codes:
        return False
    if codes == coding.universe:
        return True
    return ("leaf", coding, codes)


def _combine(op: str, kids: list[Node]) -> Node:
    identity, absorbing = (True, False) if op == "and" else (False, True)
    flat: list[Node] = []
    by_path: dict[str, frozenset[int]] = {}
    codings: dict[str, Coding] = {}
    for kid in kids:
        if kid is absorbing:
            return absorbing
        if kid is identity:
            continue
        if kid[0] == op:
            flat.extend(kid[1])
        else:
            flat.append(kid)
    rest: list[Node] = []
    for kid in flat:
        if kid[0] == "leaf":
            _, coding, codes = kid
            if coding.path in by_path:
                old = by_path[coding.path]
                codes = old & codes if op == "and" else old | codes
            by_path[coding.path] = codes
            codings[coding.path] = coding
        else:
            rest.append(kid)
    merged = [_leaf_node(codings[p], codes) for p, codes in by_path.items()]
    out = []
    for kid in merged + rest:
        if kid is absorbing:
            return absorbing
        if kid is not identity:
            out.append(kid)
    if not out:
        return identity
    return out[0] if len(out) == 1 else (op, out)


def _tree(cond: Condition, codings: dict[str, Coding], negate: bool = False) -> Node:
    """``cond`` (negated if asked) with ``not`` pushed down to the leaves (De Morgan)."""
    if isinstance(cond, Leaf):
        coding = codings[cond.fact]
        codes = _leaf_codes(cond, coding)
        return _leaf_node(coding, coding.universe - codes if negate else codes)
    if isinstance(cond, NotOf):
        return _tree(cond.not_, codings, not negate)
    kids = [_tree(c, codings, negate) for c in (cond.all if isinstance(cond, AllOf) else cond.any)]
    is_all = isinstance(cond, AllOf)
    return _combine("and" if is_all != negate else "or", kids)


def _leaf_parts(coding: Coding, codes: frozenset[int]) -> list[list[dict]]:
    """Alternatives for a code set: ``$nex`` for ABSENT, one interval per run of codes."""
    key, top = coding.key, coding.other
    parts: list[list[dict]] = [[{"$nex": {key: 1}}]] if ABSENT in codes else []
    run = sorted(codes - {ABSENT})
    start = 0
    while start < len(run):
        end = start
        while end + 1 < len(run) and run[end + 1] == run[end] + 1:
            end += 1
        lo, hi = run[start], run[end]
        if lo == hi:
            parts.append([{key: lo}])
        elif lo == 1 and hi == top:
            parts.append([{"$ex": {key: 1}}])
        elif lo == 1:
            parts.append([{"$lte": {key: hi}}])
        elif hi == top:
            parts.append([{"$gte": {key: lo}}])
        else:
            parts.append([{"$gte": {key: lo}}, {"$lte": {key: hi}}])
        start = end + 1
    return parts


def _count(node: Node) -> int:
    """How many flat conjunctions a node expands to (computed without expanding it)."""
    if node is True:
        return 1
    if node[0] == "leaf":
        return len(_leaf_parts(node[1], node[2]))
    counts = [_count(kid) for kid in node[1]]
    return math.prod(counts) if node[0] == "and" else sum(counts)


def _expand(node: Node) -> list[list[dict]]:
    """The node in disjunctive normal form: alternatives, each a flat list of tests.

    durable_rules expands nested ``$or`` itself (a rule fires once per satisfied branch),
    but nested ``$and``/``$or`` groups cost slots in a fixed table of 32 per pattern
    (error 113 from about 14 groups on): flat patterns have no such limit.
    """
    if node is True:
        return [[]]
    if node[0] == "leaf":
        return _leaf_parts(node[1], node[2])
    expanded = [_expand(kid) for kid in node[1]]
    if node[0] == "or":
        return [alt for alts in expanded for alt in alts]
    product: list[list[dict]] = [[]]
    for alts in expanded:
        product = [left + right for left in product for right in alts]
    return product


def _nested(node: Node) -> list[dict]:
    """The node as tests to put in a pattern's ``$and``, keeping ``$or`` (nested) as is."""
    if node is True:
        return []
    if node[0] == "leaf":
        alternatives = _leaf_parts(node[1], node[2])
    elif node[0] == "and":
        return [test for kid in node[1] for test in _nested(kid)]
    else:
        alternatives = [_nested(kid) for kid in node[1]]
    if len(alternatives) == 1:
        return alternatives[0]
    branches: list[dict] = []
    for alt in alternatives:
        if len(alt) == 1 and "$or" in alt[0]:
            branches.extend(alt[0]["$or"])  # an $or in an $or: one level
        else:
            branches.append(alt[0] if len(alt) == 1 else {"$and": alt})
    return [{"$or": branches}]


def _groups(tests: list[dict]) -> int:
    """Nested ``$and``/``$or`` groups in a pattern's tests (each takes slots in durable_rules)."""
    return sum(
        1 + _groups(test[op]) for test in tests for op in ("$and", "$or") if op in test
    )


def _exists_in_group(tests: list[dict], nested: bool = False) -> bool:
    """Whether an ``$ex``/``$nex`` sits inside a group (limited to ~128 per ruleset: 107)."""
    for test in tests:
        for op in ("$and", "$or"):
            if op in test and _exists_in_group(test[op], True):
                return True
        if nested and ("$ex" in test or "$nex" in test):
            return True
    return False


@dataclass(frozen=True)
class Program:
    """A policy version ready for durable_rules: the ruleset and how to build messages."""

    name: str  # the ruleset name: <policy-id>@<version>
    definition: dict[str, Any]  # the ruleset, as data (copy it: the engine mutates dicts)
    codings: tuple[Coding, ...]  # one per fact path read, in message-key order
    rule_ids: dict[str, str]  # durable rule name -> policy rule id


def compile_policy(loaded: LoadedPolicy) -> Program:
    """Translate every rule table of a policy version; ``PolicyError`` if one cannot be."""
    tables = rule_tables(loaded.policy)
    constants: dict[str, list[Any]] = {}
    for table in tables.values():
        for rule in table:
            for leaf in leaves(rule.when):
                v = leaf.value
                constants.setdefault(leaf.fact, []).extend(
                    v if isinstance(v, list | tuple) else [v]
                )
    paths = sorted(constants)
    problems = []
    if len(paths) > MAX_FACTS:
        problems.append(_problem(loaded, "$", f"reads {len(paths)} facts; durable_rules "
                                 f"messages hold at most {MAX_FACTS}"))
    codings = {p: Coding.build(p, f"f{i}", constants[p]) for i, p in enumerate(paths)}
    definition: dict[str, Any] = {OPEN_RULE: {"all": [{"m": {TAG: 1}}]}}
    rule_ids: dict[str, str] = {}
    branches = 0
    for table_name, table in tables.items():
        for index, rule in enumerate(table):
            node = _tree(rule.when, codings)
            if node is False:
                continue  # can never hold: nothing to register
            count = _count(node)
            branches += count
            if branches > MAX_BRANCHES:
                problems.append(_problem(
                    loaded, f"$.{table_name}[{index}].when",
                    f"rule {rule.id} brings the version to {branches} alternatives once "
                    f"expanded for durable_rules (at most {MAX_BRANCHES}); simplify it",
                ))
                continue
            nested = _nested(node)
            # One rule with nested $or is cheaper in durable_rules (risk@1.0.0: 6.3 µs vs
            # 8.3 µs flat) but fails from about 14 nested groups (error 113), and from about
            # 128 $ex/$nex inside groups per ruleset (error 107): else flat alternatives.
            flat = _groups(nested) > MAX_NESTED_GROUPS or _exists_in_group(nested)
            for tests in _expand(node) if flat else [nested]:
                name = f"r{len(rule_ids)}"  # short: the name comes back in every action
                rule_ids[name] = rule.id
                pattern = {"$and": [{TAG: 1}, *tests]} if tests else {TAG: 1}
                definition[name] = {"all": [{"m": pattern}]}
    if problems:
        raise PolicyError(problems)
    return Program(loaded.key, definition, tuple(codings[p] for p in paths), rule_ids)


def _problem(loaded: LoadedPolicy, json_path: str, message: str) -> Problem:
    return Problem(str(loaded.path), 0, 0, "durable", message, json_path)
