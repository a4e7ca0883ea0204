"""The durable engine under load: threads, and memory over many evaluations (slow)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
import threading

import pytest
from durable_support import ROOT, constants, expected, random_context, shipped

from engine.durable import DurableEngine

THREADS = 4
EVALUATIONS = 50_000  # per thread


@pytest.mark.slow
def test_threads_get_their_own_correct_results():
    engine = DurableEngine()
    lps = [lp for lp in shipped() if lp.kind != "swot"]
    prepared = [engine.prepare(lp) for lp in lps]
    consts = constants(lps)
    # each thread cycles through its own pool of contexts and expected answers, so a
    # result from another thread's evaluation (or a stale one) shows up as a mismatch
    pools = []
    for t in range(THREADS):
        rng = random.Random(1000 + t)
        pool = []
        for _ in range(400):
            ctx = random_context(rng, consts)
            i = rng.randrange(len(lps))
            pool.append((i, ctx, expected(lps[i], ctx)))
        pools.append(pool)
    failures: list[str] = []
    counts = [0] * THREADS
    barrier = threading.Barrier(THREADS)

    def work(t: int) -> None:
        pool = pools[t]
        try:
            barrier.wait()
            for n in range(EVALUATIONS):
                i, ctx, want = pool[n % len(pool)]
                got = engine.match(prepared[i], ctx)
                if got != want:
                    failures.append(f"thread {t} #{n} {lps[i].key}: {got} != {want}")
                    return
                counts[t] += 1
        except Exception as exc:  # reported below, with the thread it happened in
            failures.append(f"thread {t}: {exc!r}")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads as often as possible: maximum interleaving
    try:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(interval)
    assert not failures, failures[:5]
    assert counts == [EVALUATIONS] * THREADS


RSS_SCRIPT = textwrap.dedent(
    """
    import json, random, sys
    sys.path.insert(0, sys.argv[1])
    from durable_support import constants, random_context, shipped
    from engine.durable import DurableEngine

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    engine = DurableEngine()
    lps = [lp for lp in shipped() if lp.kind != "swot"]
    prepared = [engine.prepare(lp) for lp in lps]
    rng = random.Random(5)
    contexts = [random_context(rng, constants(lps)) for _ in range(1000)]

    def run(n: int) -> None:
        for i in range(n):
            engine.match(prepared[i % len(prepared)], contexts[i % len(contexts)])

    run(20_000)  # warm-up: allocator pools, caches
    before = rss()
    run(int(sys.argv[2]))
    print(json.dumps({"before": before, "after": rss()}))
    """
)


@pytest.mark.slow
def test_memory_stays_flat_over_many_evaluations():
    result = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(ROOT / "tests"), "200000"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr
    rss = json.loads(result.stdout)
    growth = rss["after"] - rss["before"]
    assert growth < 20 * 2**20, f"RSS grew by {growth / 2**20:.1f} MB over 200,000 evaluations"
