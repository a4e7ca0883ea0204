"""Generate ``schemas/policy.schema.json`` from the pydantic models in :mod:`engine.model`.

``python -m engine.policy_schema`` rewrites the file; a test checks it is not stale.

pydantic's own output is correct but gives poor errors: a ``oneOf`` over the five kinds
and over the four condition shapes makes a validator report "is not valid under any of
the given schemas" instead of the one field that is wrong. So the output is
post-processed into a schema that discriminates explicitly:

* the top level requires ``kind`` (an enum) and applies the kind's definition through
  ``if kind == X then $ref X`` — an unknown kind is one error at ``$.kind``;
* a condition is ``if all → AllOf, else if any → AnyOf, else if not → NotOf, else Leaf``;
* a leaf is ``fact`` plus exactly one operator (``minProperties``/``maxProperties`` 2,
  with ``additionalProperties: false``);
* optional fields do not accept ``null`` (pydantic's ``X | None`` means "may be absent",
  not "may be written as null": ``eq:`` with no value must not pass as "no operator");
* every property carries a ``description`` (editors show it on hover), titles are
  dropped from properties, dates carry a ``YYYY-MM-DD`` pattern.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from engine.model import KINDS, PolicyDocument

__all__ = ["SCHEMA_PATH", "build_schema", "render", "write"]

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "policy.schema.json"
SCHEMA_ID = "https://crmc.example/schemas/policy.schema.json"

_DEF_OF_KIND = {
    "classification": "ClassificationPolicy",
    "swot": "SwotPolicy",
    "risk": "RiskPolicy",
    "proposal": "ProposalPolicy",
    "early_warning": "EarlyWarningPolicy",
}
_CONDITION_BRANCHES = ("AllOf", "AnyOf", "NotOf", "Leaf")
_DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"

# Descriptions for properties the models leave undescribed, by (definition, property);
# ("*", property) applies in every definition.
_FALLBACK_DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("*", "kind"): "Policy kind: classification, swot, risk, proposal or early_warning.",
    ("ClassificationRule", "then"): "Segment assigned when the condition holds.",
    ("RiskRule", "then"): "Grade assigned when the condition holds.",
    ("BaseRule", "then"): "Base loan structure when the condition holds.",
    ("AdjustmentRule", "then"): "Adjustments applied when the condition holds.",
    ("Trigger", "when"): "Condition over facts and earlier outputs.",
}


def build_schema() -> dict[str, Any]:
    """The policy JSON Schema (Draft 2020-12) as a dict."""
    raw = TypeAdapter(PolicyDocument).json_schema(mode="validation")
    defs: dict[str, Any] = raw["$defs"]
    for name, definition in defs.items():
        _tidy_definition(name, definition)
    defs["Condition"] = _condition_schema()
    leaf = defs["Leaf"]
    leaf["required"] = ["fact"]
    leaf["minProperties"] = 2  # fact + one operator ...
    leaf["maxProperties"] = 2  # ... and only one
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "crmc policy version",
        "description": (
            "One version of a crmc policy (policies/<policy-id>/<version>.yaml). "
            "Generated from engine/model.py by `python -m engine.policy_schema`; do not edit."
        ),
        "type": "object",
        "required": ["kind"],
        "properties": {
            "kind": {
                "enum": list(KINDS),
                "description": _FALLBACK_DESCRIPTIONS[("*", "kind")],
            }
        },
        "allOf": [
            {
                "if": {
                    "properties": {
                        "kind": {"const": kind, "description": f"A {kind} policy."}
                    },
                    "required": ["kind"],
                },
                "then": {"$ref": f"#/$defs/{_DEF_OF_KIND[kind]}"},
            }
            for kind in KINDS
        ],
        "$defs": dict(sorted(defs.items())),
    }


def _condition_schema() -> dict[str, Any]:
    """``if all / else if any / else if not / else leaf``: one branch, precise errors."""
    schema: dict[str, Any] = {"$ref": "#/$defs/Leaf"}
    for key, name in reversed(list(zip(("all", "any", "not"), _CONDITION_BRANCHES, strict=False))):
        schema = {
            "if": {"type": "object", "required": [key]},
            "then": {"$ref": f"#/$defs/{name}"},
            "else": schema,
        }
    return {
        "description": "A condition: {all: [...]}, {any: [...]}, {not: ...} or a leaf "
        "{fact: <path>, <operator>: <value>}.",
        **schema,  # no top-level type: a non-object then fails once, as a leaf
    }


def _tidy_definition(name: str, definition: dict[str, Any]) -> None:
    for prop, schema in definition.get("properties", {}).items():
        _tidy(schema)
        schema.pop("title", None)
        if "description" not in schema:
            text = _FALLBACK_DESCRIPTIONS.get((name, prop)) or _FALLBACK_DESCRIPTIONS.get(
                ("*", prop)
            )
            if text is None:
                raise ValueError(f"{name}.{prop} has no description; add one in engine/model.py")
            schema["description"] = text


def _tidy(schema: Any) -> None:
    """Recursively: drop ``null`` from optional fields, collapse scalar unions, point
    condition unions at ``Condition``, pin dates to ``YYYY-MM-DD``."""
    if isinstance(schema, list):
        for item in schema:
            _tidy(item)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("default", 0) is None:
        del schema["default"]
    branches = schema.get("anyOf")
    if branches is not None:
        branches = [b for b in branches if b != {"type": "null"}]
        types = [b.get("type") for b in branches]
        if len(branches) > 1 and all(len(b) == 1 for b in branches) \
                and set(types) <= {"boolean", "integer", "number", "string"}:
            # Union[bool, int, float, str]: one type list reads better and errors better.
            branches = [{"type": [t for t in ("boolean", "number", "string") if t in types]}]
        del schema["anyOf"]
        if len(branches) == 1:
            schema.update(branches[0])
        else:
            schema["anyOf"] = branches
    refs = [b.get("$ref", "") for b in schema.get("oneOf", [])]
    if refs and {r.rsplit("/", 1)[-1] for r in refs} == set(_CONDITION_BRANCHES):
        del schema["oneOf"]
        schema["$ref"] = "#/$defs/Condition"
    if schema.get("format") == "date":
        schema["pattern"] = _DATE_PATTERN
    for key, value in schema.items():
        if key not in ("enum", "const", "default", "required"):
            _tidy(value)


def render() -> str:
    """The schema file's exact text (stable: a test regenerates and compares it)."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def write(path: Path = SCHEMA_PATH) -> bool:
    """Rewrite the schema file; returns whether it changed."""
    text = render()
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


if __name__ == "__main__":
    changed = write()
    print(f"{SCHEMA_PATH}: {'rewritten' if changed else 'up to date'}", file=sys.stderr)
