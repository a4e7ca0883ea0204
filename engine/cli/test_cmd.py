"""``crmc test``: run the policy test cases (``policies/tests`` by default).

    crmc test [PATH ...] [--engine E] [--format text|json] [--coverage] [--min-coverage P]

Prints each failing case with its file:line, every expectation that did not hold
(expected vs actual, at the expectation's own line) and the rules that fired; problems in
case files print as ``file:line:col: code: $.path: message`` and count as failures. The
last line is exactly ``N passed, M failed``. Exit 0 when everything passed (and coverage
reached ``--min-coverage``), 1 otherwise, 2 on usage errors (including a PATH that does
not exist, as in ``crmc validate`` and ``crmc lint``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from engine.casetest import load_suite, make_decider, run_suite
from engine.config import ENGINES, Settings
from engine.coverage import VersionCoverage, coverage, total_percent
from engine.errors import PolicyError

__all__ = ["command"]


def _coverage_text(report: list[VersionCoverage], minimum: float | None) -> list[str]:
    lines = ["coverage (rules, defaults and SWOT bands that no case exercised):"]
    for c in report:
        lines.append(f"  {c.key:<28} {c.status:<8} {c.percent:6.1f}%  "
                     f"{len(c.covered)}/{len(c.items)}")
        lines += [f"      not covered: {item}" for item in c.uncovered]
    total = total_percent(report)
    suffix = f" (minimum {minimum:g}%)" if minimum is not None else ""
    lines.append(f"  total {total:.1f}%{suffix}")
    return lines


@click.command(name="test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--engine", type=click.Choice(ENGINES), default=None,
              help="Rule engine (default: CRMC_ENGINE, else durable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="Report format.")
@click.option("--coverage", "with_coverage", is_flag=True,
              help="Report the rules, defaults and SWOT bands no case exercised, per version.")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None, metavar="P",
              help="Fail when total coverage is below P percent (implies --coverage).")
@click.option("--policies", "policies_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Policy directory (default: CRMC_POLICIES_DIR, else policies).")
def command(paths: tuple[Path, ...], engine: str | None, fmt: str, with_coverage: bool,
            min_coverage: float | None, policies_dir: Path | None) -> None:
    """Run the policy test cases; the last line is `N passed, M failed`."""
    settings = Settings.from_env()
    policies_dir = policies_dir or settings.policies_dir
    if not paths and not (policies_dir / "tests").is_dir():  # as validate and lint: exit 2
        raise click.UsageError(f"no test cases at '{policies_dir / 'tests'}'; pass a PATH, "
                               f"--policies or set CRMC_POLICIES_DIR")
    suite = load_suite(paths or [policies_dir / "tests"])
    try:
        decider = make_decider(policies_dir, engine or settings.engine)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise SystemExit(1) from None
    results = run_suite(suite.cases, decider)
    passed = sum(r.passed for r in results)
    failed = len(results) - passed + len(suite.problems)

    report: list[VersionCoverage] | None = None
    below = False
    if with_coverage or min_coverage is not None:
        runs = [(r.case.facts, r.decision) for r in results if r.decision is not None]
        report = coverage(decider.registry.all(), runs)
        below = min_coverage is not None and total_percent(report) < min_coverage - 1e-9

    if fmt == "json":
        out: dict[str, Any] = {
            "passed": passed,
            "failed": failed,
            "problems": [p.to_json() for p in suite.problems],
            "results": [r.to_json() for r in results],
        }
        if report is not None:
            out["coverage"] = {"total": round(total_percent(report), 1), "minimum": min_coverage,
                               "versions": [c.to_json() for c in report]}
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        for problem in suite.problems:
            click.echo(str(problem), err=True)
        for result in results:
            if not result.passed:
                click.echo("\n".join(result.report()))
        if report is not None:
            click.echo("\n".join(_coverage_text(report, min_coverage)))
            if below:
                click.echo(f"coverage {total_percent(report):.1f}% is below the minimum "
                           f"{min_coverage:g}%")
        click.echo(f"{passed} passed, {failed} failed")
    raise SystemExit(1 if failed or below else 0)
