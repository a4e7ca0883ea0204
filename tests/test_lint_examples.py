"""Every counter-example ``crmc lint`` shows is a valid facts document on which the
compiled engine does what the finding claims (which rules match, which do not)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compiled import CompiledEngine
from engine.context import build, lookup, with_outputs
from engine.facts import schema_errors
from engine.lint import Example, Finding, lint_file, load_target, policy_files
from engine.model import SwotPolicy
from engine.seam import LoadedPolicy
from engine.swot import indicator_score, score_swot

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "lint"


def _cases() -> list[tuple[Path, Finding]]:
    files, _ = policy_files([DATA, *sorted(DATA.iterdir()), ROOT / "policies"])
    out = []
    for path in files:
        for finding in lint_file(path, overlaps=True):
            if finding.example is not None:
                out.append((path, finding))
    return out


CASES = _cases()


def _context(example: Example) -> dict:
    ctx = build(example.facts)
    out = example.outputs
    with_outputs(ctx, segment=out.get("segment"), swot_score=out.get("swot.score"),
                 swot_grade=out.get("swot.grade"), risk_grade=out.get("risk.grade"))
    return ctx


def test_there_are_examples_of_every_kind() -> None:
    codes = {finding.code for _, finding in CASES}
    assert {"shadowed", "gap", "overlap", "band-gap", "missing-unhandled"} <= codes
    # the shipped policies' overlaps are among them (20+ pairs over three tables)
    assert sum(1 for p, _ in CASES if "policies" in p.parts) > 20


@pytest.mark.parametrize(("path", "finding"), CASES, ids=[str(f.problem)[:90] for _, f in CASES])
def test_counter_example_holds_on_the_compiled_engine(path: Path, finding: Finding) -> None:
    example = finding.example
    assert example is not None
    assert schema_errors(example.facts) == [], "the counter-example must be valid facts"
    target = load_target(path)
    assert target.policy is not None
    ctx = _context(example)
    if example.table == "indicators":
        _check_swot(target.policy, example, ctx)
        return
    engine = CompiledEngine()
    prepared = engine.prepare(LoadedPolicy(target.policy, "", path, target.document.data))
    matched = engine.match(prepared, ctx)
    assert set(example.matches) <= matched, f"expected {example.matches} to match"
    assert not set(example.misses) & matched, f"expected {example.misses} not to match"
    if finding.code in ("shadowed", "overlap"):
        # first match: the earlier rule wins, the reported one does not
        order = [r.id for r in getattr(target.policy, example.table)]
        winner = next(rid for rid in order if rid in matched)
        assert winner == example.matches[0] != example.matches[1]


def _check_swot(policy: object, example: Example, ctx: dict) -> None:
    assert isinstance(policy, SwotPolicy)
    indicators = {ind.id: ind for ind in policy.indicators}
    missed = [indicators[i] for i in example.misses]
    for ind in missed:  # none of them scores
        assert indicator_score(ind, lookup(ctx, ind.fact)) is None
    result = score_swot(policy, ctx)
    present = {ind.quadrant for ind in policy.indicators}
    dropped = {q for q in present
               if all(i in missed for i in policy.indicators if i.quadrant == q)}
    for quadrant in present:  # a quadrant drops out exactly when all of it is left out
        assert (result.quadrants[quadrant] is None) == (quadrant in dropped)
