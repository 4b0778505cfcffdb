"""When an automatic call may be placed: windows, the callee's limits and may_call's order,
by example and by property (every time passed in; nothing reads the clock)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.outbound.limits import Verdict, Window, callee_verdict, consent_needed, may_call
from callcenter.site.outbound import CalleeLimits, Campaign

SH = ZoneInfo("Asia/Shanghai")
ZONES = st.sampled_from([SH, dt.UTC, ZoneInfo("Asia/Urumqi")])
MIN, HOUR = dt.timedelta(minutes=1), dt.timedelta(hours=1)


def at(day: int, hh: int, mm: int = 0, ss: int = 0) -> dt.datetime:
    return dt.datetime(2025, 3, day, hh, mm, ss, tzinfo=SH)


def call(now: dt.datetime, *, kind: str = "reminder", campaign: Campaign | None = None,
         limits: CalleeLimits | None = None, previous: list[dt.datetime] | None = None,
         on_dnc: bool = False, consent: bool = True, never_call: bool = False,
         tz: dt.tzinfo = SH) -> Verdict:
    return may_call(kind=kind, campaign=campaign or Campaign(kind="reminder"),
                    limits=limits or CalleeLimits(), previous=previous or [], now=now, tz=tz,
                    on_dnc=on_dnc, consent=consent, never_call=never_call)


# --- Window ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "start", "end", "wraps"), [
    ("08:00-21:00", 480, 1260, False), ("21:00-08:00", 1260, 480, True),
    (" 00:00-24:00 ", 0, 1440, False), ("23:59-00:00", 1439, 0, True)])
def test_window_parse(text: str, start: int, end: int, wraps: bool) -> None:
    w = Window.parse(text)
    assert (w.start, w.end, w.wraps) == (start, end, wraps)
    assert str(w) == text.strip()


@pytest.mark.parametrize(("text", "hint"), [
    ("8:00-21:00", "HH:MM-HH:MM"), ("08:00-24:30", "after 24:00"), ("24:00-08:00", "HH:MM"),
    ("09:00-09:00", "00:00-24:00"), ("08:00 to 21:00", "HH:MM"), ("", "HH:MM")])
def test_window_parse_refuses_with_a_fix(text: str, hint: str) -> None:
    with pytest.raises(ValueError, match=hint):
        Window.parse(text)


windows = st.tuples(st.integers(0, 1439), st.integers(1, 1440)).filter(
    lambda w: w[0] != w[1] % 1440 or w == (0, 1440)).map(lambda w: Window(*w))


def brute_minutes(w: Window) -> set[int]:
    """The window's minutes, walked one by one from its start to its end."""
    out, m = set(), w.start
    while True:
        out.add(m % 1440)
        m += 1
        if m % 1440 == w.end % 1440:
            return out


@given(windows)
def test_contains_agrees_with_a_minute_by_minute_walk(w: Window) -> None:
    inside = brute_minutes(w)
    for m in range(1440):
        for second in (0, 59):
            assert w.contains(dt.time(m // 60, m % 60, second)) == (m in inside), (w, m)


@given(windows, st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2026, 12, 31),
                             timezones=ZONES))
def test_next_open_and_close_are_the_first_such_moments(w: Window, after: dt.datetime) -> None:
    opened = w.next_open(after)
    assert opened >= after and w.contains(opened)
    assert opened == after or not w.contains(opened - dt.timedelta(microseconds=1))
    assert opened - after <= dt.timedelta(days=1)
    # nothing open in between: every minute boundary in (after, opened) is closed
    t = after
    while t < opened:
        assert not w.contains(t)
        t = (t + MIN).replace(second=0, microsecond=0)
    if w.always:
        with pytest.raises(ValueError, match="never closes"):
            w.next_close(after)
        return
    closed = w.next_close(after)
    assert closed >= after and not w.contains(closed)
    assert closed == after or w.contains(closed - dt.timedelta(microseconds=1))


def test_window_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        Window.parse("08:00-21:00").next_open(dt.datetime(2025, 3, 3, 7))


# --- the callee's limits -----------------------------------------------------------------

