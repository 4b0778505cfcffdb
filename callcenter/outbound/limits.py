"""When an automatic call may be placed: the pure rules (do-not-call, consent, quiet hours,
the campaign window, the callee's limits). Every time is passed in, aware; nothing here
reads a clock or a database, so the dialler, `campaign` commands and tests agree.

Rules are applied in a fixed order (`may_call`): the final refusals first (the site's
never-call list, the do-not-call list, missing consent: no retry will change them), then the
time-of-day rules (quiet hours, campaign window), then the callee's counts. A refusal that
time will lift carries `retry_at`, the earliest moment every rule passes if nothing else is
dialled to that callee meanwhile.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from callcenter.site.outbound import CALL_KINDS, SERVICE_KINDS, CalleeLimits, Campaign

__all__ = ["ALLOWED", "Verdict", "Window", "callee_verdict", "consent_needed", "may_call"]

_DAY = 24 * 60
_WINDOW = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)\Z")
# how far ahead may_call looks for a moment every rule allows before calling it never
_HORIZON = dt.timedelta(days=8)


@dataclass(frozen=True)
class Window:
    """A daily time range in wall-clock minutes, [start, end); end < start wraps midnight
    ("21:00-08:00"), end 1440 is midnight ("08:00-24:00"), "00:00-24:00" is all day."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> Window:
        """`HH:MM-HH:MM`; ValueError saying how to write it otherwise."""
        return _parse(text.strip())

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"

    @property
    def wraps(self) -> bool:
        return self.end < self.start

    @property
    def always(self) -> bool:
        return self.start == 0 and self.end == _DAY

    def contains(self, local_time: dt.time | dt.datetime) -> bool:
        """Whether a wall-clock time (a datetime's own wall clock) lies in the window."""
        t = local_time.time() if isinstance(local_time, dt.datetime) else local_time
        s = t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6
        if self.wraps:
            return s >= self.start * 60 or s < self.end * 60
        return self.start * 60 <= s < self.end * 60

    def next_open(self, after: dt.datetime) -> dt.datetime:
        """The first moment at or after `after` inside the window, on the wall clock of
        `after`'s own time zone (`after` itself when it is inside)."""
        if self.contains(_aware(after)):
            return after
        return _next_boundary(after, self.start)

    def next_close(self, after: dt.datetime) -> dt.datetime:
        """The first moment at or after `after` outside the window (`after` itself when it
        is outside); ValueError for an all-day window, which never closes."""
        if not self.contains(_aware(after)):
            return after
        if self.always:
            raise ValueError(f"the window {self} never closes")
        return _next_boundary(after, self.end)


@lru_cache(maxsize=256)
def _parse(text: str) -> Window:
    m = _WINDOW.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a time range — write HH:MM-HH:MM, for example "
                         "08:00-21:00 (21:00-08:00 runs over midnight)")
    start, end = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
    if end > _DAY:
        raise ValueError(f"{text!r} ends after 24:00 — write 24:00 for midnight")
    if start == end:
        raise ValueError(f"{text!r} starts where it ends, so it is empty — write 00:00-24:00 "
                         "for the whole day")
    return Window(start, end)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone — pass an aware datetime")
    return moment


def _next_boundary(after: dt.datetime, minute: int) -> dt.datetime:
    """The first wall-clock `minute` of a day strictly after `after`, in its zone."""
    tz = after.tzinfo
    for day in (after.date(), after.date() + dt.timedelta(days=1)):
        at = dt.datetime.combine(day, dt.time(0), tzinfo=tz) + dt.timedelta(minutes=minute)
        at = at.astimezone(dt.UTC).astimezone(tz)  # a real instant even across a DST change
        if at > after:
            return at
    raise AssertionError("a boundary always comes within two days")  # pragma: no cover


@dataclass(frozen=True)
class Verdict:
    """May the call be placed now; if not, why (for a supervisor) and from when
    (`retry_at` None: never — the refusal is final). `rule` names the rule for reports:
    never_call, dnc, consent, quiet_hours, window, per_minute, per_hour, per_day, no_time."""

    ok: bool
    reason: str
    retry_at: dt.datetime | None = None
    rule: str = ""

    @property
    def final(self) -> bool:
        return not self.ok and self.retry_at is None


ALLOWED = Verdict(True, "allowed")


def _zone(tz: dt.tzinfo | str | None, now: dt.datetime) -> dt.tzinfo:
    if tz is None:
        return now.tzinfo  # type: ignore[return-value]  # _aware checked it
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _plural(n: int) -> str:
    return f"{n} call" if n == 1 else f"{n} calls"


def _rolling(previous: Sequence[dt.datetime], now: dt.datetime, limit: int,
             span: dt.timedelta, rule: str, what: str) -> Verdict | None:
    """At most `limit` attempts in any `span`: the refusal, or None. Attempts recorded after
    `now` (another clock) count as inside the span, which can only refuse more."""
    recent = sorted(p for p in previous if now - p < span)
    if limit <= 0 or len(recent) < limit:
        return None
    # once the oldest len-limit+1 of them have left the span, one more call fits
    retry = recent[len(recent) - limit] + span
    text = _plural(len(recent)) + f" in the last {what}"
    if len(recent) != limit:
        text += f" (at most {limit})"
    return Verdict(False, f"callee limit: {text}", retry, rule)


