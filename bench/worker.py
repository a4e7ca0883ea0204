"""One measurement in a fresh process: ``python -m bench.worker MODE ...`` (internal).

The orchestrator (``bench.engines_bench``) starts one worker per (round, contender) so that
every contender runs in a clean interpreter, back to back in the same run; the worker's
last stdout line is its result as JSON.

Modes:
  throughput ENGINE --n N [--min-seconds S] [--dump FILE]
      pass 1 (untimed): decide all clients, keep the outputs (verification + warm-up);
      pass 2 (timed): decide all clients back to back, whole passes repeated until
      >= S seconds have elapsed -> decisions/s and CPU/wall;
      pass 3: time every call separately -> p50/p99 latency.   (the peers' method)
  rss ENGINE --n N --decisions M
      warm-up pass over the clients, then M decisions cycling over them; current RSS
      (``/proc/self/statm``) after the warm-up, at every tenth of the run and at the end.
  load [--policies DIR]
      Registry.load + Decider construction for both engines on the default policies,
      each step timed (imports of engine.registry/engine.evaluate timed apart).
  profile ENGINE --n N
      cProfile of N decisions; prints the top functions (for the engines' owners).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bench import contenders

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Current resident set size (not the peak), in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def throughput(engine: str, n: int, min_seconds: float, dump: str | None) -> dict[str, Any]:
    clients = contenders.inputs(engine, n)
    decide = contenders.make(engine)
    pc, ns = time.perf_counter, time.perf_counter_ns

    outputs = [decide(c) for c in clients]
    reps, t0, p0 = 0, pc(), time.process_time()
    while reps == 0 or pc() - t0 < min_seconds:
        for c in clients:
            decide(c)
        reps += 1
    wall, cpu = pc() - t0, time.process_time() - p0
    latencies = []
    for c in clients:
        t = ns()
        decide(c)
        latencies.append(ns() - t)
    latencies.sort()
    if dump:
        Path(dump).write_text(json.dumps(outputs))
    return {
        "engine": engine, "n": n, "reps": reps, "wall_s": wall, "cpu_s": cpu,
        "dps": reps * n / wall,
        "p50_us": latencies[len(latencies) // 2] / 1e3,
        "p99_us": latencies[int(len(latencies) * 0.99)] / 1e3,
        "maxrss_mb": peak_rss_mb(),
    }


def rss(engine: str, n: int, decisions: int) -> dict[str, Any]:
    clients = contenders.inputs(engine, n)
    decide = contenders.make(engine)
    for c in clients:  # warm-up: caches, interned strings, allocator arenas
        decide(c)
    gc.collect()
    start = rss_mb()
    samples = [[0, round(start, 2)]]
    step = max(decisions // 10, 1)
    error = None
    done = 0
    t0 = time.perf_counter()
    try:
        for i in range(decisions):
            decide(clients[i % n])
            done = i + 1
            if done % step == 0 and done < decisions:
                samples.append([done, round(rss_mb(), 2)])
    except Exception as exc:  # a contender that breaks in a long run is a finding: report it
        error = f"{type(exc).__name__} after {done:,} decisions: {str(exc)[:300]}"
    wall = time.perf_counter() - t0
    gc.collect()
    end = rss_mb()
    samples.append([done, round(end, 2)])
    return {
        "engine": engine, "decisions": done, "wall_s": wall, "dps": done / wall if wall else 0.0,
        "rss_after_warmup_mb": start, "rss_end_mb": end, "growth_mb": end - start,
        "samples": samples, "maxrss_mb": peak_rss_mb(), "error": error,
    }


def load(policies: Path) -> dict[str, Any]:
    pc = time.perf_counter
    t0 = pc()
    from bench.contenders import load_registry
    from engine.evaluate import Decider

    t1 = pc()
    registry = load_registry(policies)
    t2 = pc()
    Decider(registry, engine="durable")  # imports durable_rules: counted here, on purpose
    t3 = pc()
    Decider(registry, engine="compiled")
    t4 = pc()
    return {
        "policies": str(policies), "versions": len(registry.all()),
        "import_s": t1 - t0, "registry_load_s": t2 - t1,
        "decider_durable_s": t3 - t2, "decider_compiled_s": t4 - t3,
        "total_s": t4 - t1, "total_with_imports_s": t4 - t0,
    }


def profile(engine: str, n: int, top: int = 30) -> dict[str, Any]:
    report = io.StringIO()
    stats = pstats.Stats(contenders.profiled(engine, n, warm=500), stream=report)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    print(report.getvalue(), file=sys.stderr)
    return {"engine": engine, "n": n}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.worker")
    ap.add_argument("mode", choices=("throughput", "rss", "load", "profile"))
    ap.add_argument("engine", nargs="?", choices=contenders.ENGINES)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("--dump")
    ap.add_argument("--decisions", type=int, default=1_000_000)
    ap.add_argument("--policies", type=Path, default=contenders.DEFAULT_POLICIES)
    a = ap.parse_args(argv)
    if a.mode != "load" and a.engine is None:
        ap.error(f"{a.mode} needs an engine")
    if a.mode == "throughput":
        result = throughput(a.engine, a.n, a.min_seconds, a.dump)
    elif a.mode == "rss":
        result = rss(a.engine, a.n, a.decisions)
    elif a.mode == "load":
        result = load(a.policies)
    else:
        result = profile(a.engine, a.n)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
