"""Every default policy validates; each error kind has a small broken file with its exact
code, line and column (tests/data/policy/cases/<case>/<policy-id>/1.0.0.yaml)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import report
from engine.policy_schema import SCHEMA_PATH, build_schema, render
from engine.registry import check_directory, version_files
from engine.validate import check_file

ROOT = Path(__file__).resolve().parent.parent
CASES = Path(__file__).resolve().parent / "data" / "policy" / "cases"
MINIMAL = Path(__file__).resolve().parent / "data" / "policy" / "minimal"

# case -> every expected problem as (code, line, col, json_path)
EXPECTED: dict[str, list[tuple[str, int, int, str]]] = {
    "yaml-tab": [("yaml-syntax", 12, 1, "$")],
    "yaml-garbage": [("yaml-syntax", 12, 9, "$")],
    "yaml-duplicate-key": [("yaml-duplicate-key", 7, 1, "$.owner")],
    "yaml-alias": [("yaml-alias", 11, 11, "$")],
    "yaml-bomb": [("yaml-alias", 2, 7, "$")],
    "yaml-number": [("yaml-number", 11, 39, "$.triggers[0].when.lt")],
    "yaml-tag": [("yaml-tag", 11, 11, "$.triggers[0].when")],
    "yaml-encoding": [("yaml-encoding", 7, 17, "$")],
    "schema-unknown-key": [("schema", 9, 5, "$.triggers[0]"),
                           ("schema", 10, 5, "$.triggers[0].descripton")],
    "schema-missing-key": [("schema", 9, 5, "$.triggers[0]")],
    "schema-yes-boolean": [("schema", 11, 43, "$.triggers[0].when.exists")],
    "schema-two-operators": [("schema", 11, 11, "$.triggers[0].when")],
    "schema-no-operator": [("schema", 11, 11, "$.triggers[0].when")],
    "schema-unknown-kind": [("schema", 1, 7, "$.kind")],
    "schema-bad-date": [("schema", 4, 17, "$.effective_from")],
    "duplicate-id": [("duplicate-id", 15, 9, "$.adjustments[0].id")],
    "unknown-fact": [("unknown-fact", 11, 18, "$.triggers[0].when.fact")],
    "operator-type": [("operator-type", 11, 49, "$.triggers[0].when.gte")],
    "value-type-enum": [("value-type", 11, 58, "$.triggers[0].when.in[2]")],
    "value-type-bool": [("value-type", 11, 39, "$.triggers[0].when.eq")],
    "between-order": [("between-order", 11, 44, "$.triggers[0].when.between")],
    "step-order": [("step-order", 11, 18, "$.rules[0].when.fact")],
    "weights-sum": [("weights-sum", 13, 13, "$.indicators[0].weight")],
    "quadrant-weights-sum": [("weights-sum", 8, 19, "$.quadrant_weights")],
    "bands-order": [("bands-order", 17, 15, "$.indicators[0].bands[1].gte")],
    "bands-mixed": [("bands-order", 16, 7, "$.indicators[0].bands")],
    "bands-else-not-last": [("bands-order", 16, 9, "$.indicators[0].bands[0]")],
    "map-key": [("map-key", 15, 27, "$.indicators[0].map.BBBB")],
    "indicator-scoring": [("indicator-scoring", 16, 7, "$.indicators[0].bands")],
    "grades-order": [("grades-order", 29, 21, "$.grades[1].min"),
                     ("grades-order", 30, 21, "$.grades[2].min")],
    "service-plans": [("service-plans", 18, 3, "$.service_plans")],
    "risk-grades": [("risk-grades", 15, 3, "$.grades")],
    "version-name": [("version-name", 3, 10, "$.version")],
    "id-directory": [("id-directory", 2, 5, "$.id")],
    "effective-range": [("effective-range", 5, 15, "$.effective_to")],
}


def _case_file(case: str) -> Path:
    (path,) = (CASES / case).glob("*/*.yaml")
    return path


def test_every_case_directory_has_an_expectation():
    assert sorted(p.name for p in CASES.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_broken_file_reports_exact_location(case: str):
    problems = check_file(_case_file(case)).problems
    got = sorted((p.code, p.line, p.col, p.json_path) for p in problems)
    assert got == sorted(EXPECTED[case]), "\n".join(report(problems))


@pytest.mark.parametrize("case,suggestion", [
    ("unknown-fact", "financials.ebitda_margin"),
    ("schema-unknown-key", "description"),
    ("schema-unknown-kind", "early_warning"),
    ("map-key", "BBB"),
])
def test_did_you_mean(case: str, suggestion: str):
    problems = check_file(_case_file(case)).problems
    assert suggestion in {p.suggestion for p in problems}
    assert any(f"(did you mean '{suggestion}'?)" in line for line in report(problems))


def test_report_line_format():
    (problem,) = check_file(_case_file("unknown-fact")).problems
    assert str(problem) == (
        f"{_case_file('unknown-fact')}:11:18: unknown-fact: $.triggers[0].when.fact: "
        "unknown fact 'financials.ebitda_margn' (did you mean 'financials.ebitda_margin'?)"
    )


def test_messages_say_what_is_wrong():
    def message(case: str) -> str:
        return check_file(_case_file(case)).problems[0].message

    assert message("operator-type").startswith("'gte' compares numbers")
    assert "low is above high" in message("between-order")
    assert "'X' is not a value of financials.credit_rating" in message("value-type-enum")
    assert "only applies to boolean facts" in message("value-type-bool")
    assert "sum to 0.9, not 1" in message("weights-sum")
    assert "exactly one operator" in message("schema-no-operator")
    assert "found gt, lt" in message("schema-two-operators")


def test_every_default_policy_validates():
    result = check_directory(ROOT / "policies", lock=True)
    assert result.problems == [], "\n".join(report(result.problems))
    assert len(result.loaded) == len(version_files(ROOT / "policies")) >= 7
    kinds = {lp.kind for lp in result.loaded}
    assert kinds == {"classification", "swot", "risk", "proposal", "early_warning"}


def test_minimal_policies_validate():
    result = check_directory(MINIMAL, lock=False)
    assert result.problems == []
    assert len(result.loaded) == 5


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path):
    text = _case_file("unknown-fact").read_text()
    text = text.replace("severity: high", "severity: severe").replace("code: dscr_breach",
                                                                     "code: Dscr")
    path = tmp_path / "early_warning" / "1.0.0.yaml"
    path.parent.mkdir()
    path.write_text(text)
    codes = [(p.code, p.json_path) for p in check_file(path).problems]
    assert ("schema", "$.triggers[0].severity") in codes
    assert ("schema", "$.triggers[0].code") in codes
    # A schema error elsewhere does not hide the misspelt fact.
    assert ("unknown-fact", "$.triggers[0].when.fact") in codes


def test_report_is_sorted_and_capped():
    from engine.errors import Problem

    problems = [Problem("f.yaml", n, 1, "schema", "x") for n in range(60, 0, -1)]
    lines = report(problems, limit=50)
    assert lines[0].startswith("f.yaml:1:1:") and lines[49].startswith("f.yaml:50:1:")
    assert lines[-1] == "... and 10 more problems"


def test_schema_file_is_not_stale():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), (
        "schemas/policy.schema.json is stale: run `python -m engine.policy_schema`"
    )


def test_every_schema_property_has_a_description():
    schema = build_schema()
    missing = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                if not isinstance(prop, dict) or not prop.get("description"):
                    missing.append(f"{where}.{name}")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(schema, "#")
    assert missing == []
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "oneOf" not in json.dumps(schema)  # discrimination is by if/then, not oneOf


def test_default_policies_point_editors_at_the_schema():
    for path in version_files(ROOT / "policies"):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schemas/policy.schema.json"


def _variant(tmp_path: Path, case: str, old: str, new: str) -> list[tuple[str, int, int]]:
    source = _case_file(case)
    text = source.read_text()
    assert old in text
    path = tmp_path / source.parent.name / source.name
    path.parent.mkdir()
    path.write_text(text.replace(old, new))
    return [(p.code, p.line, p.col) for p in check_file(path).problems]


@pytest.mark.parametrize("when,expected", [
    ("{fact: financials.dscr, in: [1.2, high]}", [("value-type", 11, 45)]),
    ("{fact: monitoring.days_past_due, eq: 1.5}", [("value-type", 11, 48)]),
    ("{fact: monitoring.sponsor_distress, eq: 1}", [("value-type", 11, 51)]),
    ("{fact: monitoring.sponsor_distress, eq: true}", []),
    ("{fact: profile.stage, not_in: [growth, matur]}", [("value-type", 11, 50)]),
    ("{fact: profile.name, between: [1, 2]}", [("operator-type", 11, 41)]),
    ("{fact: swot.management_quality, gte: 5}", []),  # analyst scores are numbers
    ("{fact: risk.grade, in: [weak, default]}", []),  # early warning runs last
    ("{not: {any: [{fact: financials.dscr, gte: 1.1}, {fact: nope, exists: true}]}}",
     [("unknown-fact", 11, 66)]),
])
def test_leaf_types(tmp_path: Path, when: str, expected: list[tuple[str, int, int]]):
    original = "{fact: financials.ebitda_margn, lt: 0.05}"
    assert _variant(tmp_path, "unknown-fact", original, when) == expected


def test_swot_indicator_may_read_segment_but_not_its_own_score(tmp_path: Path):
    assert _variant(tmp_path, "weights-sum", "    fact: financials.dscr\n",
                    "    fact: swot.score\n") == [("step-order", 14, 11), ("weights-sum", 13, 13)]


def test_indicator_ids_are_unique(tmp_path: Path):
    assert _variant(tmp_path, "weights-sum", "  - id: leverage\n", "  - id: coverage\n") == [
        ("duplicate-id", 19, 9), ("weights-sum", 13, 13)]


def test_classification_cannot_read_segment(tmp_path: Path):
    got = _variant(tmp_path, "service-plans", "{fact: request.amount, gte: 100}",
                   "{fact: segment, eq: general}")
    assert got == [("step-order", 13, 18), ("service-plans", 18, 3)]
