"""Today's per-queue figures, as the wallboard and metrics show them."""

from __future__ import annotations

import pytest

from callcenter.daemon.today import TodayStats
from callcenter.store.events import new_event

pytestmark = pytest.mark.clock  # dates and hours: also run under a fake date


def feed(stats: TodayStats, kind: str, entry: str, **data: object) -> None:
    stats.on_event(new_event(kind, call_id=entry, queue="tech", entry=entry, **data))


def test_rates_follow_the_report_conventions() -> None:
    s = TodayStats({"tech": 20}, "Asia/Shanghai", short_abandon_seconds=5)
    for e in "abcdef":
        feed(s, "queue.enter", e, reason="flow")
    feed(s, "queue.enter", "a", reason="requeue")  # the same entry after a restart
    feed(s, "queue.answer", "a", wait_ms=10_000)  # within 20 s
    feed(s, "queue.answer", "b", wait_ms=25_000)  # late
    feed(s, "queue.abandon", "c", wait_ms=3_000)  # short: not counted against the queue
    feed(s, "queue.abandon", "d", wait_ms=30_000)  # after the threshold
    feed(s, "queue.callback_request", "e", wait_ms=40_000)
    feed(s, "queue.answer", "e", wait_ms=90_000)  # the agent taking the callback
    feed(s, "queue.overflow", "f", wait_ms=300_000, target="voicemail:general")
    q = s.snapshot()["tech"]
    assert (q["offered"], q["answered"], q["abandoned"], q["short_abandoned"]) == (6, 2, 1, 1)
    assert q["callbacks"] == 1 and q["overflowed"] == 1
    assert q["answer_rate"] == round(2 / 5, 4)
    assert q["service_level"] == round(1 / 3, 4)


def test_nothing_offered_gives_no_rate_and_other_queues_are_ignored() -> None:
    s = TodayStats({"tech": 20}, "Asia/Shanghai", short_abandon_seconds=5)
    s.on_event(new_event("queue.enter", queue="sales", entry="x", reason="flow"))
    assert s.snapshot()["tech"]["answer_rate"] is None
    assert "sales" not in s.snapshot()


def test_a_new_day_starts_from_zero_on_the_injected_clock() -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    class Clock:
        at = dt.datetime(2026, 11, 24, 23, 59, tzinfo=ZoneInfo("Asia/Shanghai"))

        def now(self, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
            return self.at.astimezone(tz)

    clock = Clock()
    s = TodayStats({"tech": 20}, "Asia/Shanghai", short_abandon_seconds=5, clock=clock)
    feed(s, "queue.enter", "a", reason="flow")
    assert s.snapshot()["tech"]["offered"] == 1 and s.day == dt.date(2026, 11, 24)
    clock.at += dt.timedelta(minutes=2)  # past midnight in Shanghai
    assert s.snapshot()["tech"]["offered"] == 0 and s.day == dt.date(2026, 11, 25)
