"""The CSV of `callcenter campaign import`: each row checked and turned into a job by the
API's rules (callcenter.outbound.requests), every bad row reported by file and line."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from callcenter.clock import Clock
from callcenter.errors import CallcenterError
from callcenter.outbound.jobs import NewJob
from callcenter.outbound.requests import (
    LeadRequest,
    ReminderRequest,
    RequestRefused,
    callee_number,
    lead_job,
    reminder_job,
)
from callcenter.store.contacts import _decode  # the contact import's UTF-8/GB18030 reading

__all__ = ["COLUMNS", "CampaignFileError", "read_jobs", "row_key"]

# per campaign kind: (required columns, optional columns)
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "reminder": (("number", "lesson_id", "lesson_start", "student", "course"), ("template",)),
    "lead": (("number", "name"), ("source", "interest", "lead_id")),
    "survey": (("number",), ("name",)),
}
CLIENT = ""  # jobs the site queued itself, not an API client's
SURVEY_DEADLINE = dt.timedelta(hours=24)
_EXAMPLE = {"reminder": "13812345678,L-1001,2025-12-03T19:30:00+08:00,王小明,英语课",
            "lead": "13812345678,李女士,官网,少儿英语", "survey": "13812345678,王先生"}


class CampaignFileError(CallcenterError):
    """The campaign file cannot be imported; the message names every bad row."""


def row_key(campaign: str, row: dict[str, str]) -> str:
    """The idempotency key of a row: the campaign and a hash of the row's content (column
    order, spacing and line endings aside), so importing a file twice queues it once."""
    content = json.dumps([campaign, sorted(row.items())], ensure_ascii=False)
    return "csv-" + hashlib.sha256(content.encode()).hexdigest()[:40]


def _fix(model: type[BaseModel], err: Any) -> tuple[str, str]:
    name = str(err["loc"][0]) if err["loc"] else "-"
    if err["type"] == "missing":
        return name, "empty — this column needs a value on every line"
    info = model.model_fields.get(name)
    hint = info.description if info is not None and info.description else ""
    return name, err["msg"][0].lower() + err["msg"][1:] + (f" — {hint}" if hint else "")


def _survey_job(spec: Any, campaign: str, row: dict[str, str], now: dt.datetime,
                key: str) -> NewJob:
    """A survey call due now (requests.py has no survey request: the CSV is its only
    source); the number by the API's rule, retries by the campaign's template."""
    number = callee_number(row["number"])
    name = row.get("name", "")
    if any(not c.isprintable() for c in name) or len(name) > 30:
        raise RequestRefused([("name", "at most 30 characters, no control characters")])
    camp = spec.outbound.campaigns[campaign]
    tpl = spec.outbound.templates.get(camp.template or "")
    return NewJob(kind="survey", campaign=campaign, number=number, not_before=now,
                  deadline=now + SURVEY_DEADLINE, client=CLIENT, idempotency_key=key,
                  template=camp.template, variables={"name": name} if name else {},
                  max_attempts=1 + (tpl.retries if tpl else 0),
                  retry_seconds=(tpl.retry_minutes if tpl else 3) * 60)


def _job(spec: Any, campaign: str, kind: str, row: dict[str, str], now: dt.datetime
         ) -> NewJob:
    key = row_key(campaign, row)
    given = {k: v for k, v in row.items() if v != ""}  # an empty optional cell: its default
    try:
        if kind == "reminder":
            return reminder_job(spec, ReminderRequest(**given, campaign=campaign), now=now,
                                client=CLIENT, idempotency_key=key)
        if kind == "lead":
            return lead_job(spec, LeadRequest(**given, campaign=campaign), now=now,
                            client=CLIENT, idempotency_key=key)
    except ValidationError as exc:
        model = ReminderRequest if kind == "reminder" else LeadRequest
        raise RequestRefused([_fix(model, e) for e in exc.errors()]) from None
    return _survey_job(spec, campaign, row, now, key)


def read_jobs(path: Path, campaign: str, camp: Any, spec: Any, clock: Clock
              ) -> list[tuple[int, NewJob]]:
    """(line, job) of every row of `path` for `campaign`; CampaignFileError naming every
    bad row (FILE:LINE: column: what is wrong — how to fix) if any row is bad."""
    try:
        text, _ = _decode(path)
    except OSError as exc:
        raise CampaignFileError(f"cannot read {path}: {exc.strerror}") from None
    required, optional = COLUMNS[camp.kind]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    extra = [c for c in header if c not in (*required, *optional)]
    if missing or extra:
        what = (f"no column {', '.join(missing)}" if missing else
                f"unknown column {', '.join(extra)}")
        raise CampaignFileError(
            f"{path}:1: {what} — a {camp.kind} campaign's file starts with the line "
            f"{','.join(required)}" + (f"[,{','.join(optional)}]" if optional else "")
            + f", then one call a line, e.g. {_EXAMPLE[camp.kind]}")
    reader.fieldnames = header
    now = clock.now()
    jobs: list[tuple[int, NewJob]] = []
    problems: list[str] = []
    lessons: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            problems.append(f"{path}:{line}: -: more cells than columns — a comma inside a "
                            "name needs quotes")
            continue
        cells = {k: (v or "").strip() for k, v in row.items()}
        try:
            job = _job(spec, campaign, camp.kind, cells, now)
        except RequestRefused as exc:
            problems += [f"{path}:{line}: {f}: {m}" for f, m in exc.errors]
            continue
        if job.external_id and camp.kind == "reminder":
            if job.external_id in lessons:
                problems.append(f"{path}:{line}: lesson_id: {job.external_id!r} is already on "
                                f"line {lessons[job.external_id]} — one reminder a lesson")
                continue
            lessons[job.external_id] = line
        jobs.append((line, job))
    if problems:
        n = len(problems)
        raise CampaignFileError("\n".join(problems) + f"\n{n} problem{'s' if n != 1 else ''}"
                                f" in {path}; nothing was imported — fix the rows and import "
                                "the file again")
    if not jobs:
        raise CampaignFileError(f"{path}: no rows after the header — nothing to import")
    return jobs
