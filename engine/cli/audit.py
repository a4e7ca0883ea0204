"""``crmc audit``: verify, show, replay and export the decision log (CRMC_DATABASE_URL).

    crmc audit verify [--anchor SEQ:HASH] [--format text|json]   0 intact, 1 broken
    crmc audit show DECISION_ID                                  0, 3 not found
    crmc audit replay DECISION_ID | --all [--since DATE]         0 identical, 1 not, 3 not found
    crmc audit export [--since DATE] --format jsonl|csv [-o FILE]

Every subcommand exits 2 when the log cannot be opened (no file, database unreachable).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import click

from engine.config import ENGINES, Settings
from engine.record import DecisionLog, LogUnavailable, open_log

__all__ = ["command"]

DATE = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"])
CSV_COLUMNS = (
    "seq", "decision_id", "client_id", "decided_at", "as_of", "requester", "engine",
    "segment", "risk_grade", "warning_codes", "policies", "masked", "prev_hash", "hash",
)  # fmt: skip


def _open(settings: Settings) -> DecisionLog:
    url = settings.database_url
    if url.startswith("sqlite:///"):
        from engine.record_sqlite import sqlite_path

        if not sqlite_path(url).exists():
            click.echo(f"crmc audit: no decision log at {sqlite_path(url)}", err=True)
            sys.exit(2)
    try:
        # Read-only tools never create the checkpoint key: a new key would fail every
        # existing signature instead of reporting that none could be checked.
        return open_log(url, settings, create_key=False)
    except (LogUnavailable, ValueError) as exc:
        click.echo(f"crmc audit: cannot open the decision log: {exc}", err=True)
        sys.exit(2)


def _close(log: DecisionLog) -> None:
    log.store.close()  # not log.close(): reading the log must not sign its head


@click.group("audit")
def command() -> None:
    """Check, look up, replay and export the decision log (CRMC_DATABASE_URL)."""


@command.command("verify")
@click.option(
    "--anchor",
    metavar="SEQ:HASH",
    help="Also check that record SEQ still has HASH (a head you noted down earlier).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def verify(anchor: str | None, fmt: str) -> None:
    """Check the hash chain and the signed checkpoints. Exit 0 intact, 1 broken."""
    log = _open(Settings.from_env())
    try:
        result = log.verify().to_json()
        if anchor:
            seq_text, _, expected = anchor.partition(":")
            if not seq_text.isdigit() or not expected:
                raise click.BadParameter("expected SEQ:HASH", param_hint="--anchor")
            found = next((r for r in log.iter_records() if r["seq"] == int(seq_text)), None)
            if result["intact"] and (found is None or found["hash"] != expected):
                result.update(
                    intact=False,
                    first_broken=int(seq_text),
                    reason=f"record {seq_text} does not carry the anchored hash",
                )
    finally:
        _close(log)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
    elif result["intact"]:
        signed = (
            "no record signed yet"  # not "None": a checkpoint comes every N and on shutdown
            if result["last_checkpoint"] is None
            else f"last signed record {result['last_checkpoint']}"
        )
        click.echo(
            f"intact: {result['records']} records, head {result['head_seq']} "
            f"{result['head_hash']}; {result['checkpoints']} checkpoints, {signed}, "
            f"{result['unsigned_tail']} records after it"
        )
        if not result["signatures_checked"]:
            click.echo(
                "warning: no audit key available: checkpoint signatures NOT checked", err=True
            )
    else:
        click.echo(f"BROKEN at record {result['first_broken']}: {result['reason']}")
    sys.exit(0 if result["intact"] else 1)


@command.command("show")
@click.argument("decision_id")
def show(decision_id: str) -> None:
    """Print the logged record of DECISION_ID as JSON. Exit 3 if there is none."""
    log = _open(Settings.from_env())
    try:
        record = log.get(decision_id)
    finally:
        _close(log)
    if record is None:
        click.echo(f"crmc audit: no decision {decision_id} in the log", err=True)
        sys.exit(3)
    click.echo(json.dumps(record, indent=2, ensure_ascii=False))


@command.command("replay")
@click.argument("decision_id", required=False)
@click.option("--all", "replay_all", is_flag=True, help="Replay every record (or --since).")
@click.option("--since", type=DATE, default=None, help="With --all: decided on or after.")
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default=None,
    help="Replay on this engine (default: the engine each decision was made with).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def replay(
    decision_id: str | None,
    replay_all: bool,
    since: dt.datetime | None,
    engine: str | None,
    fmt: str,
) -> None:
    """Decide a logged request again with its recorded policy versions and compare.

    Exit 0 when every replay is identical (ignoring decision_id and decided_at), 1 when
    any differs or cannot be replayed (the differences are printed), 3 if DECISION_ID is
    not in the log.
    """
    if bool(decision_id) == replay_all:
        raise click.UsageError("give DECISION_ID or --all")
    if since and not replay_all:
        raise click.UsageError("--since goes with --all")
    from engine.errors import PolicyError
    from engine.registry import Registry
    from engine.replay import Replayer, format_result

    settings = Settings.from_env()
    try:
        replayer = Replayer(Registry.load(settings.policies_dir, lock=True), engine)
    except PolicyError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    log = _open(settings)
    failed = total = 0
    try:
        if decision_id:
            record = log.get(decision_id)
            if record is None:
                click.echo(f"crmc audit: no decision {decision_id} in the log", err=True)
                sys.exit(3)
            records: Iterator[dict[str, Any]] = iter([record])
            length = 1
        else:
            records, length = log.iter_records(since), log.count(since)
        with click.progressbar(
            records, length=length, label="replaying", file=sys.stderr
        ) as bar:  # click draws it only on a TTY
            for record in bar:
                result = replayer.replay(record)
                total += 1
                if result.identical and not decision_id:
                    continue
                failed += 0 if result.identical else 1
                if fmt == "json":
                    click.echo(json.dumps(result.to_json(), ensure_ascii=False))
                else:
                    click.echo(format_result(result), nl=False)
    finally:
        _close(log)
    if replay_all:
        click.echo(f"{total} replayed: {total - failed} identical, {failed} not", err=fmt == "json")
    sys.exit(1 if failed else 0)


# A cell starting with one of these is a formula to a spreadsheet (CSV injection: a
# client_id "=HYPERLINK(...)" would run when an auditor opens the export); OWASP's list.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A text cell a spreadsheet reads as text: a leading ``'`` before a formula start."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_row(record: dict[str, Any]) -> dict[str, Any]:
    return {k: _cell(v) for k, v in _csv_fields(record).items()}


def _csv_fields(record: dict[str, Any]) -> dict[str, Any]:
    decision = record.get("decision") or {}
    return {
        **{k: record.get(k) for k in ("seq", "decision_id", "client_id", "decided_at", "as_of")},
        "requester": record.get("requester") or "",
        "engine": record.get("engine") or "",
        "segment": (decision.get("segment") or {}).get("value", ""),
        "risk_grade": (decision.get("risk") or {}).get("grade", ""),
        "warning_codes": ";".join(w.get("code", "") for w in decision.get("warnings") or []),
        "policies": ";".join(f"{p['id']}@{p['version']}" for p in record.get("policies") or []),
        "masked": ";".join(record.get("masked") or []),
        "prev_hash": record["prev_hash"],
        "hash": record["hash"],
    }


@command.command("export")
@click.option("--since", type=DATE, default=None, help="Only records decided on or after.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), required=True)
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-")
def export(since: dt.datetime | None, fmt: str, output: TextIO) -> None:
    """Write records in seq order: full records as JSON Lines, or one CSV row each
    (the main fields, the policy versions as id@version, and the chain hashes)."""
    log = _open(Settings.from_env())
    try:
        if fmt == "jsonl":
            for record in log.iter_records(since):
                output.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        else:
            writer = csv.DictWriter(output, fieldnames=CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for record in log.iter_records(since):
                writer.writerow(_csv_row(record))
    finally:
        _close(log)
