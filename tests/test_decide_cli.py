"""``crmc decide``: one document and ``--batch``, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from decide_support import ENGINE_PARAMS, EXAMPLE_NAMES, EXAMPLES, POLICIES, example

from engine.cli import main


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["decide", "--policies", str(POLICIES), *args])


def write(tmp_path: Path, name: str, facts: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(facts), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_single_decision(engine: str) -> None:
    result = run(str(EXAMPLES / "seed-case.json"), "--engine", engine)
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["engine"] == engine
    assert decision["segment"]["value"] == "high_net_worth"
    assert "trace" not in decision


def test_explain_as_of_and_pin() -> None:
    result = run(str(EXAMPLES / "seed-case.json"), "--engine", "compiled", "--explain",
                 "--as-of", "2026-11-30", "--pin", "classification=1.0.0")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["policies"][0] == {**decision["policies"][0], "version": "1.0.0"}
    assert decision["segment"]["value"] == "high_net_worth"  # 300 >= 150 as well
    assert decision["trace"][0]["policy"] == "classification"


def test_bad_facts_exit_1_with_every_error(tmp_path: Path) -> None:
    facts = example("seed-case")
    facts["financials"]["dscr"] = "1.45"
    facts["request"]["currency"] = "USD"
    facts["profile"]["sizee"] = "large"
    path = write(tmp_path, "bad.json", facts)
    result = run(path, "--engine", "compiled")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    # path:line:col: code: message (contract §3); json.dumps writes one line
    text = Path(path).read_text(encoding="utf-8")
    dscr_col = text.index('"1.45"') + 1
    assert f'{path}:1:{dscr_col}: facts: /financials/dscr: expected a number, got string "1.45"' \
        in lines
    assert any(line.startswith(f"{path}:1:") and ": facts: /request/currency: " in line
               for line in lines)
    assert any(": facts: /profile/sizee: unknown field" in line for line in lines)

    result = run(path, "--engine", "compiled", "--format", "json")
    assert result.exit_code == 1
    errors = json.loads(result.stderr)
    assert {e["path"] for e in errors} == {"/financials/dscr", "/request/currency",
                                           "/profile/sizee"}
    assert all(e["file"] == path for e in errors)
    assert all(e["line"] == 1 and e["code"] == "facts" for e in errors)


def test_invalid_json_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"client_id": ', encoding="utf-8")
    result = run(str(path), "--engine", "compiled")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:1:15: json-syntax: /: invalid JSON: Expecting value")


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--pin", "classification"],
        ["--pin", "classification=9.9.9"],
        ["--as-of", "30/11/2026"],
        ["--engine", "drools"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    facts = [str(EXAMPLES / "seed-case.json")] if args else []
    result = run(*facts, *args)
    assert result.exit_code == 2, result.output


def test_no_policy_in_force_exit_1() -> None:
    result = run(str(EXAMPLES / "seed-case.json"), "--engine", "compiled", "--as-of",
                 "2020-01-01")
    assert result.exit_code == 1
    assert "no active version" in result.stderr


def batch_file(tmp_path: Path) -> tuple[Path, list[str]]:
    """The four examples with bad lines in the middle (and a blank line, skipped)."""
    lines = [json.dumps(example(n)) for n in EXAMPLE_NAMES[:2]]
    bad = example("general-client")
    bad["financials"]["dscr"] = "thin"
    lines += [json.dumps(bad), "{not json", ""]
    lines += [json.dumps(example(n)) for n in EXAMPLE_NAMES[2:]]
    path = tmp_path / "portfolio.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, lines


@pytest.mark.parametrize("workers", ["1", "2"])
def test_batch_with_bad_lines_in_the_middle(tmp_path: Path, workers: str) -> None:
    source, lines = batch_file(tmp_path)
    dscr_col = lines[2].index('"thin"') + 1
    out = tmp_path / "out.jsonl"
    result = run("--batch", str(source), "-o", str(out), "--workers", workers)
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        f'{source}:3:{dscr_col}: facts: /financials/dscr: expected a number, got string "thin"',
        f"{source}:4:2: json-syntax: /: invalid JSON: Expecting property name enclosed in "
        "double quotes",
    ]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["client_id"] for r in rows] == [
        "MFG-0042", "PWR-0007", "LOG-1193", None, "LOG-1193", "INF-0310",
    ]
    assert rows[2]["line"] == 3 and rows[2]["errors"][0]["path"] == "/financials/dscr"
    assert rows[3] == {**rows[3], "line": 4, "error": "refused"}
    assert all(r["engine"] == "compiled" for r in rows if "engine" in r)  # batch default
    assert rows[0]["segment"]["value"] == "high_net_worth"


def test_batch_all_good_exit_0_to_stdout(tmp_path: Path) -> None:
    source = tmp_path / "ok.jsonl"
    source.write_text("".join(json.dumps(example(n)) + "\n" for n in EXAMPLE_NAMES))
    result = run("--batch", str(source), "--workers", "1")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 4
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


def test_batch_and_facts_together_is_a_usage_error(tmp_path: Path) -> None:
    source, _ = batch_file(tmp_path)
    result = run(str(EXAMPLES / "seed-case.json"), "--batch", str(source))
    assert result.exit_code == 2


def test_duplicate_member_name_exit_1_located(tmp_path: Path) -> None:
    # json.loads would keep the last "client_id"; the HTTP service refuses the document
    # with 400, and so does the CLI, at the second occurrence's value.
    path = tmp_path / "twice.json"
    text = json.dumps(example("seed-case"))[:-1] + ', "client_id": "OTHER-1"}'
    path.write_text(text, encoding="utf-8")
    result = run(str(path), "--engine", "compiled")
    assert result.exit_code == 1
    assert result.stdout == ""
    col = text.index('"OTHER-1"') + 1
    assert result.stderr.startswith(
        f"{path}:1:{col}: json-structure: /client_id: Member name 'client_id' appears twice"
    ), result.stderr


def test_duplicate_in_nested_object_uses_its_pointer(tmp_path: Path) -> None:
    facts = example("seed-case")
    lines = json.dumps(facts, indent=2).splitlines()
    at = next(i for i, line in enumerate(lines) if '"dscr"' in line)
    lines.insert(at + 1, '    "dscr": 9.9,')
    path = tmp_path / "nested.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(str(path), "--engine", "compiled", "--format", "json")
    assert result.exit_code == 1
    [error] = json.loads(result.stderr)
    assert error == {**error, "file": str(path), "code": "json-structure",
                     "path": "/financials/dscr", "line": at + 2, "col": 13}


@pytest.mark.parametrize("depth", [40, 3000])  # parsed then walked; past the parser's limit
def test_deep_nesting_exit_1_located(tmp_path: Path, depth: int) -> None:
    facts = example("seed-case")
    head = json.dumps(facts)[:-1] + ', "extra":\n'
    path = tmp_path / "deep.json"
    path.write_text(head + "[" * depth + "]" * depth + "}", encoding="utf-8")
    result = run(str(path), "--engine", "compiled")
    assert result.exit_code == 1
    # the root is level 1, "extra" level 2: the first container past MAX_DEPTH (32)
    pointer = "/extra" + "/0" * 31
    assert result.stderr.startswith(f"{path}:2:32: json-structure: {pointer}: "
                                    "The JSON is nested too deeply at /extra/0"), result.stderr


def test_nan_is_still_refused_by_the_facts_check(tmp_path: Path) -> None:
    path = tmp_path / "nan.json"
    text = json.dumps(example("seed-case")).replace('"dscr": ', '"dscr": NaN, "_x": ', 1)
    text = text.replace(', "_x": ' + json.dumps(example("seed-case")["financials"]["dscr"]),
                        "", 1)
    path.write_text(text, encoding="utf-8")
    result = run(str(path), "--engine", "compiled")
    assert result.exit_code == 1
    col = text.index("NaN") + 1
    assert result.stderr.startswith(
        f"{path}:1:{col}: facts: /financials/dscr: expected a finite number"), result.stderr


def test_huge_integer_is_refused_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_text('{"client_id": ' + "9" * 5000 + "}", encoding="utf-8")
    result = run(str(path), "--engine", "compiled")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:1:1: json-syntax: /: unusable JSON: ")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_batch_line_with_duplicate_or_deep_nesting(tmp_path: Path, workers: str) -> None:
    good = [json.dumps(example(n)) for n in EXAMPLE_NAMES[:2]]
    twice = good[0][:-1] + ', "client_id": "OTHER-1"}'
    deep = good[1][:-1] + ', "extra": ' + "[" * 40 + "]" * 40 + "}"
    source = tmp_path / "portfolio.jsonl"
    source.write_text("\n".join([good[0], twice, deep, good[1]]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run("--batch", str(source), "-o", str(out), "--workers", workers)
    assert result.exit_code == 1, result.output
    stderr = result.stderr.splitlines()
    assert len(stderr) == 2
    col = twice.index('"OTHER-1"') + 1
    assert stderr[0].startswith(
        f"{source}:2:{col}: json-structure: /client_id: Member name 'client_id' appears twice")
    assert stderr[1].startswith(f"{source}:3:{deep.index('[') + 32}: json-structure: /extra/0")
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["client_id"] for r in rows] == ["MFG-0042", None, None, "PWR-0007"]
    assert [r.get("error") for r in rows] == [None, "refused", "refused", None]
    assert rows[1]["errors"][0]["path"] == "/client_id"
    assert rows[2]["line"] == 3
