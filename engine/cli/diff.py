"""``crmc diff POLICY_ID V1 V2``: the rule-level diff of two versions of a policy.

Exit 0 with the diff (also when the versions do not differ); exit 1 when the policy
directory is invalid; exit 2 when POLICY_ID or a version does not exist (a usage error).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from engine.config import Settings
from engine.diff import diff_versions, format_text
from engine.errors import PolicyError, UnknownPolicyVersion, report
from engine.registry import Registry

__all__ = ["command"]


@click.command("diff")
@click.argument("policy_id")
@click.argument("v1")
@click.argument("v2")
@click.option(
    "--dir",
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Policy directory (default: CRMC_POLICIES_DIR, else policies/).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def command(policy_id: str, v1: str, v2: str, directory: Path | None, fmt: str) -> None:
    """Rule-level diff of POLICY_ID from version V1 to version V2.

    Rules are matched by id: added (with position), removed, changed (which condition
    leaf or outcome, old → new), reordered; then metadata and other settings.

    Exit 0 with the diff; 1 if the policy directory is invalid; 2 if POLICY_ID or a
    version is unknown.
    """
    directory = directory or Settings.from_env().policies_dir
    try:
        registry = Registry.load(directory)
    except PolicyError as exc:
        for line in report(exc.problems):
            click.echo(line, err=True)
        click.echo("the policy directory is not valid: run `crmc validate`", err=True)
        raise SystemExit(1) from None
    try:
        old, new = registry.get(policy_id, v1), registry.get(policy_id, v2)
    except UnknownPolicyVersion as exc:
        known = (
            [lp.version for lp in registry.versions(policy_id)]
            if policy_id in registry.ids()
            else []
        )
        hint = (
            f" (known versions: {', '.join(known)})"
            if known
            else f" (policies: {', '.join(registry.ids())})"
        )
        click.echo(f"crmc diff: {exc}{hint}", err=True)
        raise SystemExit(2) from None
    diff = diff_versions(old, new)
    if fmt == "json":
        click.echo(json.dumps(diff, indent=2, ensure_ascii=False))
    else:
        click.echo(format_text(diff), nl=False)
