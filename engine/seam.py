"""The seam between shared decision code and the two rule engines.

An engine only answers one question: given a compiled policy version and an evaluation
context, which rules' conditions hold. Hit policies, SWOT scoring, trace and assembly are
shared code above the seam (``engine.evaluate``), so the engines cannot drift apart in
anything but condition matching, which the conformance suite checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from engine.model import Policy


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy version, as the registry holds it."""

    policy: Policy
    sha256: str
    path: Path
    raw: Mapping[str, Any]  # the document as loaded (for display, diff and the API)

    @property
    def id(self) -> str:
        return self.policy.id

    @property
    def version(self) -> str:
        return self.policy.version

    @property
    def kind(self) -> str:
        return self.policy.kind

    @property
    def key(self) -> str:
        """Unique name of this version, e.g. ``classification@1.2.0`` (durable ruleset name)."""
        return f"{self.policy.id}@{self.policy.version}"

    def in_force(self, on: dt.date) -> bool:
        p = self.policy
        return (
            p.status == "active"
            and p.effective_from <= on
            and (p.effective_to is None or on <= p.effective_to)
        )


class Engine(Protocol):
    """A condition matcher. ``prepare`` runs once per policy version per process."""

    name: str

    def prepare(self, loaded: LoadedPolicy) -> Any:
        """Compile every rule table of the policy version; never called twice for one key."""

    def match(self, prepared: Any, context: Mapping[str, Any]) -> frozenset[str]:
        """Ids of every rule (any table) of the version whose condition holds in ``context``.

        ``context`` is the validated facts document plus earlier outputs: ``segment``,
        ``swot.score``, ``swot.grade``, ``risk.grade``. A leaf on an absent fact is false;
        ``not`` negates its child. Must not keep any state between calls.
        """
