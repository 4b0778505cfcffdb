"""Spoken templates: times, dates and numbers as a Mandarin (or English) speaker says them,
and a reminder's text with its {variables} filled in (docs/outbound.md, "Templates and
speech"). Pure: no clock is read here, `now` is always passed in.

Choices a listener hears: 两 for a lone count of two and before 百 (leading), 千, 万, 亿
(两点, 两千, 一万两千) but 二 before 十 and in units (十二, 二十); 幺 for 1 in phone numbers
(as Chinese operators read them, so 1 and 7 are not confused); 12-hour times with the part of
the day (凌晨 0–4, 早上 5–7, 上午 8–11, 中午 12, 下午 13–17, 晚上 18–23)."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import unicodedata
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from callcenter.errors import CallcenterError
from callcenter.site.numbers import area_code

__all__ = [
    "TEMPLATE_VARIABLES",
    "TemplateError",
    "clean_value",
    "fill",
    "placeholders",
    "say_date",
    "say_digits",
    "say_number",
    "say_time",
    "unknown_variables",
]

# the one list of variables a template may use (callcenter check refuses others)
TEMPLATE_VARIABLES: frozenset[str] = frozenset(
    {"student", "course", "start_time", "start_date", "minutes", "name"})
# characters kept of each caller-supplied text value: a name or course title, not a speech
VALUE_CHARS = {"student": 30, "name": 30, "course": 40}
MAX_MINUTES = 1440

_DIGITS = "零一二三四五六七八九"
_UNITS = ("", "十", "百", "千")
_BIG = ("", "万", "亿", "万亿")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")


class TemplateError(CallcenterError):
    """A template or the values given for it cannot be spoken."""


def say_number(n: int, *, count: bool = False) -> str:
    """`n` in Chinese numerals (105 → 一百零五, 2000 → 两千, 12000 → 一万两千); `count`: a
    quantity before a measure word, where a lone 2 is 两 (两分钟)."""
    if type(n) is not int:
        raise TemplateError(f"{n!r} is not a whole number")
    if n < 0:
        return "负" + say_number(-n)
    if n >= 10 ** 16:
        raise TemplateError(f"{n} is too large to speak — at most 16 digits")
    if n == 0:
        return "零"
    if n == 2 and count:
        return "两"
    groups = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    out = ""
    zero = False
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            zero = bool(out)
            continue
        if out and (zero or g < 1000):
            out += "零"
        zero = False
        word = _group(g, first=not out)
        out += ("两" if word == "二" and i else word) + _BIG[i]
    return out


def _group(g: int, *, first: bool) -> str:
    """One group of four digits (1..9999); `first`: it starts the whole number."""
    out = ""
    pending_zero = False
    for pos in (3, 2, 1, 0):
        d = g // 10 ** pos % 10
        if d == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out += "零"
            pending_zero = False
        lead = first and not out
        if d == 1 and pos == 1 and lead:
            word = ""  # 十五, not 一十五, at the start of a number
        elif d == 2 and (pos == 3 or (pos == 2 and lead)):
            word = "两"
        else:
            word = _DIGITS[d]
        out += word + _UNITS[pos]
    return out


def say_digits(digits: str, *, yao: bool = True) -> str:
    """A telephone number read digit by digit (1 as 幺 unless `yao` is False), with pauses
    where people make them: a mobile 3-4-4 (幺三八，…), a 400 number 3-3-4, a fixed line
    after the area code and before the last four digits, a short service number (10086,
    95123) in one breath."""
    if not (digits.isascii() and digits.isdigit()):
        raise TemplateError(f"{digits!r} is not a string of digits")
    names = _DIGITS.replace("一", "幺") if yao else _DIGITS
    spoken = "".join(names[int(c)] for c in digits)
    if len(digits) == 11 and digits.startswith("1"):
        cuts = [3, 7]
    elif len(digits) == 10 and digits.startswith("400"):
        cuts = [3, 6]
    elif area_code(digits):
        cuts = [len(area_code(digits)), len(digits) - 4]
    elif len(digits) > 6:
        cuts = list(range(len(digits) % 4 or 4, len(digits), 4))
    else:
        cuts = []
    bounds = [0, *cuts, len(digits)]
    return "，".join(spoken[a:b] for a, b in itertools.pairwise(bounds))


def _same_zone(t: dt.datetime, now: dt.datetime) -> dt.datetime:
    if (t.tzinfo is None) != (now.tzinfo is None):
        raise TemplateError("a time with a time zone cannot be compared with one without")
    return t.astimezone(now.tzinfo) if t.tzinfo else t


def _as_date(d: dt.date) -> dt.date:
    return d.date() if isinstance(d, dt.datetime) else d


def say_date(d: dt.date, now: dt.date, language: str = "zh") -> str:
    """今天/明天/后天 (today/tomorrow) or 十二月三日 (December 3); the year is said when it
    differs and the date is not within the next 60 days. A datetime `d` is taken in `now`'s
    zone."""
    if isinstance(d, dt.datetime) and isinstance(now, dt.datetime):
        d = _same_zone(d, now)
    d, today = _as_date(d), _as_date(now)
    ahead = (d - today).days
    with_year = d.year != today.year and not 0 <= ahead <= 60
    if language == "en":
        if 0 <= ahead <= 1:
            return ("today", "tomorrow")[ahead]
        text = f"{_EN_MONTHS[d.month - 1]} {d.day}"
        return f"{text}, {d.year}" if with_year else text
    if 0 <= ahead <= 2:
        return ("今天", "明天", "后天")[ahead]
    year = "".join(_DIGITS[int(c)] for c in str(d.year)) + "年" if with_year else ""
    return f"{year}{say_number(d.month)}月{say_number(d.day)}日"


def _part_of_day(hour: int) -> str:
    if hour < 5:
        return "凌晨"
    if hour < 8:
        return "早上"
    if hour < 12:
        return "上午"
    if hour == 12:
        return "中午"
    return "下午" if hour < 18 else "晚上"


def say_clock(t: dt.time | dt.datetime, language: str = "zh") -> str:
    """The time of day alone: 晚上七点半, 下午两点十五分, 上午八点整 (en: 7:30 pm)."""
    h, m = t.hour, t.minute
    if language == "en":
        if m == 0 and h in (0, 12):
            return "midnight" if h == 0 else "noon"
        h12 = h % 12 or 12
        return (f"{h12}:{m:02d}" if m else f"{h12}") + (" am" if h < 12 else " pm")
    hour = "十二" if h == 12 else say_number(h % 12, count=True)
    if m == 0:
        minutes = "整"
    elif m == 30:
        minutes = "半"
    else:
        minutes = ("零" if m < 10 else "") + say_number(m) + "分"
    return f"{_part_of_day(h)}{hour}点{minutes}"


def say_time(t: dt.datetime, now: dt.datetime, language: str = "zh") -> str:
    """When something happens, relative to `now` and in `now`'s zone: 今天晚上七点半,
    明天上午八点整, 十二月三日下午两点十五分 (en: "today at 7:30 pm")."""
    t = _same_zone(t, now)
    day = say_date(t.date(), now.date(), language)
    clock = say_clock(t, language)
    return f"{day} at {clock}" if language == "en" else day + clock


def placeholders(text: str) -> list[str]:
    """The {variables} of a template in order; TemplateError on a brace that opens or
    closes nothing."""
    rest = _PLACEHOLDER.sub("", text)
    if "{" in rest or "}" in rest:
        raise TemplateError("a '{' or '}' that is not part of a {variable} — write variables "
                            "as {name}; a brace itself cannot be spoken")
    return [m.group(1).strip() for m in _PLACEHOLDER.finditer(text)]


def unknown_variables(text: str) -> list[str]:
    """The template's variables that are not in TEMPLATE_VARIABLES (in order, once each)."""
    return list(dict.fromkeys(v for v in placeholders(text) if v not in TEMPLATE_VARIABLES))


