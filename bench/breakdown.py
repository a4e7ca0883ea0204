"""Where a decision's time goes, by module: a guide for the engines' owners.

  python -m bench.breakdown [compiled|durable|zen|raw|plain] [--n 3000] [--top 25]

1. CPU µs per decision, unprofiled (``time.process_time``: other processes on the shared
   cores inflate wall time much more than CPU time);
2. the same decisions under cProfile, own time (``tottime``) summed per module —
   ``engine.swot_compiled``, ``pydantic``, ``jsonschema``, C calls such as
   ``durable_rules_engine`` — as a share of the profiled total, and that share of the
   unprofiled time. cProfile inflates code that makes many small Python calls more than
   code that makes few, so the µs column is an estimate; the ranking is what matters.

Grouping by module keeps this tool independent of how ``engine.evaluate`` is organised.
"""

from __future__ import annotations

import argparse
import pstats
import re
import time
from collections import Counter
from pathlib import Path

from bench import contenders

_REPO = str(contenders.REPO)
_C_FUNCTION = re.compile(r"<built-in method ([\w.]+)>")  # builtins.isinstance, module.fn
_C_METHOD = re.compile(r"<method '\w+' of '([\w.]+)' objects>")  # dict.get, Decimal.quantize


def module_of(filename: str, funcname: str) -> str:
    """A readable module name for a cProfile entry (file path or C-function description)."""
    if filename == "~":  # a function or method written in C
        m = _C_FUNCTION.search(funcname)
        if m:
            return f"C: {m.group(1).split('.')[0]}"
        m = _C_METHOD.search(funcname)
        return f"C: {m.group(1)} methods" if m else f"C: {funcname}"
    path = Path(filename)
    text = str(path)
    if "site-packages" in path.parts:
        i = path.parts.index("site-packages")
        return path.parts[i + 1].removesuffix(".py")
    if text.startswith(_REPO):
        rel = path.relative_to(_REPO).with_suffix("")
        return ".".join(rel.parts)
    return f"stdlib: {path.stem}"


def cpu_us_per_decision(engine: str, n: int) -> float:
    clients = contenders.inputs(engine, n)
    decide = contenders.make(engine)
    for c in clients[:300]:
        decide(c)
    t0 = time.process_time()
    for c in clients:
        decide(c)
    return (time.process_time() - t0) / n * 1e6


def by_module(engine: str, n: int) -> Counter[str]:
    stats = pstats.Stats(contenders.profiled(engine, n, warm=300))
    shares: Counter[str] = Counter()
    for (filename, _line, funcname), row in stats.stats.items():  # type: ignore[attr-defined]
        shares[module_of(filename, funcname)] += row[2]  # tottime
    return shares


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.breakdown")
    ap.add_argument("engine", nargs="?", default="compiled", choices=contenders.ENGINES)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args(argv)
    us = cpu_us_per_decision(a.engine, a.n)
    shares = by_module(a.engine, a.n)
    total = sum(shares.values())
    print(f"{contenders.LABELS[a.engine]}: {us:.1f} CPU µs per decision (unprofiled, "
          f"{a.n} reference clients); own time by module under cProfile:")
    print(f"{'module':44s} {'share':>7s} {'≈ µs':>8s}")
    for module, t in shares.most_common(a.top):
        print(f"{module:44s} {t / total:7.1%} {us * t / total:8.1f}")


if __name__ == "__main__":
    main()
