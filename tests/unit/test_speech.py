"""Spoken templates: numbers, times, dates and phone numbers as a Mandarin speaker says
them, and a reminder filled in safely from caller-supplied values."""

from __future__ import annotations

import datetime as dt
import subprocess
from zoneinfo import ZoneInfo

import pytest

from callcenter.errors import CallcenterError
from callcenter.ivr.prompts import voice
from callcenter.outbound.speech import (
    TEMPLATE_VARIABLES,
    TemplateError,
    clean_value,
    fill,
    placeholders,
    say_date,
    say_digits,
    say_number,
    say_time,
    unknown_variables,
)

pytestmark = pytest.mark.clock  # dates and times: also run under a fake date

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2025, 12, 1, 10, 0, tzinfo=SH)  # a Monday morning
LESSON = "{student}同学您好，您预约的{course}将在{start_time}开始。确认请按1。"


@pytest.mark.parametrize(("n", "spoken"), [
    (0, "零"), (1, "一"), (2, "二"), (10, "十"), (15, "十五"), (20, "二十"), (22, "二十二"),
    (100, "一百"), (105, "一百零五"), (110, "一百一十"), (200, "两百"), (222, "两百二十二"),
    (1001, "一千零一"), (1010, "一千零一十"), (2000, "两千"), (2222, "两千二百二十二"),
    (10000, "一万"), (10005, "一万零五"), (10010, "一万零一十"), (12000, "一万两千"),
    (20000, "两万"), (100500, "十万零五百"), (1050000, "一百零五万"),
    (20010000, "两千零一万"), (100000001, "一亿零一"), (-5, "负五"),
])
def test_numbers_in_chinese_numerals(n: int, spoken: str) -> None:
    assert say_number(n) == spoken


def test_a_count_of_two_is_liang_and_bad_numbers_are_refused() -> None:
    assert say_number(2, count=True) == "两"
    assert say_number(12, count=True) == "十二"
    with pytest.raises(TemplateError):
        say_number(10 ** 16)
    with pytest.raises(TemplateError):
        say_number(True)  # type: ignore[arg-type]


@pytest.mark.parametrize(("day", "hour", "minute", "zh", "en"), [
    (0, 19, 30, "今天晚上七点半", "today at 7:30 pm"),
    (1, 7, 15, "明天早上七点十五分", "tomorrow at 7:15 am"),
    (2, 8, 0, "后天上午八点整", "December 3 at 8 am"),
    (0, 14, 0, "今天下午两点整", "today at 2 pm"),
    (0, 2, 5, "今天凌晨两点零五分", "today at 2:05 am"),
    (0, 12, 30, "今天中午十二点半", "today at 12:30 pm"),
    (0, 0, 0, "今天凌晨零点整", "today at midnight"),
    (3, 21, 45, "十二月四日晚上九点四十五分", "December 4 at 9:45 pm"),
])
def test_times_relative_to_now(day: int, hour: int, minute: int, zh: str, en: str) -> None:
    t = dt.datetime(2025, 12, 1 + day, hour, minute, tzinfo=SH)
    assert say_time(t, NOW) == zh
    assert say_time(t, NOW, "en") == en


def test_a_time_is_said_in_nows_zone() -> None:
    # 16:30 UTC is half past midnight the next day in Shanghai
    assert say_time(dt.datetime(2025, 12, 1, 16, 30, tzinfo=dt.UTC), NOW) == "明天凌晨零点半"
    with pytest.raises(TemplateError, match="time zone"):
        say_time(dt.datetime(2025, 12, 1, 16, 30), NOW)


def test_dates_say_the_year_only_when_it_is_not_obvious() -> None:
    assert say_date(dt.date(2025, 12, 2), NOW) == "明天"
    assert say_date(dt.date(2025, 11, 30), NOW) == "十一月三十日"  # yesterday: the date
    assert say_date(dt.date(2026, 1, 5), NOW) == "一月五日"  # next month, next year
    assert say_date(dt.date(2026, 6, 5), NOW) == "二零二六年六月五日"
    assert say_date(dt.date(2026, 6, 5), NOW, "en") == "June 5, 2026"