def test_callee_limits_by_example() -> None:
    limits = CalleeLimits()
    now = at(3, 10)
    assert callee_verdict(limits, [], now).ok
    v = callee_verdict(limits, [now - 30 * dt.timedelta(seconds=1)], now)
    assert (v.ok, v.reason, v.retry_at, v.rule) == (
        False, "callee limit: 1 call in the last minute", at(3, 10, 0, 30), "per_minute")
    five = [now - m * MIN for m in (2, 10, 20, 30, 59)]
    v = callee_verdict(limits, five, now)
    assert (v.reason, v.retry_at) == ("callee limit: 5 calls in the last hour", at(3, 10, 1))
    # a lowered limit: the count and the limit both shown
    v = callee_verdict(CalleeLimits(per_hour=3), five, now)
    assert v.reason == "callee limit: 5 calls in the last hour (at most 3)"
    assert v.retry_at == at(3, 9, 40) + HOUR  # then only 2 of the 5 are left


def test_per_day_counts_the_local_calendar_day() -> None:
    limits = CalleeLimits(per_minute=0, per_hour=0, per_day=3)
    evening = [at(3, 22), at(3, 23), at(3, 23, 30)]
    v = callee_verdict(limits, evening, at(3, 23, 50))
    assert (v.reason, v.retry_at, v.rule) == ("callee limit: 3 calls today", at(4, 0), "per_day")
    assert callee_verdict(limits, evening, at(4, 0, 1)).ok  # a new natural day (自然日)
    # the day is the callee's (tz), whatever zone the times come in
    morning = [at(3, 7), at(3, 8), at(3, 9)]  # 23:00 on the 2nd, 00:00 and 01:00 UTC
    assert not callee_verdict(limits, morning, at(3, 10).astimezone(dt.UTC), SH).ok
    assert callee_verdict(limits, morning, at(3, 10), dt.UTC).ok  # 2 on the UTC day


def test_a_limit_of_zero_is_no_limit() -> None:
    now = at(3, 10)
    assert callee_verdict(CalleeLimits(0, 0, 0), [now] * 50, now).ok


def test_when_several_limits_refuse_the_last_to_lift_is_reported() -> None:
    now = at(3, 10)
    previous = [now - dt.timedelta(seconds=10)] + [now - m * MIN for m in (5, 6, 7, 8)]
    v = callee_verdict(CalleeLimits(), previous, now)
    assert v.rule == "per_hour" and v.retry_at == now - 8 * MIN + HOUR


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 4000), min_size=1, max_size=120),
       st.tuples(st.integers(1, 3), st.integers(2, 6), st.integers(3, 12)))
def test_callee_limits_are_never_exceeded(gaps: list[int],
                                          caps: tuple[int, int, int]) -> None:
    """Whoever asks at whatever times, and dials each time it is allowed (or at the
    retry_at it was given): no 60 s, 3600 s or local day ever holds more than its limit."""
    limits = CalleeLimits(per_minute=caps[0], per_hour=caps[1], per_day=caps[2])
    placed: list[dt.datetime] = []
    now = at(3, 20)
    for gap in gaps:
        now += dt.timedelta(seconds=gap)
        v = callee_verdict(limits, placed, now)
        if v.ok:
            placed.append(now)
        else:
            assert v.retry_at is not None and v.retry_at > now
            assert callee_verdict(limits, placed, v.retry_at).ok
            if gap % 3 == 0:  # sometimes dial exactly at the retry time
                now = v.retry_at
                placed.append(now)
    for i, p in enumerate(placed):
        assert sum(1 for q in placed[i:] if q - p < MIN) <= limits.per_minute
        assert sum(1 for q in placed[i:] if q - p < HOUR) <= limits.per_hour
        assert sum(1 for q in placed if q.date() == p.date()) <= limits.per_day


# --- may_call ----------------------------------------------------------------------------

def test_final_refusals_come_first_and_have_no_retry() -> None:
    night = at(3, 23)  # quiet hours too: the final reason still wins
    v = call(night, never_call=True, on_dnc=True, consent=False, kind="survey")
    assert (v.reason, v.retry_at, v.final) == ("on the site's never-call list", None, True)
    v = call(night, on_dnc=True, consent=False, kind="survey")
    assert (v.reason, v.retry_at, v.rule) == ("on the do-not-call list", None, "dnc")
    v = call(night, consent=False, kind="survey", campaign=Campaign(kind="survey"))
    assert (v.reason, v.retry_at, v.rule) == ("no consent for survey calls", None, "consent")


