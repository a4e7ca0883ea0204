"""``crmc decide``: decide on one facts document, or on a portfolio with ``--batch``.

    crmc decide FACTS.json [--as-of DATE] [--pin ID=VERSION ...] [--explain] [--engine E]
    crmc decide --batch FACTS.jsonl [-o OUT.jsonl] [--workers N] [same options]

One document: the decision JSON on stdout (exit 0); bad facts print every error on stderr
as ``FACTS.json:LINE:COL: code: /path: message`` (contract §3; ``--format json``: a JSON
list with the same fields) and exit 1; usage errors (a FACTS path that does not exist, a
malformed ``--pin``, an unknown pinned version) exit 2.

Codes: ``json-syntax`` (not JSON), ``json-structure`` (a member name given twice in an
object, or nesting deeper than ``engine.json_strict.MAX_DEPTH``: refused as the HTTP
service refuses them), ``encoding`` (not UTF-8, or a string that is not valid Unicode),
``facts`` (the facts check refused a field), ``no-policy`` (none in force).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from engine.config import ENGINES, Settings
from engine.errors import (
    DecisionRefused,
    FieldError,
    NoPolicyInForce,
    PolicyError,
    UnknownPolicyVersion,
)
from engine.json_locate import bad_string_pointer, line_col, locate, pointer_offsets
from engine.json_strict import JsonRefused, decode
from engine.registry import Registry

__all__ = ["Located", "command", "error_lines", "load_registry", "located_errors", "parse_facts",
           "parse_pins"]


def load_registry(directory: Path) -> Registry:
    """The policy registry of ``directory`` (raises PolicyError with every problem)."""
    return Registry.load(directory, lock=True)  # a deleted lock is refused, not skipped


def parse_pins(pins: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pin in pins:
        policy_id, sep, version = pin.partition("=")
        if not sep or not policy_id or not version:
            raise click.BadParameter(
                f"{pin!r}: expected ID=VERSION, e.g. risk=1.0.0", param_hint="--pin"
            )
        out[policy_id] = version
    return out


class Located(DecisionRefused):
    """Facts refused before the decider saw them, already placed in the file."""

    def __init__(self, code: str, line: int, col: int, error: FieldError):
        super().__init__([error])
        self.code, self.line, self.col = code, line, col


def located_errors(text: str, errors: list[FieldError], code: str = "facts",
                   line_offset: int = 0) -> list[dict[str, Any]]:
    """Each error with the line and column of its pointer in ``text``."""
    offsets = pointer_offsets(text)
    out = []
    for e in errors:
        line, col = locate(text, e.path, offsets)
        out.append({"line": line + line_offset, "col": col, "code": code, **e.to_json()})
    return out


def error_lines(name: str, errors: list[dict[str, Any]], fmt: str) -> str:
    """``path:line:col: code: /pointer: message`` lines, or the same as a JSON list."""
    if fmt == "json":
        found = [{"file": name, **e} for e in errors]
        return json.dumps(found, indent=2, ensure_ascii=False)
    return "\n".join(
        f"{name}:{e['line']}:{e['col']}: {e['code']}: {e['path']}: {e['message']}"
        for e in errors
    )


def parse_facts(data: bytes) -> tuple[str, Any]:
    """The text and the parsed document; raises ``Located`` for what is not usable JSON."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8", "replace")
        line, col = line_col(before, len(before))
        raise Located("encoding", line, col, FieldError(
            "/", f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}")) from None
    try:
        # NaN/Infinity parse as numbers here: the facts check refuses them with their place
        # ("expected a finite number"), which says more than a syntax error would.
        document = decode(text, constants=True)
    except json.JSONDecodeError as exc:
        raise Located("json-syntax", exc.lineno, exc.colno,
                      FieldError("/", f"invalid JSON: {exc.msg}")) from None
    except JsonRefused as exc:
        # A duplicated member name or nesting deeper than MAX_DEPTH, as the HTTP service
        # refuses them; a duplicate is placed at its second occurrence (the one locate
        # finds, as json.loads would keep it).
        at = exc.pointer or "/"
        line, col = _place(text, at)
        raise Located("json-structure", line, col, FieldError(at, exc.message)) from None
    except ValueError as exc:  # an integer over Python's digit limit
        raise Located("json-syntax", 1, 1, FieldError("/", f"unusable JSON: {str(exc)[:200]}")
                      ) from None
    if "\\u" in text:  # only an escape can produce a lone surrogate
        bad = bad_string_pointer(document)
        if bad is not None:
            line, col = locate(text, bad)
            raise Located("encoding", line, col, FieldError(
                bad, "not valid Unicode (a lone surrogate escape such as \\ud800)"))
    return text, document


def _place(text: str, pointer: str) -> tuple[int, int]:
    """``locate``, which trusts the syntax: text too deep to parse may also be broken
    further on, so a scan that fails there places the error at the start instead."""
    try:
        return locate(text, pointer)
    except (IndexError, ValueError):
        return 1, 1


def _read_facts(path: str) -> tuple[str, Any]:
    with click.open_file(path, "rb") as stream:
        return parse_facts(stream.read())


@click.command(name="decide")
@click.argument("facts", required=False,
                type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Apply the policy versions in force on this date (default: the facts' "
              "as_of, else today UTC).")
@click.option("--pin", "pins", multiple=True, metavar="ID=VERSION",
              help="Use this version of a policy whatever the date (repeatable).")
@click.option("--explain", is_flag=True, help="Include the trace of every rule considered.")
@click.option("--engine", type=click.Choice(ENGINES), default=None,
              help="Condition engine (default: CRMC_ENGINE; compiled for --batch).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="Format of the errors on stderr.")
@click.option("--policies", "policies_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Policy directory (default: CRMC_POLICIES_DIR).")
@click.option("--batch", type=click.Path(exists=True, dir_okay=False, allow_dash=True),
              default=None,
              help="Decide every line of a JSON Lines file of facts.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Where --batch writes its JSON Lines (default: stdout).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes for --batch (default: the number of CPUs).")
@click.option("--log", "log", is_flag=True,
              help="Append the decision to the decision log (CRMC_DATABASE_URL) before "
              "printing it; exit 1 if it cannot be logged.")
def command(
    facts: str | None,
    as_of: dt.datetime | None,
    pins: tuple[str, ...],
    explain: bool,
    engine: str | None,
    fmt: str,
    policies_dir: Path | None,
    batch: str | None,
    output: str,
    workers: int | None,
    log: bool,
) -> None:
    """Decide on a client's FACTS.json and print the decision as JSON."""
    settings = Settings.from_env()
    pinned = parse_pins(pins)
    directory = policies_dir or settings.policies_dir
    if not directory.is_dir():  # as crmc lint: say what to do, not "io: not a directory"
        raise click.UsageError(f"policy directory '{directory}' does not exist; pass "
                               f"--policies or set CRMC_POLICIES_DIR")
    day = as_of.date() if as_of else None
    if batch is not None:
        if log:
            raise click.UsageError("--log is for single decisions (use the HTTP batch route)")
        if facts is not None:
            raise click.UsageError("give either FACTS.json or --batch FACTS.jsonl, not both")
        from engine.cli.decide_batch import WorkerFailed, run_batch

        try:
            failed = run_batch(
                batch, output, directory=directory, engine=engine or "compiled", as_of=day,
                pins=pinned, explain=explain, workers=workers, fmt=fmt,
            )
        except (PolicyError, WorkerFailed) as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        sys.exit(1 if failed else 0)
    if facts is None:
        raise click.UsageError("missing FACTS.json (or --batch FACTS.jsonl)")
    _decide_one(facts, directory, engine or settings.engine, day, pinned, explain, fmt,
                settings if log else None)


def _decide_one(
    facts_path: str, directory: Path, engine: str, as_of: dt.date | None,
    pins: Mapping[str, str], explain: bool, fmt: str, log_settings: Settings | None = None,
) -> None:
    from engine.evaluate import Decider

    try:
        decider = Decider(load_registry(directory), engine)
    except PolicyError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    name = "<stdin>" if facts_path == "-" else facts_path
    text = ""
    try:
        text, document = _read_facts(facts_path)
        decision = decider.decide(document, as_of=as_of, pins=pins, explain=explain)
    except Located as exc:
        found = [{"line": exc.line, "col": exc.col, "code": exc.code, **exc.errors[0].to_json()}]
        click.echo(error_lines(name, found, fmt), err=True)
        sys.exit(1)
    except DecisionRefused as exc:
        click.echo(error_lines(name, located_errors(text, exc.errors), fmt), err=True)
        sys.exit(1)
    except UnknownPolicyVersion as exc:
        raise click.BadParameter(str(exc), param_hint="--pin") from None
    except NoPolicyInForce as exc:
        line, col = locate(text, "/as_of")
        found = [{"line": line, "col": col, "code": "no-policy", "path": "/", "message": str(exc)}]
        click.echo(error_lines(name, found, fmt), err=True)
        sys.exit(1)
    if log_settings is not None:  # logged (committed) before anything is printed
        from engine.record import LogUnavailable, make_entry, open_log

        try:
            decision_log = open_log(log_settings.database_url, log_settings)
            try:
                decision_log.append(make_entry(decision, document, as_of=as_of, pins=pins,
                                               explain=explain))
            finally:
                decision_log.close()
        except LogUnavailable as exc:
            click.echo(f"{name}: the decision log cannot be written: {exc}", err=True)
            sys.exit(1)
    click.echo(json.dumps(decision.model_dump(mode="json"), indent=2, ensure_ascii=False))
