"""``crmc policies``: list every policy version with status, effective dates and sha256."""

from __future__ import annotations

import json
from pathlib import Path

import click

from engine.config import Settings
from engine.errors import PolicyError, report
from engine.registry import Registry
from engine.seam import LoadedPolicy


def describe(lp: LoadedPolicy) -> dict[str, object]:
    """One version as listed (also the shape of ``GET /v1/policies`` entries)."""
    p = lp.policy
    return {
        "id": p.id,
        "kind": p.kind,
        "version": p.version,
        "status": p.status,
        "effective_from": p.effective_from.isoformat(),
        "effective_to": p.effective_to.isoformat() if p.effective_to else None,
        "owner": p.owner,
        "sha256": lp.sha256,
        "path": str(lp.path),
    }


@click.command("policies")
@click.option("--dir", "directory", type=click.Path(exists=True, file_okay=False,
                                                   path_type=Path),
              help="Policy directory (default: CRMC_POLICIES_DIR, else policies/).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def command(directory: Path | None, fmt: str) -> None:
    """List policy ids, versions, status, effective dates and sha256."""
    directory = directory or Settings.from_env().policies_dir
    try:
        registry = Registry.load(directory, lock=True)
    except PolicyError as exc:
        for line in report(exc.problems):
            click.echo(line, err=True)
        click.echo("the policy directory is not valid: run `crmc validate`", err=True)
        raise SystemExit(1) from None
    rows = [describe(lp) for lp in registry.all()]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    header = ("ID", "VERSION", "STATUS", "FROM", "TO", "SHA256")
    table = [header] + [
        (r["id"], r["version"], r["status"], r["effective_from"], r["effective_to"] or "-",
         r["sha256"]) for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header) - 1)]
    for row in table:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, str(row[-1])]))