def callee_verdict(limits: CalleeLimits, previous: Sequence[dt.datetime], now: dt.datetime,
                   tz: dt.tzinfo | str | None = None) -> Verdict:
    """The callee's counts (a limit of 0: none of that kind). `previous` holds the start of
    every earlier attempt to this number, failed ones included. per_minute and per_hour are
    rolling (any 60 s, any 3600 s); per_day counts the calendar day in `tz` (default: `now`'s
    zone), as the Chinese clouds count per natural day (自然日) — the number the carrier
    blocks on, and the one a supervisor reads as "calls today"; it resets at local midnight.
    When several limits refuse, the one lifting last is reported and gives `retry_at`."""
    now = _aware(now)
    zone = _zone(tz, now)
    # widest first: on equal retry_at max() keeps the first, the one a supervisor expects
    refusals = [v for v in (
        _per_day(previous, now, limits.per_day, zone),
        _rolling(previous, now, limits.per_hour, dt.timedelta(hours=1), "per_hour", "hour"),
        _rolling(previous, now, limits.per_minute, dt.timedelta(minutes=1), "per_minute",
                 "minute"),
    ) if v is not None]
    if not refusals:
        return ALLOWED
    # each count only falls as time passes (a day's resets), so at the latest retry all pass
    return max(refusals, key=lambda v: v.retry_at)  # type: ignore[arg-type, return-value]


def _per_day(previous: Sequence[dt.datetime], now: dt.datetime, limit: int,
             zone: dt.tzinfo) -> Verdict | None:
    local = now.astimezone(zone)
    midnight = _next_boundary(local, 0)
    # attempts after now but still today count too (conservative, as in _rolling)
    today = [p for p in previous if p.astimezone(zone).date() == local.date()]
    if limit <= 0 or len(today) < limit:
        return None
    text = _plural(len(today)) + " today"
    if len(today) != limit:
        text += f" (at most {limit})"
    return Verdict(False, f"callee limit: {text}", midnight, "per_day")


def consent_needed(kind: str, campaign: Campaign | None) -> bool:
    """Campaign.consent_required, or when it is None (or no campaign): every kind but the
    service calls the callee asked for (SERVICE_KINDS: reminders, callbacks, agents)."""
    if campaign is not None and campaign.consent_required is not None:
        return campaign.consent_required
    return kind not in SERVICE_KINDS


def _in_window(text: str, local: dt.datetime, quiet: bool) -> Verdict | None:
    """Quiet hours (no calls inside) or a campaign window (calls only inside); "" is none."""
    if not text.strip():
        return None
    window = Window.parse(text)
    if quiet and window.contains(local):
        if window.always:
            return Verdict(False, f"quiet hours ({window}) all day", None, "no_time")
        until = window.next_close(local)
        return Verdict(False, f"quiet hours ({window}) until {until:%H:%M}", until,
                       "quiet_hours")
    if not quiet and not window.contains(local):
        return Verdict(False, f"outside the campaign window {window}",
                       window.next_open(local), "window")
    return None


def _timed(campaign: Campaign | None, limits: CalleeLimits,
           previous: Sequence[dt.datetime], at: dt.datetime, zone: dt.tzinfo) -> Verdict:
    """The rules that time lifts, in order, at one moment: the first refusal or ALLOWED."""
    local = at.astimezone(zone)
    for verdict in (_in_window(limits.quiet_hours, local, quiet=True),
                    _in_window(campaign.window, local, quiet=False) if campaign else None,
                    callee_verdict(limits, previous, local, zone)):
        if verdict is not None and not verdict.ok:
            return verdict
    return ALLOWED


def may_call(*, kind: str, campaign: Campaign | None, limits: CalleeLimits,
             previous: Sequence[dt.datetime], now: dt.datetime, tz: dt.tzinfo | str,
             on_dnc: bool, consent: bool, never_call: bool) -> Verdict:
    """Every rule in order: never-call list, do-not-call list, consent (final, no retry_at),
    quiet hours and the campaign window in the callee's local time `tz` (China has one zone:
    the company's), the callee's limits. `campaign` None (callbacks, agents): no window.
    The reason is the first rule refusing now; retry_at the earliest moment all pass."""
    if kind not in CALL_KINDS:
        raise ValueError(f"{kind!r} is not a kind of outbound call — one of "
                         + ", ".join(CALL_KINDS))
    now = _aware(now)
    zone = _zone(tz, now)
    if never_call:
        return Verdict(False, "on the site's never-call list", None, "never_call")
    if on_dnc:
        return Verdict(False, "on the do-not-call list", None, "dnc")
    if not consent and consent_needed(kind, campaign):
        return Verdict(False, f"no consent for {kind} calls", None, "consent")
    first = _timed(campaign, limits, previous, now, zone)
    at = first.retry_at
    while at is not None and at - now <= _HORIZON:
        # each rule's retry_at is later than the moment asked, so this walks forward
        verdict = _timed(campaign, limits, previous, at, zone)
        if verdict.ok:
            return Verdict(False, first.reason, at.astimezone(zone), first.rule)
        at = verdict.retry_at
    if first.ok or first.retry_at is None:
        return first
    window = campaign.window if campaign else ""
    return Verdict(False, f"the campaign window {window} lies inside quiet hours "
                   f"({limits.quiet_hours}): no moment is left to call", None, "no_time")
