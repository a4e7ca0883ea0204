"""``crmc impact``: what a new policy version changes for a portfolio.

    crmc impact POLICY_ID V_OLD V_NEW PORTFOLIO.jsonl [--as-of DATE] [-o report.html]
                [--json OUT.json] [--workers N] [--list N]

Evaluates every client (one facts document per line) under both versions on the compiled
engine, in worker processes (all cores by default), with a progress bar on a terminal.
Prints a summary table; ``-o`` writes the self-contained HTML report, ``--json`` the JSON
report. Exit 0; 1 when the policies cannot be loaded or are not in force on the date;
2 on usage errors (an unknown policy version, a missing portfolio).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import click

from engine.config import Settings
from engine.errors import NoPolicyInForce, PolicyError, UnknownPolicyVersion

__all__ = ["command"]


@click.command(name="impact")
@click.argument("policy_id")
@click.argument("v_old")
@click.argument("v_new")
@click.argument("portfolio", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Every other policy as in force on this date (default: today, UTC).")
@click.option("-o", "--output", "html_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the HTML report here.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the JSON report here.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: one per core).")
@click.option("--list", "cap", type=click.IntRange(0, 10_000), default=100, show_default=True,
              help="Affected clients listed with their before/after decisions.")
@click.option("--policies", "policies_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Policy directory (default: CRMC_POLICIES_DIR, else policies).")
def command(policy_id: str, v_old: str, v_new: str, portfolio: Path, as_of: dt.datetime | None,
            html_out: Path | None, json_out: Path | None, workers: int | None, cap: int,
            policies_dir: Path | None) -> None:
    """What changes for a portfolio between two versions of a policy."""
    from engine import impact
    from engine.casetest import make_decider
    from engine.impact_html import render

    policies_dir = policies_dir or Settings.from_env().policies_dir
    day = as_of.date() if as_of else dt.datetime.now(dt.UTC).date()
    try:
        decider = make_decider(policies_dir, "compiled")
        for version in (v_old, v_new):
            decider.registry.get(policy_id, version)
        for version in (v_old, v_new):
            decider.select(day, {policy_id: version})
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise SystemExit(1) from None
    except UnknownPolicyVersion as exc:
        raise click.UsageError(str(exc)) from None
    except NoPolicyInForce as exc:
        raise click.ClickException(str(exc)) from None

    started = time.perf_counter()
    total = portfolio.stat().st_size
    if sys.stderr.isatty():
        with click.progressbar(length=total, label="clients", file=sys.stderr) as bar:
            result = impact.run(policies_dir, policy_id, v_old, v_new, portfolio, as_of=day,
                                workers=workers, cap=cap, progress=bar.update)
    else:
        result = impact.run(policies_dir, policy_id, v_old, v_new, portfolio, as_of=day,
                            workers=workers, cap=cap)
    seconds = time.perf_counter() - started
    rep = impact.report(result, policy_id=policy_id, v_old=v_old, v_new=v_new, as_of=day,
                        portfolio=portfolio.name, decider=decider, seconds=seconds)
    click.echo("\n".join(impact.summary(rep)))
    click.echo(f"\n{rep['clients']:,} clients in {seconds:.1f} s")
    # Lines that could not be evaluated (not JSON, not an object, refused under both
    # versions) must not vanish from the terminal: name them on stderr, as decide does.
    for error in rep["errors"]:
        click.echo(f"{portfolio}:{error['line']}: {error['message']}", err=True)
    if rep["errors"]:
        click.echo(f"{len(rep['errors']):,} line(s) not compared (listed above"
                   f"{'; capped' if len(rep['errors']) >= impact.MAX_ERRORS else ''})", err=True)
    if json_out:
        json_out.write_text(json.dumps(rep, indent=2, ensure_ascii=False), encoding="utf-8")
        click.echo(f"wrote {json_out}", err=True)
    if html_out:
        html_out.write_text(render(rep), encoding="utf-8")
        click.echo(f"wrote {html_out}", err=True)
