"""Helpers for the decision tests: the default registry, deciders per engine, examples.

Both engines always run: ``engine.durable`` is imported here, so a broken durable engine
fails every decision suite loudly instead of skipping half of it.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

import engine.durable  # noqa: F401  (never skipped: an import error fails the suites)
from engine.evaluate import Decider
from engine.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
EXAMPLES = Path(__file__).resolve().parent / "data" / "examples"  # copies of shared/examples
GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLE_NAMES = ("seed-case", "strategic-partner", "general-client", "distressed-client")

FROZEN_AT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)

ENGINE_PARAMS = [
    pytest.param("compiled", id="compiled"),
    pytest.param("durable", id="durable"),
]


@lru_cache(maxsize=1)
def registry() -> Registry:
    return Registry.load(POLICIES)


@lru_cache(maxsize=2)
def decider(engine: str) -> Decider:
    """One Decider per engine per test process (durable rulesets register only once)."""
    return Decider(registry(), engine)


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def frozen(engine: str, facts: Any, **kwargs: Any) -> dict[str, Any]:
    """A decision as JSON with id and clock frozen (for golden files and comparisons)."""
    kwargs.setdefault("decision_id", "golden-0001")
    kwargs.setdefault("decided_at", FROZEN_AT)
    return decider(engine).decide(facts, **kwargs).model_dump(mode="json")
