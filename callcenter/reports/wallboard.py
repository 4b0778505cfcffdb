"""The live wallboard: the daemon's `wallboard` snapshot drawn for a terminal (`top`)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

__all__ = ["render_wallboard"]

SL_TARGET = 0.8  # the usual 80/20 goal: below it the service level shows red


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


def render_wallboard(board: dict[str, Any], now: float | None = None) -> Group:
    now = time.time() if now is None else now
    queues = Table(title=f"Queues — {board.get('day', '')}", title_justify="left",
                   expand=True)
    for col in ("queue", "waiting", "longest", "ready", "busy", "paused", "logged in",
                "offered", "answered", "abandoned", "answer rate", "service level"):
        queues.add_column(col, justify="left" if col == "queue" else "right")
    for name, q in board.get("queues", {}).items():
        longest = float(q.get("longest_wait_s") or 0)
        sl = int(q.get("sl_seconds") or 20)
        queues.add_row(
            str(q.get("name") or name), str(q.get("waiting", 0)),
            Text(_duration(longest), style="yellow" if longest > sl else ""),
            str(q.get("ready", 0)), str(q.get("busy", 0)), str(q.get("paused", 0)),
            str(q.get("logged_in", 0)), str(q.get("offered", 0)), str(q.get("answered", 0)),
            str(q.get("abandoned", 0)), _pct(q.get("answer_rate")),
            _pct(q.get("service_level")))
    agents = Table(title="Agents", title_justify="left", expand=True)
    for col in ("agent", "name", "site", "state", "reason", "in state", "phone"):
        agents.add_column(col)
    for a in sorted(board.get("agents", []), key=lambda a: (a["state"] == "logged_out",
                                                            a["id"])):
        agents.add_row(a["id"], a.get("name", ""), a.get("site", ""),
                       Text(a["state"], style=_STATE_STYLE.get(a["state"], "")),
                       Text(a.get("reason") or "", style="bold red" if a.get("reason") in
                            _SYSTEM_REASONS else ""), _duration(now - float(a.get("since") or now)),
                       a.get("device") or "")
    alarms = [Text(f"ALARM: {text}", style="bold red") for text in board.get("alarms", [])]
    return Group(*alarms, queues, agents)