def allowed() -> str:
    return ", ".join("{" + v + "}" for v in sorted(TEMPLATE_VARIABLES))


def clean_value(value: object, limit: int) -> str:
    """A caller-supplied text made safe to speak: control and format characters become
    spaces, runs of white space one space, and at most `limit` characters are kept."""
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in str(value))
    return " ".join(text.split())[:limit]


def _when(value: object, tz: dt.tzinfo, name: str) -> dt.datetime | dt.date:
    if isinstance(value, str):
        try:
            value = (dt.date.fromisoformat(value) if len(value) == 10
                     else dt.datetime.fromisoformat(value))
        except ValueError:
            raise TemplateError(f"{name} {clean_value(value, 40)!r} is not an ISO date and "
                                "time — write e.g. 2025-12-03T19:30:00+08:00") from None
    if isinstance(value, dt.datetime):
        # a time without a zone is the company's local time
        return value.astimezone(tz) if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, dt.date) and name == "start_date":
        return value
    raise TemplateError(f"{name} needs a date and a time of day with its zone — write e.g. "
                        "2025-12-03T19:30:00+08:00")


def _minutes(value: object) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if type(value) is not int or not 0 <= value <= MAX_MINUTES:
        raise TemplateError(f"minutes {clean_value(value, 20)!r} must be a whole number "
                            f"from 0 to {MAX_MINUTES}")
    return value


def fill(template_text: str, variables: Mapping[str, object], *, now: dt.datetime,
         tz: dt.tzinfo | str, language: str = "zh") -> str:
    """The template with each {variable} replaced by its spoken form: start_time and
    start_date (datetimes or ISO strings) relative to `now` in the company zone `tz`,
    minutes as a number, text values cleaned (clean_value) and capped. An unknown or
    missing variable raises TemplateError."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    if now.tzinfo is None:
        raise TemplateError("now must carry a time zone")
    now = now.astimezone(zone)
    extra = sorted(set(variables) - TEMPLATE_VARIABLES)
    if extra:
        raise TemplateError(f"unknown template variable {extra[0]!r} — use {allowed()}")
    unknown = unknown_variables(template_text)
    if unknown:
        raise TemplateError(f"the template uses {{{unknown[0]}}}, which is not a template "
                            f"variable — use {allowed()}")
    spoken: dict[str, str] = {}
    for name in placeholders(template_text):
        value = variables.get(name)
        if value is None:
            raise TemplateError(f"the template uses {{{name}}} but no value was given for it")
        if name == "start_time":
            when = _when(value, zone, name)
            assert isinstance(when, dt.datetime)  # _when refuses a bare date for start_time
            spoken[name] = say_time(when, now, language)
        elif name == "start_date":
            spoken[name] = say_date(_when(value, zone, name), now, language)
        elif name == "minutes":
            m = _minutes(value)
            spoken[name] = str(m) if language == "en" else say_number(m, count=True)
        else:
            spoken[name] = clean_value(value, VALUE_CHARS[name])
    return _PLACEHOLDER.sub(lambda m: spoken[m.group(1).strip()], template_text)
