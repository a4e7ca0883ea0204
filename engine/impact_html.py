"""The impact report as one self-contained HTML page.

Inline CSS and an inline SVG chart; no script, no network, no external asset, so the file
can be mailed to a credit committee or archived with the change. Every value that comes
from the portfolio or the policies is escaped (a client called ``<Energy & Water>`` must
show as such, never as markup).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

__all__ = ["render"]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;
max-width:72rem;color:#1d2433;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #d6dbe4;padding-bottom:.2rem}
.meta{color:#5a6478}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #d6dbe4;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #d6dbe4;
padding:.25rem .6rem;text-align:right}th{background:#f3f5f9}td.l,th.l{text-align:left}
td.same{background:#f3f5f9;color:#5a6478}td.moved{background:#fff1d6;font-weight:600}
.add{color:#a3261b}.rem{color:#1d7a3a}pre{background:#f7f8fb;border:1px solid #d6dbe4;
padding:.6rem;overflow:auto;font-size:12px;max-height:28rem}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
svg text{font:12px system-ui,sans-serif;fill:#1d2433}
"""


def _num(n: int) -> str:
    return f"{n:,}"


def _matrix(title: str, matrix: dict[str, dict[str, int]]) -> str:
    labels = list(matrix)
    if not labels:
        return f"<h2>{escape(title)}</h2><p>No client was decided under both versions.</p>"
    head = "".join(f"<th>{escape(t)}</th>" for t in labels)
    rows = []
    for f in labels:
        cells = []
        for t in labels:
            n = matrix[f][t]
            cls = "same" if f == t else ("moved" if n else "")
            cells.append(f'<td class="{cls}">{_num(n)}</td>')
        rows.append(f'<tr><th class="l">{escape(f)}</th>{"".join(cells)}</tr>')
    return (f"<h2>{escape(title)}</h2><table><tr><th class='l'>from ↓ / to →</th>{head}</tr>"
            f"{''.join(rows)}</table>")


