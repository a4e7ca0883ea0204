"""Acceptance findings on the command line, kept as regression tests.

Each test is a black-box check that once failed against a fresh clone: a traceback where
contract §3 promises an exit status, an error without ``path:line:col: code:``, a line of
a portfolio that vanished from the terminal.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from engine.cli import main
from engine.json_locate import bad_string_pointer, locate, pointer_offsets

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
SEED = json.loads((ROOT / "tests" / "data" / "examples" / "seed-case.json").read_text())


def crmc(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


def write(path: Path, text: str | bytes) -> str:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_facts_path_that_does_not_exist_is_a_usage_error() -> None:
    # was: FileNotFoundError traceback, exit 1
    for args in (["decide", "/nonexistent/facts.json"],
                 ["decide", "--batch", "/nonexistent/portfolio.jsonl"]):
        result = crmc(*args, "--policies", str(POLICIES))
        assert result.exit_code == 2, result.output
        assert "does not exist" in result.stderr
        assert "Traceback" not in result.output


def test_facts_that_are_not_utf8_are_refused_with_a_location(tmp_path: Path) -> None:
    # was: UnicodeDecodeError traceback
    path = write(tmp_path / "latin1.json", '{"client_id": "x",\n "profile": {"name": "M\xfcller"}}'
                 .encode("latin-1"))
    result = crmc("decide", "--policies", str(POLICIES), "--engine", "compiled", path)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:2:24: encoding: /: not UTF-8: byte 0xfc")


def test_errors_are_path_line_col_code_message(tmp_path: Path) -> None:
    facts = json.loads(json.dumps(SEED))
    facts["financials"]["dscr"] = "thin"
    del facts["client_id"]
    path = write(tmp_path / "facts.json", json.dumps(facts, indent=2))
    result = crmc("decide", "--policies", str(POLICIES), "--engine", "compiled", path)
    assert result.exit_code == 1
    text = Path(path).read_text()
    dscr_line = text[: text.index('"thin"')].count("\n") + 1
    lines = result.stderr.splitlines()
    # the value itself (indent=2: "dscr" sits at column 5, its value after '"dscr": ')
    assert f'{path}:{dscr_line}:13: facts: /financials/dscr: expected a number, got string ' \
           '"thin"' in lines
    # a missing field lands on the object that lacks it
    assert f"{path}:1:1: facts: /client_id: required field is missing" in lines

    result = crmc("decide", "--policies", str(POLICIES), "--engine", "compiled", "--format",
                  "json", path)
    errors = json.loads(result.stderr)
    assert {(e["line"], e["col"], e["code"]) for e in errors} == {(dscr_line, 13, "facts"),
                                                                   (1, 1, "facts")}


LONE = '{"client_id": "MFG-1", "profile": {"name": "\\ud800"}}'


def test_a_lone_surrogate_is_refused_not_a_traceback(tmp_path: Path) -> None:
    # was: --log crashed in the hash chain (UnicodeEncodeError: surrogates not allowed)
    facts = json.loads(json.dumps(SEED))
    facts["profile"]["name"] = "PLACEHOLDER"
    path = write(tmp_path / "lone.json", json.dumps(facts).replace("PLACEHOLDER", "\\ud800"))
    env = {"CRMC_DATABASE_URL": f"sqlite:///{tmp_path / 'log.db'}",
           "CRMC_AUDIT_KEY": "acceptance", "CRMC_KEYS_FILE": str(tmp_path / "keys.json")}
    result = crmc("decide", "--policies", str(POLICIES), "--engine", "compiled", "--log", path,
                  env=env)
    assert result.exit_code == 1, result.output
    assert ": encoding: /profile/name: not valid Unicode" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)

    batch = write(tmp_path / "lone.jsonl", LONE + "\n" + json.dumps(SEED) + "\n")
    result = crmc("decide", "--policies", str(POLICIES), "--batch", batch, "--workers", "1")
    assert result.exit_code == 1
    col = LONE.index('"\\ud800') + 1  # the string's opening quote
    assert result.stderr.startswith(f"{batch}:1:{col}: encoding: /profile/name: ")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["error"] == "refused" and rows[1]["client_id"] == SEED["client_id"]


def test_pointer_offsets_follow_json_loads() -> None:
    text = '{"a": [1, {"b/c": "x\\"y", "~": null}], "d": {}, "d": {"e": -1.5e3}}'
    offsets = pointer_offsets(text)
    assert text[offsets["/a/1/b~1c"]:].startswith('"x\\"y"')
    assert text[offsets["/a/1/~0"]:].startswith("null")
    assert text[offsets["/d/e"]:].startswith("-1.5e3")  # the last duplicate wins
    assert locate(text, "/a/1/missing") == (1, 11)
    assert locate(text, "/") == (1, 1)
    deep = "[" * 5000 + "]" * 5000  # iterative: no recursion limit
    assert locate(deep, "/0/0/0") == (1, 4)
    assert bad_string_pointer(json.loads(LONE)) == "/profile/name"
    assert bad_string_pointer({"ok": ["fine", {"k": "v"}]}) is None


def test_impact_names_the_lines_it_could_not_compare(tmp_path: Path) -> None:
    # was: lines with invalid JSON or refused facts only in the JSON/HTML reports
    bad = json.loads(json.dumps(SEED))
    bad["financials"]["dscr"] = "x"
    portfolio = write(tmp_path / "p.jsonl", "\n".join(
        [json.dumps(SEED), json.dumps(bad), "not json"]) + "\n")
    result = crmc("impact", "--policies", str(POLICIES), "--workers", "1", "--as-of",
                  "2026-11-30", "classification", "1.0.0", "1.1.0", portfolio)
    assert result.exit_code == 0, result.output
    assert f'{portfolio}:2: /financials/dscr: expected a number, got string "x"' \
        in result.stderr.splitlines()
    assert any(line.startswith(f"{portfolio}:3: invalid JSON") for line in
               result.stderr.splitlines())
    assert "2 line(s) not compared" in result.stderr


def test_audit_verify_before_any_checkpoint_says_so(tmp_path: Path) -> None:
    # was: "last signed record None"
    env = {"CRMC_DATABASE_URL": f"sqlite:///{tmp_path / 'log.db'}",
           "CRMC_AUDIT_KEY": "acceptance", "CRMC_KEYS_FILE": str(tmp_path / "keys.json")}
    seed = write(tmp_path / "seed.json", json.dumps(SEED))
    assert crmc("decide", "--policies", str(POLICIES), "--engine", "compiled", "--log", seed,
                env=env).exit_code == 0
    result = crmc("audit", "verify", env=env)
    assert result.exit_code == 0, result.output
    assert "None" not in result.stdout
    assert "1 records" in result.stdout


def _draft(root: Path, version: str, amount: int) -> Path:
    shutil.copytree(POLICIES, root)
    text = (root / "classification" / "1.1.0.yaml").read_text()
    text = text.replace("version: 1.1.0", f"version: {version}")
    text = text.replace("status: active", "status: draft")
    text = text.replace("{fact: request.amount, gte: 100}",
                        f"{{fact: request.amount, gte: {amount}}}")
    assert f"gte: {amount}}}" in text
    (root / "classification" / f"{version}.yaml").write_text(text)
    return root


# Found by acceptance: durable reused a registered ruleset's codings when only thresholds
# differed (an edited draft, reloaded, was decided with its old thresholds under its new
# sha256); fixed in f1784bc. Also what made test_bench_reference[durable] order-dependent.
def test_durable_decides_an_edited_draft_with_its_own_thresholds(tmp_path: Path) -> None:
    from engine.evaluate import Decider
    from engine.registry import Registry

    pins = {"classification": "7.77.7"}  # a version no other test registers
    for root, amount in ((tmp_path / "before", 100), (tmp_path / "after", 400)):
        registry = Registry.load(_draft(root, "7.77.7", amount))
        durable = Decider(registry, "durable").decide(SEED, pins=pins)
        compiled = Decider(registry, "compiled").decide(SEED, pins=pins)
        assert durable.policies == compiled.policies
        assert durable.segment == compiled.segment, (amount, durable.segment)


def test_serve_prod_binds_where_crmc_bind_says(tmp_path: Path) -> None:
    # was: serve-prod always overwrote CRMC_BIND with --host/--port defaults, so
    # `CRMC_BIND=127.0.0.1:9000 make serve` still took 8080 (README: CRMC_BIND)
    import http.client
    import os
    import subprocess
    import sys
    import time

    from http_support import free_port

    from engine.cli.serve_prod import bind_address

    assert bind_address("127.0.0.1", 8080, explicit=False, env={}) == "127.0.0.1:8080"
    assert bind_address("127.0.0.1", 8080, explicit=False,
                        env={"CRMC_BIND": "127.0.0.1:9"}) == "127.0.0.1:9"
    assert bind_address("0.0.0.0", 81, explicit=True,
                        env={"CRMC_BIND": "127.0.0.1:9"}) == "0.0.0.0:81"

    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CRMC_", "PROMETHEUS_MULTIPROC_DIR"))}
    env.update(PYTHONPATH=str(ROOT), CRMC_BIND=f"127.0.0.1:{port}", CRMC_WORKERS="1",
               CRMC_VAR_DIR=str(tmp_path / "var"), CRMC_POLICIES_DIR=str(POLICIES),
               CRMC_ENGINE="compiled", CRMC_KEYS_FILE=str(tmp_path / "var" / "keys.json"),
               CRMC_AUDIT_KEY_FILE=str(tmp_path / "var" / "audit.key"),
               CRMC_DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'decisions.db'}")
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from engine.cli import main; main()",
                                 "serve-prod"], cwd=tmp_path, env=env, stdout=out, stderr=out)
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None and status != 200:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                status = conn.getresponse().status
                conn.close()
            except OSError:
                time.sleep(0.2)
        assert status == 200, log.read_text(errors="replace")[-2000:]
        assert f"serving on http://127.0.0.1:{port}" in log.read_text(errors="replace")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_decide_without_a_policy_directory_is_a_usage_error(tmp_path: Path) -> None:
    # was: "policies:0:0: io: $: not a directory", exit 1, when run outside the checkout
    seed = write(tmp_path / "seed.json", json.dumps(SEED))
    result = crmc("decide", "--policies", str(tmp_path / "nowhere"), seed)
    assert result.exit_code == 2
    assert "pass --policies or set CRMC_POLICIES_DIR" in result.stderr
