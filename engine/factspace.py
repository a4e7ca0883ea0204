"""The typed space of fact paths a policy may read.

Derived from ``schemas/facts.schema.json`` (the client facts, contract §1) plus the
outputs of the pipeline steps that later steps may read:

=============  =========================================  ==============
path           type                                       produced by
=============  =========================================  ==============
``segment``    enum strategic_partner/high_net_worth/...  classification
``swot.score`` number 0–100                               swot
``swot.grade`` string (the swot policy's grade labels)    swot
``risk.grade`` enum strong/good/satisfactory/weak/default risk
``swot.<name>`` number 0–10 (analyst score)               the facts
=============  =========================================  ==============
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from engine.model import PIPELINE, RISK_GRADES, SEGMENTS

__all__ = ["FACTS_SCHEMA_PATH", "FactInfo", "FactSpace", "default_factspace"]

FACTS_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "facts.schema.json"

# Types a fact can have; "integer" facts accept integer values only.
NUMERIC = ("number", "integer")


@dataclass(frozen=True)
class FactInfo:
    """What a policy may know about one fact path."""

    path: str
    type: str  # "number" | "integer" | "string" | "boolean"
    enum: tuple[str, ...] | None = None  # allowed values of an enumerated string
    step: str | None = None  # pipeline step producing it; None for client facts
    minimum: float | None = None
    maximum: float | None = None

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC

    def describe(self) -> str:
        """``"enum (AAA, AA, ...)"``, ``"number"``: for messages."""
        if self.enum is not None:
            return "enum (" + ", ".join(self.enum) + ")"
        return self.type


class FactSpace:
    """Answers: does a path exist, what type is it, which step produces it."""

    def __init__(self, facts: dict[str, FactInfo],
                 patterns: list[tuple[re.Pattern[str], FactInfo]]):
        self._facts = facts
        self._patterns = patterns  # (regex, template) for open groups such as swot.<name>

    @classmethod
    def from_schema(cls, schema: dict[str, Any]) -> FactSpace:
        facts: dict[str, FactInfo] = {}
        patterns: list[tuple[re.Pattern[str], FactInfo]] = []
        for name, prop in schema.get("properties", {}).items():
            if prop.get("type") == "object":
                for field, sub in prop.get("properties", {}).items():
                    info = _info(f"{name}.{field}", sub)
                    if info is not None:
                        facts[info.path] = info
                extra = prop.get("additionalProperties")
                if isinstance(extra, dict):
                    names = prop.get("propertyNames", {})
                    pattern = names.get("pattern", r"^[a-z][a-z0-9_]*$").strip("^$")
                    template = _info(f"{name}.<name>", extra)
                    if template is not None:
                        patterns.append((re.compile(rf"{re.escape(name)}\.({pattern})"), template))
            else:
                info = _info(name, prop)
                if info is not None:
                    facts[name] = info
        # Outputs of the pipeline steps (engine.evaluate puts them into the context).
        for info in (
            FactInfo("segment", "string", SEGMENTS, "classification"),
            FactInfo("swot.score", "number", None, "swot", 0, 100),
            FactInfo("swot.grade", "string", None, "swot"),
            FactInfo("risk.grade", "string", RISK_GRADES, "risk"),
        ):
            facts[info.path] = info
        return cls(facts, patterns)

    def lookup(self, path: str) -> FactInfo | None:
        """The fact at ``path``, or None when no such fact exists."""
        info = self._facts.get(path)
        if info is not None:
            return info
        for regex, template in self._patterns:
            if regex.fullmatch(path):
                return FactInfo(path, template.type, template.enum, template.step,
                                template.minimum, template.maximum)
        return None

    def __contains__(self, path: str) -> bool:
        return self.lookup(path) is not None

    def type_of(self, path: str) -> str | None:
        info = self.lookup(path)
        return None if info is None else info.type

    def step_of(self, path: str) -> str | None:
        """Pipeline step producing ``path`` (None: a client fact, or unknown)."""
        info = self.lookup(path)
        return None if info is None else info.step

    def readable_by(self, path: str, kind: str) -> bool:
        """May a policy of ``kind`` read ``path``? Only outputs of earlier steps."""
        step = self.step_of(path)
        return step is None or PIPELINE.index(step) < PIPELINE.index(kind)

    def paths(self) -> list[str]:
        """Every concrete path (open groups such as ``swot.<name>`` excluded)."""
        return sorted(self._facts)

    def suggest(self, path: str) -> str | None:
        """The closest known path ("did you mean"), or None."""
        known = self.paths()
        match = difflib.get_close_matches(path, known, n=1, cutoff=0.75)
        if match:
            return match[0]
        # A misspelt or missing group: compare the last segment alone
        # (``ebitda_margn`` or ``finance.ebitda_margin`` -> ``financials.ebitda_margin``).
        last = path.rsplit(".", 1)[-1]
        by_last = {p.rsplit(".", 1)[-1]: p for p in known}
        match = difflib.get_close_matches(last, list(by_last), n=1, cutoff=0.75)
        return by_last[match[0]] if match else None


def _info(path: str, prop: dict[str, Any]) -> FactInfo | None:
    kind = prop.get("type")
    if isinstance(kind, list):  # e.g. ["number", "null"]: keep the non-null type
        kind = next((k for k in kind if k != "null"), None)
    if kind not in ("number", "integer", "string", "boolean"):
        return None
    enum = tuple(prop["enum"]) if "enum" in prop else None
    minimum = prop.get("minimum", prop.get("exclusiveMinimum"))
    maximum = prop.get("maximum", prop.get("exclusiveMaximum"))
    return FactInfo(path, kind, enum, None, minimum, maximum)


@cache
def default_factspace() -> FactSpace:
    """The fact space of the project's ``schemas/facts.schema.json`` (read once)."""
    schema = json.loads(FACTS_SCHEMA_PATH.read_text(encoding="utf-8"))
    return FactSpace.from_schema(schema)
