"""``make bench`` = ``python -m bench``: the engine benchmark, then the HTTP benchmark.

  python -m bench                      full run (9-15 min on 2 shared cores, most of it the
                                       RSS runs of 1,000,000 decisions per engine)
  python -m bench --quick              smoke run: 2,000 clients, 1 round, 20,000 RSS decisions
  python -m bench --rss-decisions 200000 --rss-engines durable,compiled
  python -m bench --profile durable    cProfile of our durable engine on 3,000 decisions
  python -m bench --no-http            skip bench/http_bench.py

Writes ``bench/results.json`` (``--out``; a quick run writes to a temporary file unless
``--out`` is given, so it never overwrites the recorded full run).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import engines_bench
from bench.contenders import ENGINES, REPO

HERE = Path(__file__).resolve().parent
HTTP_BENCH = HERE / "http_bench.py"


def _engines(text: str) -> tuple[str, ...]:
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    unknown = [x for x in names if x not in ENGINES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown engine(s) {unknown}; expected {ENGINES}")
    return names


def run_http(quick: bool) -> dict[str, Any]:
    """Run ``bench/http_bench.py`` (issue 4's benchmark) if it exists; keep its output."""
    cmd = [sys.executable, "-m", "bench.http_bench"] + (["--quick"] if quick else [])
    print(f"\n== HTTP benchmark: {' '.join(cmd[1:])}", flush=True)
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:  # stream it (one line behind): the HTTP run takes a while
        if lines:
            print(lines[-1], flush=True)
        lines.append(line.rstrip("\n"))
    code = proc.wait()
    result: dict[str, Any] = {"returncode": code, "output": lines}
    if lines:
        # by convention the last line is the benchmark's result as JSON: keep it, don't print it
        with contextlib.suppress(ValueError):
            result["result"] = json.loads(lines[-1])
        if "result" not in result:
            print(lines[-1], flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short smoke run")
    ap.add_argument("--clients", type=int, help="clients per pass (default 10,000)")
    ap.add_argument("--rounds", type=int, help="rounds (default 3)")
    ap.add_argument("--rss-decisions", type=int, help="decisions per RSS run (default 1,000,000)")
    ap.add_argument("--engines", type=_engines, help=f"subset of {','.join(ENGINES)}")
    ap.add_argument("--rss-engines", type=_engines, help="engines of the RSS runs (default all)")
    ap.add_argument("--out", type=Path, help="results file (default bench/results.json)")
    ap.add_argument("--no-http", action="store_true", help="skip bench/http_bench.py")
    ap.add_argument("--profile", choices=ENGINES, help="only profile one engine (cProfile)")
    a = ap.parse_args(argv)

    if a.profile:
        n = str(a.clients or 3000)
        return subprocess.run([sys.executable, "-m", "bench.worker", "profile", a.profile,
                               "--n", n], cwd=REPO, check=False).returncode

    opts = engines_bench.Options()
    if a.quick:
        opts = engines_bench.Options(n=2000, rounds=1, min_seconds=0.2, rss_decisions=20_000)
    opts.n = a.clients or opts.n
    opts.rounds = a.rounds or opts.rounds
    opts.rss_decisions = a.rss_decisions if a.rss_decisions is not None else opts.rss_decisions
    opts.engines = a.engines or opts.engines
    opts.rss_engines = a.rss_engines if a.rss_engines is not None else opts.rss_engines
    if "plain" not in opts.engines:
        opts.engines = (*opts.engines, "plain")  # the reference for outputs and ratios

    started = dt.datetime.now(dt.UTC)
    print(f"== engine benchmark (issue 3), {started:%Y-%m-%d %H:%M} UTC", flush=True)
    results: dict[str, Any] = {"date": started.isoformat(timespec="seconds"),
                               "quick": a.quick, "engines": engines_bench.run(opts)}
    if HTTP_BENCH.exists() and not a.no_http:
        results["http"] = run_http(a.quick)

    out = a.out
    if out is None:
        out = (Path(tempfile.mkdtemp(prefix="crmc-bench-")) / "results.json") if a.quick \
            else HERE / "results.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {out}")
    eng = results["engines"]
    broken = bool(eng["failed"]) or any(v["mismatches"] for v in eng["verify"].values())
    http_failed = results.get("http", {}).get("returncode", 0) != 0
    return 1 if broken or http_failed else 0


if __name__ == "__main__":
    sys.exit(main())
