"""Business hours: parsing "08:00-12:00,13:00-21:00" and asking whether a moment is open."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from callcenter.site.model import WEEKDAYS, Hours

__all__ = ["is_open", "parse_ranges"]

_RANGE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)\Z")


def parse_ranges(text: str) -> list[tuple[int, int]]:
    """Minutes-from-midnight ranges of one day; ValueError with a fix if malformed."""
    text = text.strip()
    if text.lower() == "closed":
        return []
    out: list[tuple[int, int]] = []
    for part in text.split(","):
        m = _RANGE.match(part.strip())
        if not m:
            raise ValueError(f"{part.strip()!r} is not a time range — write HH:MM-HH:MM, "
                             "several separated by commas, or 'closed'")
        a = int(m[1]) * 60 + int(m[2])
        b = int(m[3]) * 60 + int(m[4])
        if b <= a or b > 24 * 60:
            raise ValueError(f"{part.strip()!r} ends before it starts — write the earlier time "
                             "first (a night shift is two ranges on two days)")
        out.append((a, b))
    return sorted(out)


def is_open(hours: Hours, when: dt.datetime, default_tz: str) -> bool:
    """Whether `when` falls in opening hours (holidays close, make-up workdays open)."""
    tz = ZoneInfo(hours.timezone or default_tz)
    local = when.astimezone(tz) if when.tzinfo else when.replace(tzinfo=tz)
    day = local.date()
    if day in hours.holidays:
        return False
    weekday = WEEKDAYS[local.weekday()]
    if day in hours.workdays and weekday in ("sat", "sun"):
        weekday = "fri"  # 调休: a make-up working day keeps ordinary weekday hours
    ranges = parse_ranges(hours.weekly.get(weekday, "closed"))
    minute = local.hour * 60 + local.minute
    return any(a <= minute < b for a, b in ranges)
