"""Type-check a parsed site file against the model and turn pydantic's errors into Problems."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
import types
import typing
from typing import Any

from pydantic import TypeAdapter, ValidationError

from callcenter.errors import Problem
from callcenter.site.model import SiteFile
from callcenter.site.yamlsrc import PathKey, Source

__all__ = ["parse_site_file", "pydantic_problem"]

_ADAPTER = TypeAdapter(SiteFile)


def parse_site_file(src: Source) -> tuple[SiteFile | None, list[Problem]]:
    if not isinstance(src.data, dict):
        return None, [src.problem((), "the site file must be a mapping of sections",
                                  "start with 'company:' at the left margin")]
    problems = _prepare(src)
    try:
        spec = _ADAPTER.validate_python(src.data)
    except ValidationError as exc:
        return None, problems + [pydantic_problem(src, err) for err in exc.errors()]
    return (None if problems else spec), problems


_NUMBER_KINDS = {95: "95", 400: "400", 1010: "1010"}
_DATE = r"\d{4}-\d{2}-\d{2}"
_RANGE = re.compile(rf"({_DATE})\s*\.\.\s*({_DATE})\Z")
_WRONG_RANGE = re.compile(rf"{_DATE}\s*(-|–|~|to|/)\s*{_DATE}\Z")
MAX_RANGE_DAYS = 366


def _prepare(src: Source) -> list[Problem]:
    """Forms people write that the model reads differently: `kind: 95` unquoted (an int)
    and holiday/workday ranges "YYYY-MM-DD..YYYY-MM-DD" (expanded to each date)."""
    data = src.data
    problems: list[Problem] = []
    numbers = data.get("numbers")
    if isinstance(numbers, list):
        for num in numbers:
            if isinstance(num, dict) and type(num.get("kind")) is int \
                    and num["kind"] in _NUMBER_KINDS:
                num["kind"] = _NUMBER_KINDS[num["kind"]]
    hours = data.get("hours")
    for key, table in (hours.items() if isinstance(hours, dict) else ()):
        for name in ("holidays", "workdays"):
            days = table.get(name) if isinstance(table, dict) else None
            if isinstance(days, list):
                table[name] = _expand_days(src, ("hours", key, name), days, problems)
    return problems


def _expand_days(src: Source, path: PathKey, days: list[Any], problems: list[Problem]
                 ) -> list[Any]:
    out: list[Any] = []
    marks: dict[int, tuple[int, int]] = {}
    for i, day in enumerate(days):
        mark = src.where((*path, i))
        text = day.strip() if isinstance(day, str) else ""
        m = _RANGE.match(text)
        if m is None:
            if _WRONG_RANGE.match(text):
                problems.append(src.problem((*path, i), f"{text!r} is not a date or a range",
                                            "write a range as 2026-10-01..2026-10-07 (two "
                                            "dots), or list each date"))
                continue
            marks[len(out)] = mark
            out.append(day)
            continue
        try:
            first, last = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
        except ValueError as exc:
            problems.append(src.problem((*path, i), f"{text!r}: {exc}", "fix the date"))
            continue
        span = (last - first).days + 1
        if not 1 <= span <= MAX_RANGE_DAYS:
            problems.append(src.problem((*path, i), f"range {text!r} covers {span} days",
                                        f"write the earlier date first; at most "
                                        f"{MAX_RANGE_DAYS} days"))
            continue
        for d in range(span):
            marks[len(out)] = mark
            out.append((first + dt.timedelta(days=d)).isoformat())
    # the expanded dates are located where their range was written
    for j in range(len(days)):
        src.marks.pop((*path, j), None)
    for j, mark in marks.items():
        src.marks[(*path, j)] = mark
    return out


def pydantic_problem(src: Source, err: Any, root: Any = SiteFile,
                     prefix: PathKey = ()) -> Problem:
    """One pydantic error as a located Problem; `root` is the type validated at `prefix`."""
    loc: PathKey = tuple(err["loc"])
    kind = err["type"]
    loc = prefix + loc
    is_key = bool(loc) and loc[-1] == "[key]"
    if is_key:
        loc = loc[:-1]
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        name = str(loc[-1])
        known = _field_names(loc[len(prefix):-1], root)
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else (
            "known keys here: " + ", ".join(known) if known else "remove it")
        return src.problem(loc, f"unknown key '{name}'", hint)
    if kind == "missing":
        return src.problem(loc[:-1] or loc, f"missing required key '{loc[-1]}'",
                           f"add '{loc[-1]}:' here")
    msg: str = err["msg"]
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
        what, _, hint = msg.partition(" — ")
        if is_key:
            what = f"key {what}"
        return src.problem(loc, what, hint)
    if kind == "literal_error":
        allowed = msg.removeprefix("Input should be ")
        return src.problem(loc, f"{err['input']!r} is not allowed", f"use {allowed}")
    got = type(err.get("input")).__name__
    names = {"dict": "a mapping", "list": "a list", "str": "text", "int": "a whole number",
             "bool": "true/false", "NoneType": "nothing", "float": "a number"}
    if kind.endswith("_type") or kind in ("dataclass_type", "model_type"):
        want = {"dict_type": "a mapping (key: value lines)", "list_type": "a list ('- ' items)",
                "string_type": "text", "int_type": "a whole number", "bool_type": "true or false",
                "dataclass_type": "a mapping (key: value lines)"}.get(kind, msg)
        return src.problem(loc, f"wrong type: expected {want}, got {names.get(got, got)}",
                           "change the value's type")
    if kind.startswith("int_") or kind.startswith("date_") or kind.startswith("bool_"):
        return src.problem(loc, f"{err.get('input')!r}: {msg.lower()}", "fix the value")
    return src.problem(loc, msg, "fix the value")


def _field_names(loc: PathKey, root: Any = SiteFile) -> list[str]:
    """The keys allowed at `loc`, found by walking the model's type hints."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if dataclasses.is_dataclass(tp):
            hints = typing.get_type_hints(tp)
            if part not in hints:
                return []
            tp = hints[part]
        elif typing.get_origin(tp) in (list, dict):
            tp = typing.get_args(tp)[-1]
        else:
            return []
    tp = _unwrap(tp)
    if dataclasses.is_dataclass(tp):
        return [f.name for f in dataclasses.fields(tp)]
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else tp
            if len(args) != 1:
                return tp
        else:
            return tp
