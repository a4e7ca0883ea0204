"""The decision (contract §2) as pydantic models.

``Decision.model_dump(mode="json")`` is what the CLI prints, the HTTP service returns and
the decision log keeps. ``schemas/decision.schema.json`` is generated from these models:
``python -m engine.decision`` rewrites it (a test fails when it is stale).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_serializer

__all__ = [
    "SCHEMA_PATH",
    "Contribution",
    "Covenants",
    "Decision",
    "Leaf",
    "PolicyRef",
    "Proposal",
    "Quadrants",
    "Risk",
    "RiskSharing",
    "Segment",
    "ServicePlan",
    "Swot",
    "TraceEntry",
    "Warning",
    "construct",
    "json_schema",
]

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "decision.schema.json"

Number = int | float
_M = TypeVar("_M", bound=BaseModel)
Scalar = bool | int | float | str


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyRef(_Out):
    id: str = Field(description="Policy id.")
    version: str = Field(description="Policy version (semver) that took part.")
    sha256: str = Field(description="sha256 of the policy version as loaded, for audit.")


class Segment(_Out):
    value: Literal["strategic_partner", "high_net_worth", "general"] = Field(
        description="Client segment."
    )
    rule: str | None = Field(
        description="Id of the classification rule that matched; null when the default applied."
    )


class ServicePlan(_Out):
    model_config = ConfigDict(extra="allow", frozen=True)

    relationship_manager: str = Field(description="Relationship-manager tier.")
    review_frequency_days: int = Field(description="Days between relationship reviews.")
    value_added_services: list[str] = Field(description="Services offered to the segment.")
    satisfaction_survey: str = Field(description="Cadence of satisfaction surveys.")


class Quadrants(_Out):
    strengths: float | None = Field(description="Strengths score 0–10; null if none present.")
    weaknesses: float | None = Field(description="Weaknesses 0–10 (high = serious); null if none.")
    opportunities: float | None = Field(description="Opportunities score 0–10; null if none.")
    threats: float | None = Field(description="Threats score 0–10 (high = serious); null if none.")


class Contribution(_Out):
    indicator: str = Field(description="Indicator id.")
    quadrant: Literal["strengths", "weaknesses", "opportunities", "threats"]
    fact: str = Field(description="Fact the indicator was scored from.")
    score: float = Field(description="Indicator score 0–10.")
    weight: float = Field(
        description="Effective weight: quadrant weight × indicator weight, renormalised over "
        "the indicators and quadrants present (4 decimals)."
    )
    points: float = Field(
        description="Signed points on the 0–100 score (negative for weaknesses and threats; "
        "2 decimals). score = baseline + Σ points, baseline = 100·Σ_{W,T} wq / Σ wq."
    )


class Swot(_Out):
    score: float | None = Field(
        description="SWOT score 0–100, Decimal arithmetic rounded half-up to one decimal; "
        "null when no indicator could be scored."
    )
    grade: str | None = Field(description="Grade of the score; null when there is no score.")
    quadrants: Quadrants
    contributions: list[Contribution] = Field(description="Every indicator that was scored.")


class Risk(_Out):
    grade: Literal["strong", "good", "satisfactory", "weak", "default"] = Field(
        description="Project-finance slotting grade."
    )
    risk_weight: float = Field(description="Supervisory risk weight, as a share (0.7 = 70 %).")
    expected_loss_rate: float = Field(description="Expected-loss rate, as a share.")
    rule: str | None = Field(description="Id of the risk rule that matched; null for the default.")
    controls: list[str] = Field(description="Risk controls the grade requires.")


class RiskSharing(_Out):
    type: Literal["none", "revenue_share", "profit_share", "guarantee", "syndication"]
    share: float | None = Field(None, description="Share of revenue/profit/exposure, if any.")


class Covenants(_Out):
    """Covenants of the proposal; a covenant no rule set is left out of the JSON."""

    min_dscr: float | None = Field(None, description="Minimum DSCR covenant (x).")
    max_leverage: float | None = Field(None, description="Maximum debt/equity.")
    dsra_months: int | None = Field(None, description="Debt service reserve, months.")
    hedging_pct: float | None = Field(None, description="Share of floating notional hedged, %.")
    cash_sweep: bool | None = Field(None, description="Excess cash sweeps to prepayment.")
    lock_up_dscr: float | None = Field(None, description="DSCR below which distributions lock up.")
    progress_reports: Literal["monthly", "quarterly"] | None = Field(
        None, description="Progress reporting cadence."
    )

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: Any) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class Proposal(_Out):
    tenor_years: Number = Field(description="Loan tenor in years.")
    rate_type: Literal["fixed", "floating"]
    interest_only_years: Number = Field(description="Interest-only years at the start.")
    repayment: Literal["amortising", "sculpted", "bullet"]
    risk_sharing: RiskSharing = Field(description="Risk-sharing mechanism ({type: none} if none).")
    covenants: Covenants
    services: list[str] = Field(description="Client services added by the adjustments.")
    rules: list[str] = Field(
        description="Ids of the base rule (absent if the default applied) and of every "
        "adjustment that applied, in order."
    )


class Warning(_Out):
    code: str = Field(description="Warning code.")
    severity: Literal["low", "medium", "high", "critical"]
    actions: list[str] = Field(description="Actions the warning requires.")
    rule: str = Field(description="Id of the trigger that fired.")
    observed: dict[str, Any] = Field(
        description='Values of the facts the trigger read, by dotted path ("missing" if absent).'
    )


class Leaf(_Out):
    fact: str = Field(description="Fact (or earlier output) the condition read.")
    op: str = Field(description="Operator: eq, ne, lt, lte, gt, gte, in, not_in, between, exists.")
    expected: Any = Field(description="Value(s) the fact was compared with.")
    observed: Any = Field(description='Value the fact had, or "missing".')


class TraceEntry(_Out):
    policy: str = Field(description="Policy id.")
    version: str = Field(description="Policy version.")
    table: str = Field(description="Rule table: rules, base, adjustments or triggers.")
    rule: str = Field(description="Rule id.")
    description: str = Field(description="What the rule means.")
    fired: bool = Field(description="Whether the rule's condition held.")
    leaves: list[Leaf] = Field(description="Every leaf condition of the rule, in document order.")


class Decision(_Out):
    decision_id: str = Field(description="Unique id of the decision.")
    client_id: str = Field(description="Client id from the facts.")
    decided_at: dt.datetime = Field(description="When the decision was made (RFC 3339, UTC).")
    as_of: dt.date = Field(description="Date whose policy versions were applied.")
    policies: list[PolicyRef] = Field(
        description="Every policy version that took part, in pipeline order."
    )
    segment: Segment
    service_plan: ServicePlan
    swot: Swot
    risk: Risk
    proposal: Proposal
    warnings: list[Warning] = Field(description="Early warnings raised, in policy order.")
    missing_facts: list[str] = Field(
        description="Sorted dotted paths of facts a considered rule or indicator needed and "
        "did not get."
    )
    engine: str = Field(description="Engine that matched the conditions: durable or compiled.")
    trace: list[TraceEntry] | None = Field(
        None, description="Present when asked: every rule considered, in order."
    )

    @model_serializer(mode="wrap")
    def _trace_when_asked(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        if data.get("trace") is None:
            data.pop("trace", None)
        return data


def _slot_setter(name: str) -> Callable[[Any, Any], None]:
    """The setter of one of BaseModel's slots, called directly (half the cost of
    ``object.__setattr__``, which looks the slot up by name on every call)."""
    descriptor = BaseModel.__dict__.get(name)
    if descriptor is not None and hasattr(descriptor, "__set__"):
        return descriptor.__set__  # type: ignore[no-any-return]
    return lambda m, value: object.__setattr__(m, name, value)  # another pydantic layout


_set_dict = _slot_setter("__dict__")
_set_fields = _slot_setter("__pydantic_fields_set__")
_set_extra = _slot_setter("__pydantic_extra__")
_set_private = _slot_setter("__pydantic_private__")
# per model class: its set of all fields, and whether it allows extra fields
_CLASSES: dict[type[BaseModel], tuple[set[str], bool]] = {}


def construct(
    cls: type[_M], values: dict[str, Any], fields_set: set[str] | None = None
) -> _M:
    """A model from values that already are exactly what validation would make of them.

    The decision pipeline builds every part of a ``Decision`` from policy models and its
    own arithmetic, so validating it again is pure cost (two thirds of a whole decision
    on the compiled engine). ``values`` must hold every field, in declaration order, with
    the types validation produces (floats for ``float`` fields, fresh lists, models for
    sub-models); ``fields_set`` defaults to all of them. This is what
    ``BaseModel.model_construct`` does, without its per-field loop;
    ``tests/test_decide_fastpath.py`` checks that validating the same data gives equal
    models with the same types.
    """
    known = _CLASSES.get(cls)
    if known is None:
        # One set per class serves every model with all fields set: pydantic only ever
        # copies it (model_copy), and the models are frozen.
        known = _CLASSES[cls] = (set(cls.model_fields), cls.model_config.get("extra") == "allow")
    m = cls.__new__(cls)
    _set_dict(m, values)
    _set_fields(m, known[0] if fields_set is None else fields_set)
    # validation leaves {} for extra="allow" models (ServicePlan), None otherwise
    _set_extra(m, {} if known[1] else None)
    _set_private(m, None)
    return m


def json_schema() -> dict[str, Any]:
    schema = Decision.model_json_schema(mode="validation")
    return {
        **schema,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://crmc.example/schemas/decision.schema.json",
        "title": "crmc decision",
        "description": "A decision (contract §2), generated by `python -m engine.decision`.",
    }


def render_schema() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render_schema(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
