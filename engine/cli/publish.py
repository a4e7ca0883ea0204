"""``crmc publish POLICY_ID VERSION``: validate a draft, mark it active and lock its hash.

The directory is checked as it will be after publishing (overlapping effective periods,
the lock, ...); nothing is written unless it is valid. Exit 0 published, 1 refused
(problems on stderr), 2 usage.
"""

from __future__ import annotations

from pathlib import Path

import click

from engine.config import Settings
from engine.errors import UnknownPolicyVersion, report
from engine.registry import publish


@click.command("publish")
@click.argument("policy_id")
@click.argument("version")
@click.option("--dir", "directory", type=click.Path(exists=True, file_okay=False,
                                                   path_type=Path),
              help="Policy directory (default: CRMC_POLICIES_DIR, else policies/).")
def command(policy_id: str, version: str, directory: Path | None) -> None:
    """Publish draft VERSION of POLICY_ID: status active, sha256 in policies.lock."""
    directory = directory or Settings.from_env().policies_dir
    try:
        sha, problems = publish(directory, policy_id, version)
    except UnknownPolicyVersion as exc:
        click.echo(f"{exc} (no file {directory / policy_id / (version + '.yaml')})", err=True)
        raise SystemExit(1) from None
    if problems:
        for line in report(problems):
            click.echo(line, err=True)
        click.echo(f"{policy_id} {version} not published", err=True)
        raise SystemExit(1)
    click.echo(f"published {policy_id} {version} sha256 {sha}", err=True)
