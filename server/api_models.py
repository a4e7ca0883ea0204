"""Request and response bodies of the HTTP API, as pydantic models.

They validate requests (unknown fields rejected, types exact: ``"explain": "yes"`` is an
error, not true) and they are what ``/openapi.json`` is generated from. The decision itself
is ``engine.decision.Decision``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    WithJsonSchema,
)

from engine.decision import Decision

__all__ = [
    "MAX_BATCH",
    "BatchEnvelope",
    "BatchRequest",
    "BatchResponse",
    "DecisionRequest",
    "FieldErrorModel",
    "Health",
    "PolicyDetail",
    "PolicyList",
    "PolicyVersionInfo",
    "Problem",
    "Ready",
    "ReloadResult",
    "VerifyResult",
]

MAX_BATCH = 1000
SEMVER = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_text(value: Any) -> Any:
    # pydantic would also take 0 or 1.5e9 as a date (a Unix time); a client means a date.
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[
    dt.date,
    BeforeValidator(_iso_date_text),
    WithJsonSchema({"type": "string", "format": "date", "pattern": _DATE.pattern}),
]
Pins = dict[
    Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$")],
    Annotated[StrictStr, Field(pattern=SEMVER)],
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionOptions(_Request):
    as_of: IsoDate | None = Field(
        None,
        description="Date whose policy versions apply (default: the facts' as_of, else today).",
    )
    pin: Pins | None = Field(
        None,
        description="Policy versions to use instead of the ones in force, {policy_id: version}; "
        "may name a draft or retired version. An unknown version is 404.",
    )
    explain: StrictBool | None = Field(None, description="Include the trace of every rule.")


class DecisionRequest(DecisionOptions):
    facts: dict[str, Any] = Field(
        description="The client's facts (schemas/facts.schema.json, contract §1)."
    )


class BatchRequest(DecisionOptions):
    """``as_of``, ``pin`` and ``explain`` here apply to every item that does not set its own."""

    items: list[DecisionRequest] = Field(max_length=MAX_BATCH, description="Up to 1000 items.")


class BatchEnvelope(DecisionOptions):
    """What the service parses first: items are checked one by one, so that a bad item is
    answered in place instead of failing the batch."""

    items: list[Any] = Field(max_length=MAX_BATCH)


class FieldErrorModel(BaseModel):
    model_config = ConfigDict(extra="allow")

    path: str = Field(description="JSON pointer into the request, e.g. /facts/financials/dscr.")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details; every error response has this shape."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field(description="URI naming the kind of problem.")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    errors: list[FieldErrorModel] | None = Field(
        None, description="Every validation error, with its location."
    )
    correlation_id: str | None = Field(None, description="On 500: the id of the logged error.")


class BatchResponse(BaseModel):
    results: list[Decision | Problem] = Field(
        description="One entry per item, in order: the decision or the item's own problem."
    )


class PolicyVersionInfo(BaseModel):
    version: str
    kind: str
    status: str
    effective_from: dt.date
    effective_to: dt.date | None
    owner: str
    change_note: str
    sha256: str
    in_force: bool = Field(description="Whether the version is in force today.")


class PolicySummary(BaseModel):
    id: str
    kind: str
    versions: list[PolicyVersionInfo]


class PolicyList(BaseModel):
    generation: int = Field(description="Number of the accepted policy set being served.")
    policies: list[PolicySummary]


class PolicyDetail(PolicyVersionInfo):
    id: str
    content: dict[str, Any] = Field(description="The policy version document as loaded.")


class ReloadResult(BaseModel):
    generation: int
    loaded_at: dt.datetime
    policies: list[dict[str, str]] = Field(description="[{id, version, sha256}] now loaded.")


class VerifyResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    intact: bool
    records: int
    first_broken: int | None = None
    checked_at: dt.datetime | None = Field(
        None, description="When this check ran: a result is reused for up to 30 seconds."
    )


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    generation: int
    policies: int = Field(description="Policy versions loaded.")
