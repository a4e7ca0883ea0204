"""Typed policy documents: what a validated policy version file turns into.

These pydantic models are the single source of truth for the policy format; the JSON Schema
in ``schemas/policy.schema.json`` is generated from them (``python -m engine.policy_schema``).
Raw YAML is checked against that schema first (for located errors), then parsed here.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "between", "exists")
ORDERING_OPERATORS = ("lt", "lte", "gt", "gte", "between")
KINDS = ("classification", "swot", "risk", "proposal", "early_warning")
# The order in which a decision evaluates the steps; later steps may read earlier outputs.
PIPELINE = KINDS
SEGMENTS = ("strategic_partner", "high_net_worth", "general")
RISK_GRADES = ("strong", "good", "satisfactory", "weak", "default")
SEVERITIES = ("low", "medium", "high", "critical")
QUADRANTS = ("strengths", "weaknesses", "opportunities", "threats")

Scalar = bool | int | float | str
SemVer = Annotated[
    str,
    Field(
        pattern=r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$",
        description="Semantic version MAJOR.MINOR.PATCH; must equal the file name.",
    ),
]
RuleId = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_-]{0,63}$",
        description="Stable rule id: lower-case letters, digits, '-' and '_'.",
    ),
]
FactPath = Annotated[
    str,
    Field(
        pattern=r"^[a-z_]+(\.[a-z0-9_]+)*$",
        description=(
            "Dotted path of a fact (e.g. financials.dscr) or of an earlier step's output "
            "(segment, swot.score, swot.grade, risk.grade)."
        ),
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- conditions -------------------------------------------------------------------------


class Leaf(Strict):
    """One comparison of a fact with a value; exactly one operator."""

    fact: FactPath
    eq: Scalar | None = Field(None, description="Equal to (same type).")
    ne: Scalar | None = Field(None, description="Present and not equal to.")
    lt: float | None = Field(None, description="Less than (numbers only).")
    lte: float | None = Field(None, description="Less than or equal to (numbers only).")
    gt: float | None = Field(None, description="Greater than (numbers only).")
    gte: float | None = Field(None, description="Greater than or equal to (numbers only).")
    in_: list[Scalar] | None = Field(None, alias="in", description="One of these values.")
    not_in: list[Scalar] | None = Field(None, description="Present and none of these values.")
    between: tuple[float, float] | None = Field(
        None, description="Inclusive range [low, high] (numbers only)."
    )
    exists: bool | None = Field(None, description="true: the fact is present; false: absent.")

    @property
    def op(self) -> str:
        for name in OPERATORS:
            if getattr(self, "in_" if name == "in" else name) is not None:
                return name
        raise ValueError("leaf without operator")  # prevented by the schema

    @property
    def value(self) -> Any:
        return getattr(self, "in_" if self.op == "in" else self.op)


class AllOf(Strict):
    all: list[Condition] = Field(min_length=1, description="Every condition holds.")


class AnyOf(Strict):
    any: list[Condition] = Field(min_length=1, description="At least one condition holds.")


class NotOf(Strict):
    not_: Condition = Field(alias="not", description="The condition does not hold.")


def _condition_tag(v: Any) -> str:
    if isinstance(v, dict):
        for key in ("all", "any", "not"):
            if key in v:
                return key
        return "leaf"
    if isinstance(v, AllOf):
        return "all"
    if isinstance(v, AnyOf):
        return "any"
    if isinstance(v, NotOf):
        return "not"
    return "leaf"


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[Leaf, Tag("leaf")],
    Discriminator(_condition_tag),
]


def leaves(cond: Condition) -> list[Leaf]:
    """Every leaf of a condition tree, in document order."""
    if isinstance(cond, Leaf):
        return [cond]
    if isinstance(cond, NotOf):
        return leaves(cond.not_)
    items = cond.all if isinstance(cond, AllOf) else cond.any
    return [leaf for item in items for leaf in leaves(item)]


class Rule(Strict):
    """A rule: when its condition holds, its outcome applies."""

    id: RuleId
    description: str = Field(
        min_length=1, description="What the rule means, for a business reader."
    )
    when: Condition = Field(description="Condition over facts and earlier outputs.")


# --- metadata shared by every kind --------------------------------------------------------


class Metadata(Strict):
    kind: str
    id: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Policy id; equals the directory the version file lives in.",
    )
    version: SemVer
    effective_from: dt.date = Field(description="First day this version is in force.")
    effective_to: dt.date | None = Field(
        None, description="Last day this version is in force (inclusive); open-ended if absent."
    )
    status: Literal["draft", "active", "retired"] = Field(
        description="draft: editable, never selected by date; active: in force and locked; "
        "retired: kept for audit and replay only."
    )
    owner: str = Field(min_length=1, description="Team or person accountable for the version.")
    change_note: str = Field(
        min_length=1, description="What changed from the previous version, and why."
    )
    currency: str = Field(
        "CNY", pattern=r"^[A-Z]{3}$", description="Base currency of the amounts in this policy."
    )
    requires: list[FactPath] = Field(
        default_factory=list,
        description="Facts without which the decision is refused (listed as missing).",
    )


# --- classification -----------------------------------------------------------------------


class SegmentOutcome(Strict):
    segment: Literal["strategic_partner", "high_net_worth", "general"] = Field(
        description="Segment assigned when the rule matches."
    )


class ClassificationRule(Rule):
    then: SegmentOutcome


class ServicePlan(Strict):
    relationship_manager: str = Field(min_length=1, description="Relationship-manager tier.")
    review_frequency_days: int = Field(gt=0, description="Days between relationship reviews.")
    value_added_services: list[str] = Field(description="Services offered to the segment.")
    satisfaction_survey: Literal["monthly", "quarterly", "semiannual", "annual"] = Field(
        description="Cadence of satisfaction surveys."
    )


class ClassificationPolicy(Metadata):
    kind: Literal["classification"]
    rules: list[ClassificationRule] = Field(min_length=1, description="First match wins, in order.")
    default: SegmentOutcome = Field(description="Segment when no rule matches.")
    service_plans: dict[Literal["strategic_partner", "high_net_worth", "general"], ServicePlan] = (
        Field(description="Service plan of each segment; every segment needs one.")
    )


# --- swot ---------------------------------------------------------------------------------


class Band(Strict):
    """A band of a numeric indicator: the first band whose bound the value meets scores."""

    gte: float | None = Field(None, description="Applies when the value is ≥ this bound.")
    gt: float | None = Field(None, description="Applies when the value is > this bound.")
    lte: float | None = Field(None, description="Applies when the value is ≤ this bound.")
    lt: float | None = Field(None, description="Applies when the value is < this bound.")
    score: float = Field(ge=0, le=10, description="Indicator score 0–10 in this band.")


class Indicator(Strict):
    id: RuleId
    description: str = Field(min_length=1, description="What the indicator measures.")
    quadrant: Literal["strengths", "weaknesses", "opportunities", "threats"] = Field(
        description="SWOT quadrant. Higher weakness/threat scores lower the overall score."
    )
    weight: float = Field(
        gt=0, le=1, description="Weight within the quadrant; a quadrant's sum to 1."
    )
    fact: FactPath = Field(description="Fact the indicator is scored from.")
    bands: list[Band] | None = Field(
        None, description="Numeric bands, tried in order; the last may have no bound (else)."
    )
    map: dict[str, float] | None = Field(
        None, description="Score for each value of an enumerated fact (or true/false)."
    )
    direct: bool | None = Field(
        None, description="true: the fact already is a 0–10 score (analyst scores swot.*)."
    )
    otherwise: float | None = Field(
        None,
        ge=0,
        le=10,
        description="Score when the value falls in no band / map entry. Without it, "
        "such an indicator is left out like a missing one.",
    )


class GradeBand(Strict):
    grade: str = Field(min_length=1, description="Grade label.")
    min: float = Field(ge=0, le=100, description="Lowest score (inclusive) with this grade.")


class SwotPolicy(Metadata):
    kind: Literal["swot"]
    quadrant_weights: dict[
        Literal["strengths", "weaknesses", "opportunities", "threats"], float
    ] = Field(description="Weight of each quadrant; they sum to 1.")
    indicators: list[Indicator] = Field(min_length=1, description="The indicator system.")
    grades: list[GradeBand] = Field(
        min_length=1, description="Grade bands, highest first; the last must start at 0."
    )


# --- risk ---------------------------------------------------------------------------------


class GradeOutcome(Strict):
    grade: Literal["strong", "good", "satisfactory", "weak", "default"] = Field(
        description="Slotting grade assigned when the rule matches."
    )


class RiskRule(Rule):
    then: GradeOutcome


class GradeTerms(Strict):
    risk_weight: float = Field(
        ge=0, description="Supervisory risk weight, as a share (0.7 = 70 %)."
    )
    expected_loss_rate: float = Field(ge=0, le=1, description="Expected-loss rate, as a share.")
    risk_weight_short: float | None = Field(
        None, ge=0, description="Risk weight when the tenor is under short_tenor_years."
    )
    expected_loss_rate_short: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Expected-loss rate when the tenor is under short_tenor_years.",
    )
    controls: list[str] = Field(description="Risk controls this grade requires.")


class RiskPolicy(Metadata):
    kind: Literal["risk"]
    rules: list[RiskRule] = Field(min_length=1, description="First match wins, in order.")
    default: GradeOutcome = Field(description="Grade when no rule matches.")
    short_tenor_years: float = Field(
        2.5, gt=0, description="Tenors (request.tenor_years) below this use the *_short figures."
    )
    grades: dict[Literal["strong", "good", "satisfactory", "weak", "default"], GradeTerms] = Field(
        description="Terms of each grade; every grade needs an entry."
    )


# --- proposal -----------------------------------------------------------------------------


class Structure(Strict):
    tenor_years: float = Field(gt=0, description="Loan tenor in years.")
    rate_type: Literal["fixed", "floating"] = Field(description="Fixed or floating rate.")
    interest_only_years: float = Field(ge=0, description="Years of interest-only at the start.")
    repayment: Literal["amortising", "sculpted", "bullet"] = Field(description="Repayment profile.")


class RiskSharing(Strict):
    type: Literal["none", "revenue_share", "profit_share", "guarantee", "syndication"] = Field(
        description="Risk-sharing mechanism."
    )
    share: float | None = Field(None, ge=0, le=1, description="Share of revenue/profit/exposure.")


class Covenants(Strict):
    min_dscr: float | None = Field(None, gt=0, description="Minimum DSCR covenant (x).")
    max_leverage: float | None = Field(None, gt=0, description="Maximum debt/equity.")
    dsra_months: int | None = Field(None, ge=0, le=24, description="Debt service reserve, months.")
    hedging_pct: float | None = Field(
        None, ge=0, le=100, description="Share of floating notional to hedge, in percent."
    )
    cash_sweep: bool | None = Field(None, description="Excess cash sweeps to prepayment.")
    lock_up_dscr: float | None = Field(
        None, gt=0, description="DSCR below which distributions lock up."
    )
    progress_reports: Literal["monthly", "quarterly"] | None = Field(
        None, description="Construction/operation progress reporting cadence."
    )


class BaseRule(Rule):
    then: Structure


class Adjustment(Strict):
    risk_sharing: RiskSharing | None = Field(
        None, description="Replaces the risk-sharing mechanism."
    )
    covenants: Covenants | None = Field(
        None, description="Covenants added (later rules win per key)."
    )
    services: list[str] | None = Field(None, description="Client services added to the proposal.")


class AdjustmentRule(Rule):
    then: Adjustment


class ProposalPolicy(Metadata):
    kind: Literal["proposal"]
    base: list[BaseRule] = Field(min_length=1, description="Base structure: first match wins.")
    default: Structure = Field(description="Structure when no base rule matches.")
    adjustments: list[AdjustmentRule] = Field(
        default_factory=list, description="Every matching adjustment applies, in order."
    )


# --- early warning ------------------------------------------------------------------------


class Trigger(Rule):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Warning code.")
    severity: Literal["low", "medium", "high", "critical"] = Field(description="Severity.")
    actions: list[str] = Field(min_length=1, description="Actions the warning requires.")


class EarlyWarningPolicy(Metadata):
    kind: Literal["early_warning"]
    triggers: list[Trigger] = Field(min_length=1, description="Every matching trigger fires.")


PolicyDocument = Annotated[
    ClassificationPolicy | SwotPolicy | RiskPolicy | ProposalPolicy | EarlyWarningPolicy,
    Field(discriminator="kind"),
]
Policy = ClassificationPolicy | SwotPolicy | RiskPolicy | ProposalPolicy | EarlyWarningPolicy


def rule_tables(policy: Policy) -> dict[str, list[Rule]]:
    """The policy's rule tables by name: what the engines compile and match."""
    if isinstance(policy, ClassificationPolicy | RiskPolicy):
        return {"rules": list(policy.rules)}
    if isinstance(policy, ProposalPolicy):
        return {"base": list(policy.base), "adjustments": list(policy.adjustments)}
    if isinstance(policy, EarlyWarningPolicy):
        return {"triggers": list(policy.triggers)}
    return {}
