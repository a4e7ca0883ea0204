"""Where a decision's time goes: µs per pipeline stage, for the engines' owners.

  python -m bench.breakdown [compiled|durable] [--n 2000]

Times each stage of ``Decider.decide`` on its own, over the reference clients (one pass,
after a warm-up pass), then the whole call with the facts validation and the final
``Decision`` validation switched off in turn (by replacing the module attributes the
pipeline calls, in this process only), which shows what the rest of the shared code costs.
Stage names follow ``engine/evaluate.py``; if it is restructured, update the list here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from bench import contenders


def _per_call(fn: Callable[[Any], Any], items: Sequence[Any]) -> float:
    for item in items[:200]:
        fn(item)
    t0 = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - t0) / len(items) * 1e6


def breakdown(engine: str, n: int) -> list[tuple[str, float]]:
    import engine.evaluate as evaluate
    from engine import context
    from engine.facts import check_currency, check_requires, schema_errors
    from engine.swot import score_swot

    facts = contenders.inputs(engine, n)
    decider = evaluate.Decider(contenders.load_registry(contenders.REFERENCE_POLICIES), engine)
    as_of = contenders.AS_OF
    rows = [("whole decide()", _per_call(lambda f: decider.decide(f, as_of=as_of), facts))]
    rows.append(("  facts schema (jsonschema iter_errors)", _per_call(schema_errors, facts)))
    rows.append(("  select versions (as-of date)",
                 _per_call(lambda f: decider.select(as_of), facts)))
    selected = decider.select(as_of)
    loaded = [p.loaded for p in selected.values()]
    rows.append(("  currency + requires", _per_call(
        lambda f: (check_currency(f, loaded), check_requires(f, loaded)), facts)))
    rows.append(("  context build", _per_call(context.build, facts)))
    contexts = [context.build(f) for f in facts]
    swot = selected["swot"].loaded.policy
    rows.append(("  SWOT score (Decimal)", _per_call(lambda c: score_swot(swot, c), contexts)))
    for kind in ("classification", "risk", "proposal", "early_warning"):
        prepared = selected[kind].compiled
        rows.append((f"  engine.match {kind}", _per_call(
            lambda c, p=prepared: decider.engine.match(p, c), contexts)))
    decision = decider.decide(facts[0], as_of=as_of)
    payload = decision.model_dump()
    rows.append(("  Decision.model_validate", _per_call(
        lambda _: type(decision).model_validate(payload), facts)))
    rows.append(("  uuid4 + now", _per_call(lambda _: (uuid.uuid4().hex, dt.datetime.now(dt.UTC)),
                                          facts)))
    rows.append(("  (not timed by the bench) model_dump json", _per_call(
        lambda _: decision.model_dump(mode="json"), facts)))

    real_schema, real_decision = evaluate.schema_errors, evaluate.Decision
    try:
        evaluate.schema_errors = lambda f: []  # type: ignore[assignment]
        rows.append(("decide() without facts schema", _per_call(
            lambda f: decider.decide(f, as_of=as_of), facts)))
        evaluate.Decision = type(  # type: ignore[assignment,misc]
            "NoValidation", (), {"model_validate": staticmethod(lambda d: d)})
        rows.append(("decide() without schema and Decision validation", _per_call(
            lambda f: decider.decide(f, as_of=as_of), facts)))
    finally:
        evaluate.schema_errors, evaluate.Decision = real_schema, real_decision
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.breakdown")
    ap.add_argument("engine", nargs="?", default="compiled", choices=("compiled", "durable"))
    ap.add_argument("--n", type=int, default=2000)
    a = ap.parse_args(argv)
    print(f"{a.engine} engine, {a.n} reference clients, µs per call")
    for name, us in breakdown(a.engine, a.n):
        print(f"{name:52s} {us:8.1f}")


if __name__ == "__main__":
    main()
