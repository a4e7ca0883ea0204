"""``crmc lint [PATH ...]``: static analysis of policy versions (see :mod:`engine.lint`).

Findings go to stdout, one per line as ``path:line:col: code: json_path: message`` (a
counter-example facts document at the end of the message where one helps), sorted by
file and position; ``--format json`` prints them as a JSON list with ``severity`` and a
structured ``example``. A summary line goes to stderr. Exit 0 when there is no finding,
1 when there is one, 2 on a usage error (including a PATH that does not exist).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from engine.cli._paths import policy_targets
from engine.errors import MAX_REPORTED
from engine.lint import lint_files, policy_files


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: the findings as a JSON list on stdout.")
@click.option("--overlaps", is_flag=True,
              help="Also report overlaps between first-match rules with different outcomes "
                   "(where rule order decides); info level, counted as findings.")
def command(paths: tuple[Path, ...], fmt: str, overlaps: bool) -> None:
    """Find shadowed rules, gaps, contradictions, band holes and unknown facts.

    PATH is a policy file or a policy directory (default: CRMC_POLICIES_DIR, else
    policies/). Exit 0 clean, 1 findings, 2 usage error.
    """
    files, _ = policy_files(policy_targets(paths))  # click checked that PATHs exist
    findings = lint_files(files, overlaps=overlaps)
    if fmt == "json":
        click.echo(json.dumps([f.to_json() for f in findings], indent=2, ensure_ascii=False))
    else:
        for finding in findings[:MAX_REPORTED]:
            click.echo(str(finding))
        if len(findings) > MAX_REPORTED:
            click.echo(f"... and {len(findings) - MAX_REPORTED} more findings")
    n = len(findings)
    click.echo(f"{n} finding{'s' * (n != 1)} in {len(files)} policy "
               f"version{'s' * (len(files) != 1)}", err=True)
    if findings:
        raise SystemExit(1)