@pytest.mark.parametrize(("kind", "required", "needed"), [
    ("reminder", None, False), ("callback", None, False), ("agent", None, False),
    ("lead", None, True), ("survey", None, True), ("reminder", True, True),
    ("survey", False, False)])
def test_consent_rule(kind: str, required: bool | None, needed: bool) -> None:
    campaign = Campaign(kind="survey", consent_required=required)
    assert consent_needed(kind, campaign) is needed
    assert call(at(3, 10), kind=kind, campaign=campaign, consent=False).ok is not needed


def test_time_rules_with_reasons_a_supervisor_reads() -> None:
    v = call(at(3, 21, 30))
    assert (v.reason, v.retry_at, v.rule) == (
        "quiet hours (21:00-08:00) until 08:00", at(4, 8), "quiet_hours")
    late = Campaign(kind="reminder", window="09:30-20:00")
    v = call(at(3, 8, 10), campaign=late)
    assert (v.reason, v.retry_at) == ("outside the campaign window 09:30-20:00", at(3, 9, 30))
    # quiet hours end at 08:00 but the window opens later: retry_at is when both pass
    v = call(at(3, 7), campaign=late)
    assert v.reason.startswith("quiet hours") and v.retry_at == at(3, 9, 30)
    # quiet hours apply to the callee's local time (tz), whatever zone now is in
    assert not call(at(3, 22).astimezone(dt.UTC)).ok
    assert call(at(3, 22).astimezone(dt.UTC), tz=dt.UTC).ok  # 14:00 UTC
    v = call(at(3, 10), campaign=None, kind="callback")
    assert v.ok and v.reason == "allowed"


def test_full_day_moves_past_midnight_and_quiet_hours() -> None:
    previous = [at(3, 9) + i * 20 * MIN for i in range(20)]  # 09:00 .. 15:20
    v = call(at(3, 16), previous=previous)
    assert (v.reason, v.retry_at) == ("callee limit: 20 calls today", at(4, 8))


def test_no_moment_left_is_final() -> None:
    v = call(at(3, 10), campaign=Campaign(kind="reminder", window="22:00-23:00"))
    assert v.final and v.rule == "no_time" and "22:00-23:00" in v.reason
    v = call(at(3, 10), limits=CalleeLimits(quiet_hours="00:00-24:00"))
    assert v.final and v.reason == "quiet hours (00:00-24:00) all day"


def test_empty_quiet_hours_and_window_are_no_rule() -> None:
    v = call(at(3, 3), limits=CalleeLimits(quiet_hours=""),
             campaign=Campaign(kind="reminder", window=""))
    assert v.ok


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="kind of outbound call"):
        call(at(3, 10), kind="robocall")
    with pytest.raises(ValueError, match="no time zone"):
        call(dt.datetime(2025, 3, 3, 10))


time_texts = st.sampled_from(["", "21:00-08:00", "22:00-07:30", "12:00-13:00", "23:00-01:00"])
window_texts = st.sampled_from(["", "08:00-21:00", "09:30-20:00", "07:00-09:00",
                                "20:00-02:00", "00:00-24:00", "22:00-23:00"])


@settings(max_examples=200, deadline=None)
@given(time_texts, window_texts,
       st.lists(st.integers(0, 30 * 3600), max_size=30),
       st.datetimes(dt.datetime(2025, 1, 1), dt.datetime(2025, 12, 31), timezones=ZONES),
       ZONES)
def test_retry_at_is_the_first_allowed_moment(quiet: str, window: str, ago: list[int],
                                              now: dt.datetime, tz: dt.tzinfo) -> None:
    limits = CalleeLimits(quiet_hours=quiet)
    campaign = Campaign(kind="survey", window=window)
    previous = [now - dt.timedelta(seconds=s) for s in ago]
    v = call(now, kind="survey", campaign=campaign, limits=limits, previous=previous, tz=tz)
    if v.ok or v.final:
        return
    assert v.retry_at is not None and v.retry_at > now
    again = call(v.retry_at, kind="survey", campaign=campaign, limits=limits,
                 previous=previous, tz=tz)
    assert again.ok, (v, again)
    just_before = v.retry_at - dt.timedelta(milliseconds=1)
    if just_before > now:
        assert not call(just_before, kind="survey", campaign=campaign, limits=limits,
                        previous=previous, tz=tz).ok
