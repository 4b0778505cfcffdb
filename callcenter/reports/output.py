"""Reports as a terminal table (with bars), CSV, JSON, or one self-contained HTML page."""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from callcenter.reports.model import Report

__all__ = ["render_csv", "render_html", "render_json", "render_table"]

_RATES = {"answer_rate", "service_level", "occupancy", "share", "failure_rate", "satisfied"}


def _shown(column: str, value: Any) -> str:
    if value is None:
        return "–"
    if column in _RATES:
        return f"{value * 100:.1f}%"
    return str(value)


def render_table(report: Report, width: int | None = None) -> str:
    """The report as text for a terminal: a table, a bar chart where it has one, notes."""
    from rich.console import Console
    from rich.table import Table

    console = Console(record=True, width=width or 160, file=io.StringIO(),
                      force_terminal=False)
    table = Table(title=report.title, title_justify="left")
    if len(report.rows) == 1 and len(report.columns) > 8:
        # one row of many figures (the summary) reads better as a list
        table.add_column("figure")
        table.add_column("value", justify="right")
        for c, v in zip(report.columns, report.rows[0], strict=True):
            table.add_row(c.replace("_", " "), _shown(c, v))
        report = Report(report.name, report.title, report.columns, [], report.notes,
                        report.chart)
    for col in report.columns if report.rows else ():
        table.add_column(col.replace("_", " "), justify="left" if col == report.columns[0]
                         else "right")
    for row in report.rows:
        table.add_row(*(_shown(c, v) for c, v in zip(report.columns, row, strict=True)))
    console.print(table)
    if report.chart:
        label, value = report.chart
        li, vi = report.columns.index(label), report.columns.index(value)
        peak = max((r[vi] or 0 for r in report.rows), default=0)
        console.print(f"{value} by {label}")
        for r in report.rows:
            n = r[vi] or 0
            bar = "█" * (round(n / peak * 50) if peak else 0)
            console.print(f"  {r[li]!s:>5} {bar} {n}")
    for note in report.notes:
        console.print(f"· {note}", style="dim")
    return console.export_text()


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def render_json(reports: list[Report]) -> str:
    return json.dumps([{"report": r.name, "title": r.title, "rows": r.records(),
                        "notes": r.notes} for r in reports], ensure_ascii=False, indent=1,
                      default=str)


def _svg_bars(report: Report) -> str:
    assert report.chart is not None
    label, value = report.chart
    li, vi = report.columns.index(label), report.columns.index(value)
    rows = report.rows
    peak = max((r[vi] or 0 for r in rows), default=0) or 1
    bar_w, gap, height = 28, 6, 160
    parts = [f'<svg width="{len(rows) * (bar_w + gap) + gap}" height="{height + 40}" '
             f'role="img" aria-label="{html.escape(value)} by {html.escape(label)}">']
    for i, r in enumerate(rows):
        n = r[vi] or 0
        h = round(n / peak * height)
        x = gap + i * (bar_w + gap)
        parts.append(f'<rect x="{x}" y="{height - h + 14}" width="{bar_w}" height="{h}" '
                     f'fill="#3b7dd8"><title>{html.escape(str(r[li]))}: {n}</title></rect>')
        parts.append(f'<text x="{x + bar_w / 2}" y="{height - h + 10}" font-size="10" '
                     f'text-anchor="middle">{n}</text>')
        parts.append(f'<text x="{x + bar_w / 2}" y="{height + 30}" font-size="10" '
                     f'text-anchor="middle">{html.escape(str(r[li]))}</text>')
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;
margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f0f3f8}.notes{color:#666;
font-size:.9em}"""


def render_html(reports: list[Report], title: str = "callcenter report") -> str:
    """One page, no external resources: inline CSS and SVG, every value escaped."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for rep in reports:
        body.append(f"<h2>{html.escape(rep.title)}</h2>")
        if rep.chart:
            body.append(_svg_bars(rep))
        body.append("<table><tr>" + "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>"
                                             for c in rep.columns) + "</tr>")
        for row in rep.rows:
            body.append("<tr>" + "".join(f"<td>{html.escape(_shown(c, v))}</td>"
                                         for c, v in zip(rep.columns, row, strict=True))
                        + "</tr>")
        body.append("</table>")
        body.append('<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>"
                                                  for n in rep.notes) + "</ul>")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