def _bars(rep: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(label, count, colour) of every change, for the chart."""
    bars = []
    for name, matrix, colour in (("segment", rep["segments"], "#d08a18"),
                                 ("grade", rep["risk_grades"], "#8a5cc2")):
        for f, row in matrix.items():
            bars += [(f"{name} {f} → {t}", n, colour) for t, n in row.items() if t != f and n]
    bars += [(f"plan {k}", n, "#2f7fbf") for k, n in rep["service_plans"]["fields"].items()]
    bars += [(f"proposal {k}", n, "#2f9f8f") for k, n in rep["proposals"]["fields"].items()]
    bars += [(f"+ warning {k}", n, "#c2412f") for k, n in rep["warnings"]["added"].items()]
    bars += [(f"− warning {k}", n, "#4f9f4f") for k, n in rep["warnings"]["removed"].items()]
    return bars


def _chart(rep: dict[str, Any]) -> str:
    bars = _bars(rep)
    if not bars:
        return "<p>Nothing changes for this portfolio.</p>"
    top = max(n for _, n, _ in bars)
    label_w, bar_w, row_h = 300, 420, 22
    height = row_h * len(bars) + 10
    parts = [f'<svg role="img" aria-label="Changes by kind" width="{label_w + bar_w + 90}" '
             f'height="{height}" viewBox="0 0 {label_w + bar_w + 90} {height}">']
    for i, (label, n, colour) in enumerate(bars):
        y = 5 + i * row_h
        w = max(1, round(bar_w * n / top))
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">'
                     f"{escape(label)}</text>")
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row_h - 6}" '
                     f'fill="{colour}"><title>{escape(label)}: {_num(n)}</title></rect>')
        parts.append(f'<text x="{label_w + w + 6}" y="{y + 15}">{_num(n)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _counts(title: str, counts: dict[str, int], cls: str = "") -> str:
    if not counts:
        return f"<p>{escape(title)}: none.</p>"
    rows = "".join(f'<tr><td class="l {cls}">{escape(k)}</td><td>{_num(n)}</td></tr>'
                   for k, n in counts.items())
    return f"<table><tr><th class='l'>{escape(title)}</th><th>clients</th></tr>{rows}</table>"


def _clients(rep: dict[str, Any]) -> str:
    if not rep["listed"]:
        return "<p>No client is affected.</p>"
    rows = []
    for i, c in enumerate(rep["listed"]):
        changes = "<br>".join(escape(x) for x in c["changes"])
        rows.append(
            f'<tr><td>{c["line"]}</td><td class="l">{escape(c["client_id"])}</td>'
            f'<td class="l">{escape(c["name"])}</td><td class="l">{changes}</td>'
            f'<td class="l"><a href="#c{i}-before">before</a> · '
            f'<a href="#c{i}-after">after</a></td></tr>')
    more = (f"<p>… and {_num(rep['more_affected'])} more affected clients not listed.</p>"
            if rep["more_affected"] else "")
    return ("<table><tr><th>line</th><th class='l'>client</th><th class='l'>name</th>"
            "<th class='l'>what changes</th><th class='l'>decisions</th></tr>"
            f"{''.join(rows)}</table>{more}")


def _decisions(rep: dict[str, Any]) -> str:
    parts = []
    for i, c in enumerate(rep["listed"]):
        before = escape(json.dumps(c["before"], indent=2, ensure_ascii=False))
        after = escape(json.dumps(c["after"], indent=2, ensure_ascii=False))
        parts.append(
            f'<section id="c{i}"><h3>{escape(c["client_id"])} — {escape(c["name"])}</h3>'
            f'<div class="pair"><div id="c{i}-before"><b>before ({escape(rep["from"])})</b>'
            f'<pre>{before}</pre></div><div id="c{i}-after"><b>after ({escape(rep["to"])})</b>'
            f"<pre>{after}</pre></div></div></section>")
    return "".join(parts)


def render(rep: dict[str, Any]) -> str:
    """The whole page for an ``engine.impact.report`` dictionary."""
    title = f"Impact of {rep['policy']} {rep['from']} → {rep['to']}"
    refused = rep["refused"]
    moves = sum(n for f, row in rep["segments"].items() for t, n in row.items() if f != t)
    cards = [("clients", _num(rep["clients"])), ("affected", _num(rep["affected"])),
             ("segment moves", _num(moves)),
             ("proposals changed", _num(rep["proposals"]["changed"])),
             ("refused: both / old / new",
              f"{_num(refused['both'])} / {_num(refused['old'])} / {_num(refused['new'])}")]
    card_html = "".join(f"<div class='card'>{escape(k)}<b>{v}</b></div>" for k, v in cards)
    errors = "".join(f"<li>line {e['line']}: {escape(e['message'])}</li>" for e in rep["errors"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{CSS}</style></head><body>
<h1>{escape(title)}</h1>
<p class="meta">Portfolio {escape(rep['portfolio'])} · policies as in force on
{escape(rep['as_of'])}, with {escape(rep['policy'])} pinned to each version ·
compiled engine</p>
<div class="cards">{card_html}</div>
<h2>Changes</h2>{_chart(rep)}
{_matrix("Segment migration", rep["segments"])}
{_matrix("Risk grade migration", rep["risk_grades"])}
<h2>Service plans and proposals</h2>
<p>Service plans changed for {_num(rep['service_plans']['changed'])} clients,
proposals for {_num(rep['proposals']['changed'])}.</p>
{_counts("service plan field", rep["service_plans"]["fields"])}
{_counts("proposal field", rep["proposals"]["fields"])}
<h2>Warnings</h2>
{_counts("warnings added", rep["warnings"]["added"], "add")}
{_counts("warnings removed", rep["warnings"]["removed"], "rem")}
<h2>Clients affected</h2>{_clients(rep)}
{f"<h2>Lines not decided (first 50)</h2><ul>{errors}</ul>" if errors else ""}
<h2>Before and after</h2>{_decisions(rep)}
</body></html>
"""
