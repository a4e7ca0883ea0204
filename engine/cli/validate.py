"""``crmc validate [PATH ...]``: check policy files and directories.

Exit 0 when everything is valid (a one-line summary on stderr), 1 with every problem on
stderr (``--format json``: the problems as a JSON list on stdout), 2 on a usage error
(click's own, including a PATH that does not exist).

A policies directory is checked as a whole, including its ``policies.lock`` (a directory
without a lock has every active version reported as ``lock-missing``). A single file, or
one policy's directory (``policies/swot``), is checked file by file, against the lock of
the policies directory above it when there is one.
"""

from __future__ import annotations

from pathlib import Path

import click

from engine.cli._paths import policy_targets
from engine.errors import Problem, report, report_json
from engine.lock import LOCK_NAME, LockEntry, check_lock, read_lock
from engine.registry import check_directory, policy_sha256
from engine.validate import check_file


def validate_paths(paths: list[Path]) -> tuple[int, list[Problem]]:
    """(number of policy versions checked, every problem) for files and directories."""
    count, problems = 0, []
    for path in paths:
        own_versions = sorted(path.glob("[0-9]*.yaml")) if path.is_dir() else []
        if own_versions:  # one policy's directory, e.g. policies/swot
            count += len(own_versions)
            for file in own_versions:
                problems += _check_one_file(file)
        elif path.is_dir():  # a policies directory: checked as a whole
            result = check_directory(path, lock=True)
            count += len(result.checked)
            problems += result.problems
        else:
            count += 1
            problems += _check_one_file(path)
    return count, problems


def _check_one_file(path: Path) -> list[Problem]:
    checked = check_file(path)
    problems = list(checked.problems)
    lock_path = path.parent.parent / LOCK_NAME
    doc = checked.document
    if lock_path.exists() and doc is not None and isinstance(doc.data, dict):
        the_lock, lock_problems = read_lock(lock_path)
        key = f"{path.parent.name}@{path.stem}"
        until = doc.data.get("effective_to")
        entry = LockEntry(key, policy_sha256(doc.data), str(doc.data.get("status")),
                          until if isinstance(until, str) else None, doc)
        # Only this file's entry: the other locked versions are not being checked.
        the_lock.entries = {k: v for k, v in the_lock.entries.items() if k == key}
        problems += lock_problems or check_lock(the_lock, [entry])
    return problems


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: the problems as a JSON list on stdout.")
def command(paths: tuple[Path, ...], fmt: str) -> None:
    """Check policy files and directories (default: CRMC_POLICIES_DIR, else policies/)."""
    count, problems = validate_paths(policy_targets(paths))
    if fmt == "json":
        click.echo(report_json(problems))
    if problems:
        if fmt == "text":
            for line in report(problems):
                click.echo(line, err=True)
        click.echo(f"{len(problems)} problem{'s' * (len(problems) != 1)} in {count} policy "
                   f"version{'s' * (count != 1)}", err=True)
        raise SystemExit(1)
    click.echo(f"{count} policy version{'s' * (count != 1)} valid", err=True)
