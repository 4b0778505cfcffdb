"""Reports as a terminal table (with bars), CSV, JSON, or one self-contained HTML page.
Tables and the page show labels in the site's language (labels.py); CSV and JSON keep the
column keys, which other tools read."""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from callcenter.reports.labels import label
from callcenter.reports.labels import title as title_in
from callcenter.reports.model import Report

__all__ = ["render_csv", "render_html", "render_json", "render_table"]

_RATES = {"answer_rate", "service_level", "service_level_offered", "call_answer_rate",
          "occupancy", "share", "failure_rate", "satisfied", "confirm_rate", "within_target"}
# a report of one row and more columns than this reads better as a list of figures
_AS_LIST = 8


def _shown(column: str, value: Any) -> str:
    if value is None:
        return "–"
    if column in _RATES:
        return f"{value * 100:.1f}%"
    return str(value)


def render_table(report: Report, width: int | None = None, lang: str = "en") -> str:
    """The report as text for a terminal: a table, a bar chart where it has one, notes."""
    from rich.console import Console
    from rich.table import Table

    console = Console(record=True, width=width or 160, file=io.StringIO(),
                      force_terminal=False)
    table = Table(title=title_in(report.title, lang), title_justify="left")
    if len(report.rows) == 1 and len(report.columns) > _AS_LIST:
        table.add_column(label("figure", lang))
        table.add_column(label("value", lang), justify="right")
        for c, v in zip(report.columns, report.rows[0], strict=True):
            table.add_row(label(c, lang), _shown(c, v))
        report = Report(report.name, report.title, report.columns, [], report.notes,
                        report.chart)
    for col in report.columns if report.rows else ():
        table.add_column(label(col, lang), justify="left" if col == report.columns[0]
                         else "right")
    for row in report.rows:
        table.add_row(*(_shown(c, v) for c, v in zip(report.columns, row, strict=True)))
    console.print(table)
    if report.chart:
        lab, value = report.chart
        li, vi = report.columns.index(lab), report.columns.index(value)
        peak = max((r[vi] or 0 for r in report.rows), default=0)
        console.print(f"{label(value, lang)} / {label(lab, lang)}")
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


_CHART_H = 120


def _svg_bars(report: Report, lab: str, value: str, lang: str) -> str:
    """One bar chart; rates are drawn on a 0–100 % scale, counts against their peak."""
    li, vi = report.columns.index(lab), report.columns.index(value)
    rows = report.rows
    is_rate = value in _RATES
    peak = 1.0 if is_rate else max((r[vi] or 0 for r in rows), default=0) or 1
    bar_w, gap = (14, 3) if len(rows) > 12 else (28, 6)
    name = f"{label(value, lang)} / {label(lab, lang)}"
    parts = [f'<figure><figcaption>{html.escape(name)}</figcaption>'
             f'<svg width="{len(rows) * (bar_w + gap) + gap}" height="{_CHART_H + 34}" '
             f'role="img" aria-label="{html.escape(name)}">']
    for i, r in enumerate(rows):
        n = r[vi]
        h = round((n or 0) / peak * _CHART_H)
        x = gap + i * (bar_w + gap)
        tip = f"{r[li]}: {_shown(value, n)}"
        parts.append(f'<rect x="{x}" y="{_CHART_H - h + 4}" width="{bar_w}" height="{h}" '
                     f'fill="{"#2f9e6e" if is_rate else "#3b7dd8"}">'
                     f"<title>{html.escape(tip)}</title></rect>")
        if i % (2 if len(rows) > 12 else 1) == 0:  # every other hour's name: they fit
            parts.append(f'<text x="{x + bar_w / 2}" y="{_CHART_H + 20}" font-size="9" '
                         f'text-anchor="middle">{html.escape(str(r[li])[:2])}</text>')
    parts.append("</svg></figure>")
    return "".join(parts)


_STYLE = """body{font-family:sans-serif;margin:1em auto;max-width:1260px;color:#222;
font-size:13px}.wide{overflow-x:auto;max-width:100%}table{border-collapse:collapse;
margin:.5em 0}th,td{border:1px solid #ccc;padding:.2em .4em;text-align:right}
th{background:#f0f3f8;font-weight:normal;max-width:7em;white-space:normal;
vertical-align:bottom}td{white-space:nowrap}th:first-child,td:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:12px;
color:#444}.notes{color:#666;font-size:.9em}"""


def _table_html(rep: Report, lang: str) -> str:
    if len(rep.rows) == 1 and len(rep.columns) > _AS_LIST:  # one row: a list of figures
        cells = zip(rep.columns, rep.rows[0], strict=True)
        return ("<table><tr>" + f"<th>{html.escape(label('figure', lang))}</th>"
                f"<th>{html.escape(label('value', lang))}</th></tr>"
                + "".join(f"<tr><td>{html.escape(label(c, lang))}</td>"
                          f"<td>{html.escape(_shown(c, v))}</td></tr>" for c, v in cells)
                + "</table>")
    out = ['<div class="wide"><table><tr>' + "".join(
        f"<th>{html.escape(label(c, lang))}</th>" for c in rep.columns) + "</tr>"]
    for row in rep.rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(_shown(c, v))}</td>"
                                    for c, v in zip(rep.columns, row, strict=True))
                   + "</tr>")
    return "".join(out) + "</table></div>"


def render_html(reports: list[Report], title: str = "callcenter report",
                lang: str = "en") -> str:
    """One page, no external resources: inline CSS and SVG, every value escaped; tables
    fit a 1280 px screen (headers wrap, a one-row report is a list), the charts of a report
    side by side."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for rep in reports:
        body.append(f"<h2>{html.escape(title_in(rep.title, lang))}</h2>")
        charts = rep.charts or ([rep.chart] if rep.chart else [])
        if charts:
            body.append('<div class="charts">' + "".join(
                _svg_bars(rep, lab, v, lang) for lab, v in charts) + "</div>")
        body.append(_table_html(rep, lang))
        body.append('<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>"
                                                  for n in rep.notes) + "</ul>")
    return (f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
            f'<meta charset="utf-8"><meta name="viewport" content="width=device-width">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
