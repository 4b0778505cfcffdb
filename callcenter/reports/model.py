"""What a report is asked for (Filters) and what it gives back (Report)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from callcenter.clock import SYSTEM
from callcenter.errors import CallcenterError

__all__ = ["REPORTS", "Filters", "Report", "ReportError"]

REPORTS = ("summary", "hourly", "daily", "queues", "sites", "agents", "trunks", "ivr",
           "surveys", "outbound", "outbound-hourly", "outbound-callerid", "outbound-trunks",
           "outbound-lateness")


class ReportError(CallcenterError):
    """A report cannot be made as asked (bad window, unknown name)."""


@dataclass
class Filters:
    """The selection: queue entries that entered the queue in [start, end)."""

    start: dt.datetime
    end: dt.datetime
    site: str | None = None
    queue: str | None = None
    agent: str | None = None
    timezone: str = "Asia/Shanghai"
    short_abandon_seconds: int = 5
    count_short_abandons: bool = False
    # "offered": answered within T ÷ (answered + abandoned after T); "answered": ÷ answered
    sl_formula: Literal["offered", "answered"] = "offered"
    sl_seconds: dict[str, int] = field(default_factory=dict)  # per queue, from the site
    default_sl_seconds: int = 20
    # "now" for a state still open (an agent paused now counts up to now); default the clock
    now: dt.datetime | None = None
    # outbound lateness target per campaign, seconds (from the site file's campaigns)
    lateness_targets: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            if getattr(self, name).tzinfo is None:
                raise ReportError(f"the report's {name} time needs a time zone")
        if self.end <= self.start:
            raise ReportError(f"the report window is empty: --to ({self.end:%Y-%m-%d %H:%M}) "
                              f"must be after --from ({self.start:%Y-%m-%d %H:%M})")
        if self.sl_formula not in ("offered", "answered"):
            raise ReportError("the service-level formula is 'offered' or 'answered'")

    def described(self) -> str:
        """The selection as the reports' first column shows it: "all", or the filters."""
        given = [f"{k} {v}" for k, v in (("site", self.site), ("queue", self.queue),
                                         ("agent", self.agent)) if v]
        return ", ".join(given) or "all"

    def params(self) -> dict[str, Any]:
        import json

        return {"start": self.start, "end": self.end, "site": self.site, "queue": self.queue,
                "agent": self.agent, "tz": self.timezone,
                "short_ms": self.short_abandon_seconds * 1000,
                "count_short": self.count_short_abandons,
                "sl": json.dumps(self.sl_seconds), "sl_default": self.default_sl_seconds,
                "now": self.now or SYSTEM.now()}


@dataclass
class Report:
    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    chart: tuple[str, str] | None = None  # (label column, value column) for a bar chart
    # (label column, value column) of each chart of the HTML page, side by side
    charts: list[tuple[str, str]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]
