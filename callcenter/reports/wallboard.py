"""The live wallboard: the daemon's `wallboard` snapshot drawn for a terminal (`top`). Who
counts as each queue's staff, and how many are in each state, is the daemon's
(`callcenter.acd.live.staffing`)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from callcenter.reports.labels import label, state_label, title

__all__ = ["WIDE", "render_wallboard"]

SL_TARGET = 0.8  # the usual 80/20 goal: below it the service level shows red
WIDE = 120  # from this many columns the queue figures are one table, else two


def _pct(value: float | None) -> Text:
    if value is None:
        return Text("–")
    return Text(f"{value * 100:.1f}%", style="red" if value < SL_TARGET else "green")


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


_STATE_STYLE = {"ready": "green", "ringing": "yellow", "on_call": "cyan", "wrap_up": "blue",
                "paused": "magenta", "logged_out": "dim"}

# pauses the daemon made because of the phone, not the agent's choice
_SYSTEM_REASONS = {"unreachable", "busy"}

_NOW = ("waiting", "longest", "ready", "busy", "paused", "logged_in")
_TODAY = ("offered", "answered", "abandoned", "answer_rate", "service_level_now")


def _table(heading: str, columns: Iterable[str], lang: str, text: int = 1) -> Table:
    # no vertical rules and one space between columns: 12 figures fit 120 columns, and
    # half of them 80; headers are never cut (no_wrap), East-Asian labels count 2 cells
    table = Table(title=title(heading, lang), title_justify="left", box=box.SIMPLE_HEAD,
                  padding=(0, 1), pad_edge=False, expand=False)
    for i, col in enumerate(columns):
        table.add_column(label(col, lang), justify="left" if i < text else "right",
                         no_wrap=True)
    return table


def _cells(q: dict[str, Any]) -> dict[str, Text | str]:
    longest = float(q.get("longest_wait_s") or 0)
    sl = int(q.get("sl_seconds") or 20)
    cells: dict[str, Text | str] = {
        k: str(q.get(k, 0)) for k in ("waiting", "ready", "busy", "paused", "logged_in",
                                      "offered", "answered", "abandoned")}
    cells["longest"] = Text(_duration(longest), style="yellow" if longest > sl else "")
    cells["answer_rate"] = _pct(q.get("answer_rate"))
    cells["service_level_now"] = _pct(q.get("service_level"))
    return cells


class _Queues:
    """The queue figures, one table on a wide terminal, two (now, today) on a narrow one.
    Rows are the queues' ids: short and distinct, where names like '北京校区课程服务 …' and
    '成都校区课程服务 …' would be cut to the same first characters."""

    def __init__(self, board: dict[str, Any], lang: str):
        self.board, self.lang = board, lang

    def tables(self, width: int) -> Iterator[Table]:
        day = self.board.get("day", "")
        # (heading, columns, whether the title names the day)
        parts = ([("Queues", (*_NOW, *_TODAY), True)] if width >= WIDE
                 else [("Queues now", _NOW, False), ("Today", _TODAY, True)])
        for heading, cols, dated in parts:
            table = _table(heading, ("queue", *cols), self.lang)
            if dated:
                table.title = f"{table.title} — {day}"
            for name, q in self.board.get("queues", {}).items():
                cells = _cells(q)
                table.add_row(name, *(cells[c] for c in cols))
            yield table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.tables(options.max_width)


def render_wallboard(board: dict[str, Any], now: float | None = None,
                     lang: str = "en") -> Group:
    """The frame `top` prints: alarms, the queues (fitted to the terminal's width), the
    agents; labels in `lang` (the site's `company.language`)."""
    now = time.time() if now is None else now
    agents = _table("Agents", ("agent", "name", "site", "state", "reason", "in_state",
                               "phone"), lang, text=5)
    for a in sorted(board.get("agents", []), key=lambda a: (a["state"] == "logged_out",
                                                            a["id"])):
        agents.add_row(a["id"], a.get("name", ""), a.get("site", ""),
                       Text(state_label(a["state"], lang),
                            style=_STATE_STYLE.get(a["state"], "")),
                       Text(a.get("reason") or "", style="bold red" if a.get("reason") in
                            _SYSTEM_REASONS else ""),
                       _duration(now - float(a.get("since") or now)), a.get("device") or "")
    alarms = [Text(f"ALARM: {text}", style="bold red") for text in board.get("alarms", [])]
    return Group(*alarms, _Queues(board, lang), agents)
