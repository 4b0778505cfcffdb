"""The one source of "now" for code that reads dates: the system clock in production, a
fixed or shifted clock in tests and in `--at` runs, so nothing depends on the day it runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

__all__ = ["SYSTEM", "Clock", "FixedClock", "ShiftedClock", "SystemClock"]


class Clock(Protocol):
    def now(self, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
        """The current time, aware, in `tz`."""
        ...


class SystemClock:
    def now(self, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
        return dt.datetime.now(tz)


@dataclass(frozen=True)
class FixedClock:
    """Always the same instant (a naive `at` is taken as UTC)."""

    at: dt.datetime

    def now(self, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
        at = self.at if self.at.tzinfo else self.at.replace(tzinfo=dt.UTC)
        return at.astimezone(tz)


@dataclass(frozen=True)
class ShiftedClock:
    """The system clock moved by `offset` (the daemon's `--at`: time still passes)."""

    offset: dt.timedelta

    def now(self, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
        return dt.datetime.now(tz) + self.offset


SYSTEM: Clock = SystemClock()