@pytest.mark.parametrize(("digits", "spoken"), [
    ("13812345678", "幺三八，幺二三四，五六七八"),
    ("01080001000", "零幺零，八零零零，幺零零零"),
    ("08162000100", "零八幺六，二零零，零幺零零"),
    ("4008001234", "四零零，八零零，幺二三四"),
    ("95123", "九五幺二三"),
])
def test_phone_numbers_digit_by_digit_with_yao(digits: str, spoken: str) -> None:
    assert say_digits(digits) == spoken


def test_digits_without_yao_and_only_digits() -> None:
    assert say_digits("10086", yao=False) == "一零零八六"
    with pytest.raises(TemplateError):
        say_digits("138-1234")


def test_a_reminder_is_filled_in() -> None:
    text = fill(LESSON, {"student": "王小明", "course": "英语课",
                         "start_time": "2025-12-01T11:30:00Z"}, now=NOW, tz="Asia/Shanghai")
    assert text == "王小明同学您好，您预约的英语课将在今天晚上七点半开始。确认请按1。"


def test_every_variable_and_english() -> None:
    template = "{name}, {course} {start_date} {start_time}, in {minutes} minutes"
    values = {"name": "Ms Li", "course": "Maths", "start_date": "2025-12-02",
              "start_time": dt.datetime(2025, 12, 2, 8, 0, tzinfo=SH), "minutes": 20}
    assert fill(template, values, now=NOW, tz=SH, language="en") == (
        "Ms Li, Maths tomorrow tomorrow at 8 am, in 20 minutes")
    assert fill("还有{minutes}分钟，{start_date}", {"minutes": "2", "start_date": "2025-12-03"},
                now=NOW, tz=SH) == "还有两分钟，后天"


def test_a_time_without_zone_is_the_companys() -> None:
    assert fill("{start_time}", {"start_time": "2025-12-01T19:30"}, now=NOW.astimezone(dt.UTC),
                tz="Asia/Shanghai") == "今天晚上七点半"


def test_caller_values_are_cleaned_and_capped() -> None:
    hostile = "王\n小明\u202e\x00" + "长" * 100
    text = fill("{student}同学", {"student": hostile}, now=NOW, tz=SH)
    assert text == "王 小明 " + "长" * 25 + "同学"  # 30 characters kept
    assert clean_value("a\tb\u200bc", 10) == "a b c"
    # a value holding a brace is spoken as it is, never expanded again
    assert fill("{name}", {"name": "{course}"}, now=NOW, tz=SH) == "{course}"


@pytest.mark.parametrize(("template", "values", "needle"), [
    ("{teacher}好", {}, "{teacher}, which is not a template variable — use {course}"),
    ("{student}好", {}, "no value was given for it"),
    ("{student}好", {"student": None}, "no value was given for it"),
    ("好", {"teacher": "x"}, "unknown template variable 'teacher'"),
    ("{student", {"student": "x"}, "a '{' or '}' that is not part of a {variable}"),
    ("{start_time}", {"start_time": "tonight"}, "not an ISO date and time"),
    ("{start_time}", {"start_time": "2025-12-01"}, "a time of day"),
    ("{minutes}", {"minutes": 5000}, "from 0 to 1440"),
    ("{minutes}", {"minutes": "-3"}, "from 0 to 1440"),
])
def test_bad_templates_and_values_say_what_to_fix(template: str, values: dict[str, object],
                                                  needle: str) -> None:
    with pytest.raises(TemplateError) as info:
        fill(template, values, now=NOW, tz=SH)
    assert needle in str(info.value)
    assert isinstance(info.value, CallcenterError)


def test_placeholders_and_the_one_variable_list() -> None:
    assert placeholders(LESSON) == ["student", "course", "start_time"]
    assert unknown_variables("{teacher}{room}{teacher}{student}") == ["teacher", "room"]
    assert {"student", "course", "start_time", "start_date", "minutes", "name"} == \
        TEMPLATE_VARIABLES


def test_filled_reminder_is_spoken_as_mandarin() -> None:
    # espeak-ng marks a switch to English with "(en)": a time written "19:30" or a stray
    # Latin word would be read in English by the Mandarin voice
    text = fill(LESSON, {"student": "王小明", "course": "英语课",
                         "start_time": "2025-12-02T14:15:00+08:00"}, now=NOW, tz=SH)
    res = subprocess.run(["espeak-ng", "-q", "-x", "--stdin", "-v", voice("zh")], input=text,
                         capture_output=True, text=True, check=True, timeout=30)
    assert res.stdout.strip() and "(en)" not in res.stdout
