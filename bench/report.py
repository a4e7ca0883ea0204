"""Markdown tables of the engine benchmark's results (printed, and pasted in bench/README.md)."""

from __future__ import annotations

from typing import Any

from bench.contenders import LABELS


def _met(flag: bool | None) -> str:
    return "n/a" if flag is None else ("met" if flag else "NOT met")


def engines_markdown(results: dict[str, Any]) -> str:
    n = results["clients"]
    lines = [
        f"Mismatches vs plain Python ({n:,} clients; flat fields, warnings in canonical order):",
        "",
        "| engine | mismatches | order-only | by field |",
        "|---|---:|---:|---|",
    ]
    for engine, v in results["verify"].items():
        by_field = ", ".join(f"{k} {c}" for k, c in v["by_field"].items()) or "-"
        lines.append(f"| {LABELS[engine]} | {v['mismatches']} / {n} | {v['order_only']} | "
                     f"{by_field} |")
    lines += [
        "",
        f"Single-thread decisions/s, median of {results['rounds']} rounds "
        "(fresh process per round and engine, round-robin):",
        "",
        "| engine | decisions/s | vs plain | per CPU-s | mean µs | p50 µs | p99 µs | cpu/wall "
        "| peak RSS MB | rounds (dec/s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results["table"]:
        vs = "-" if r["vs_plain"] is None else f"{r['vs_plain']:.4f}"
        rounds = " / ".join(f"{x:,}" for x in r["dps_rounds"])
        lines.append(f"| {r['label']} | {r['dps']:,.0f} | {vs} | {r['dps_cpu']:,.0f} | "
                     f"{r['mean_us']:.2f} | "
                     f"{r['p50_us']:.2f} | {r['p99_us']:.2f} | {r['cpu_wall']:.2f} | "
                     f"{r['maxrss_mb']:.1f} | {rounds} |")
    for engine, error in results.get("failed", {}).items():
        first = error.strip().splitlines()[-1] if error.strip() else "failed"
        lines.append(f"| {LABELS[engine]} | failed: {first} | | | | | | | | |")

    lines += ["", "| target | ratio | decisions/s (judged) | per CPU-s | 1/p50 | |",
              "|---|---|---:|---:|---:|---|"]

    def x(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}×"

    for t in results["ratios"]:
        lines.append(f"| {t['target']} | {t['ratio']} | {x(t['value'])} | "
                     f"{x(t['value_cpu'])} | {x(t['value_p50'])} | {_met(t['met'])} |")

    rss = results["rss"]
    if rss:
        lines += [
            "",
            f"RSS over {results['rss_decisions']:,} decisions after a warm-up pass "
            "(target: growth < 10 MB):",
            "",
            "| engine | RSS after warm-up MB | RSS at end MB | growth MB | sustained dec/s "
            "| run s | |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for engine, v in rss.items():
            if "rss_end_mb" not in v:  # the worker itself failed
                lines.append(f"| {LABELS[engine]} | failed | | | | | |")
                continue
            verdict = f"failed: {v['error']}" if v.get("error") else _met(v["met"])
            lines.append(f"| {LABELS[engine]} | {v['rss_after_warmup_mb']:.1f} | "
                         f"{v['rss_end_mb']:.1f} | {v['growth_mb']:+.1f} | {v['dps']:,.0f} | "
                         f"{v['wall_s']:.0f} | {verdict} |")

    load = results["load"]
    if "error" in load:
        lines += ["", "Load and compile the default policies: failed."]
    else:
        lines += [
            "",
            f"Load and compile the default policies ({load['versions']} versions), fresh "
            f"process, median of {len(load['rounds'])} (target < 1 s for Registry.load + "
            "both Deciders):",
            "",
            "| import engine.* | Registry.load | Decider durable | Decider compiled "
            "| total | |",
            "|---:|---:|---:|---:|---:|---|",
            f"| {load['import_s'] * 1e3:.0f} ms | {load['registry_load_s'] * 1e3:.0f} ms | "
            f"{load['decider_durable_s'] * 1e3:.0f} ms | "
            f"{load['decider_compiled_s'] * 1e3:.0f} ms | {load['total_s'] * 1e3:.0f} ms | "
            f"{_met(load['met'])} |",
        ]
    return "\n".join(lines)


def print_engines(results: dict[str, Any]) -> None:
    print()
    print(engines_markdown(results))
    print(f"\nload avg before {results['load_avg_before']:.2f}, after "
          f"{results['load_avg_after']:.2f} (2 shared cores: other work adds noise)",
          flush=True)
