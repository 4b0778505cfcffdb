"""The one place a request for an automatic call becomes a NewJob: the HTTP API's reminders
and leads, and `callcenter campaign import`, go through these rules (docs/api.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from callcenter.dialling.classes import classify
from callcenter.errors import CallcenterError
from callcenter.outbound.jobs import Job, NewJob
from callcenter.site.model import SiteFile
from callcenter.site.outbound import Campaign, VoiceTemplate

__all__ = [
    "DIALABLE",
    "LEAD_DEADLINE",
    "MAX_BULK",
    "BulkReminder",
    "BulkReminders",
    "LeadRequest",
    "ReminderChange",
    "ReminderRequest",
    "RequestRefused",
    "callee_number",
    "lead_job",
    "moved_reminder",
    "reminder_job",
    "reminder_times",
]

# number classes an automatic call may reach (a bare local number has no city to call in)
DIALABLE = frozenset({"mobile", "national"})
LEAD_DEADLINE = dt.timedelta(hours=24)
_T = TypeVar("_T")
MAX_BULK = 5000  # reminders in one bulk request: a big school's day


class RequestRefused(CallcenterError):
    """A request the rules refuse; `errors` are (field, what to fix) pairs."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = list(errors)
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.errors))


def _printable(value: str) -> str:
    # control and format characters would reach logs, screens and the speech engine
    if any(not c.isprintable() for c in value):
        raise ValueError("contains control characters")
    return value


Text = Annotated[str, AfterValidator(_printable)]
_FORBID = ConfigDict(extra="forbid", str_strip_whitespace=True)
_NUMBER = Field(min_length=3, max_length=24, pattern=r"^\+?[0-9]+$",
                description="The callee: a mobile or a landline with its area code "
                            "(+86 allowed), e.g. 13812345678 or 01062345678.")
_KEY = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")


class ReminderRequest(BaseModel):
    """One booked lesson to remind the callee of."""

    model_config = _FORBID
    number: str = _NUMBER
    lesson_id: Text = Field(min_length=1, max_length=100,
                            description="The booking system's id of the lesson.")
    lesson_start: AwareDatetime = Field(description="When the lesson starts, ISO 8601 with "
                                        "its offset, e.g. 2025-12-03T19:30:00+08:00.")
    student: Text = Field(min_length=1, max_length=30)
    course: Text = Field(min_length=1, max_length=40)
    template: str | None = Field(default=None, min_length=1, max_length=100,
                                 description="A voice template of the site file; default: "
                                             "the campaign's.")
    campaign: str | None = Field(default=None, min_length=1, max_length=100,
                                 description="A reminder campaign; default: the first one.")


class BulkReminder(ReminderRequest):
    idempotency_key: str = Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")


class BulkReminders(BaseModel):
    """A day's lessons, stored in one transaction: all of them or none."""

    model_config = _FORBID
    reminders: list[BulkReminder] = Field(min_length=1, max_length=MAX_BULK)


class ReminderChange(BaseModel):
    """The lesson moved or its names changed: only the fields given change."""

    model_config = _FORBID
    lesson_start: AwareDatetime | None = None
    student: Text | None = Field(default=None, min_length=1, max_length=30)
    course: Text | None = Field(default=None, min_length=1, max_length=40)


class LeadRequest(BaseModel):
    """A new sign-up for the sales queue to call back."""

    model_config = _FORBID
    number: str = _NUMBER
    name: Text = Field(min_length=1, max_length=30)
    source: Text = Field(default="", max_length=60, description="Where the lead came from.")
    interest: Text = Field(default="", max_length=60, description="What it asked about.")
    lead_id: Text | None = Field(default=None, min_length=1, max_length=100,
                                 description="The CRM's id of the lead.")
    campaign: str | None = Field(default=None, min_length=1, max_length=100,
                                 description="A lead campaign; default: the first one.")


def callee_number(raw: str, field: str = "number") -> str:
    """The national digits of a number an automatic call may reach, or RequestRefused."""
    cls, digits = classify(raw)
    if cls in DIALABLE:
        return digits
    why = {"local": "has no area code — write it with one, e.g. 01062345678",
           "invalid": "is not a phone number — write a mobile (13812345678) or a landline "
                      "with its area code (01062345678)"}.get(
        cls, f"is a {cls} number, which automatic calls never dial — give a mobile or a "
             "landline")
    raise RequestRefused([(field, f"{raw!r} {why}")])


def _campaign(spec: SiteFile, kind: str, name: str | None) -> tuple[str, Campaign]:
    campaigns = spec.outbound.campaigns
    if name is None:
        for key, camp in campaigns.items():
            if camp.kind == kind:
                return key, camp
        raise RequestRefused([("campaign", f"the site has no {kind} campaign — add one "
                                           "under outbound.campaigns in the site file")])
    camp = campaigns.get(name)
    if camp is None or camp.kind != kind:
        known = ", ".join(k for k, c in campaigns.items() if c.kind == kind) or "none"
        raise RequestRefused([("campaign", f"{name!r} is not a {kind} campaign of the site "
                                           f"(known: {known})")])
    return name, camp


def _template(spec: SiteFile, campaign: Campaign, name: str | None) -> tuple[str, VoiceTemplate]:
    templates = spec.outbound.templates
    key = name or campaign.template
    if key is None:
        raise RequestRefused([("template", "the campaign names no template — give one")])
    if key not in templates:
        raise RequestRefused([("template", f"{key!r} is not a voice template of the site "
                                           f"(known: {', '.join(templates) or 'none'})")])
    return key, templates[key]


def reminder_times(template: VoiceTemplate, start: dt.datetime, now: dt.datetime,
                   field: str = "lesson_start") -> tuple[dt.datetime, dt.datetime]:
    """(not_before, deadline): the template's lead time before the start, never at or after
    the start; a call due already is placed at once (not_before in the past)."""
    if start <= now:
        raise RequestRefused([(field, f"the lesson started at {start.isoformat()}, before "
                                      f"now ({now.astimezone(start.tzinfo).isoformat()}) — "
                                      "a reminder can only be placed before it starts")])
    # at least a minute ahead: a call at the start itself is too late
    return start - dt.timedelta(minutes=max(1, template.lead_minutes)), start


def _lesson_variables(spec: SiteFile, start: dt.datetime, student: str, course: str
                      ) -> dict[str, str]:
    # the speech helper speaks start_time/start_date relative to the moment of the call; the
    # date is the company's (…T23:30Z is 07:30 the next day in Beijing)
    day = start.astimezone(ZoneInfo(spec.company.timezone)).date()
    return {"student": student, "course": course, "start_time": start.isoformat(),
            "start_date": day.isoformat()}


def _checked(spec: SiteFile, kind: str, number: str, campaign: str | None,
             more: Callable[[Campaign], _T]) -> tuple[str, str, _T]:
    """(callee digits, campaign name, more(campaign)), or every refusal at once."""
    errors: list[tuple[str, str]] = []
    digits = name = None
    try:
        digits = callee_number(number)
    except RequestRefused as exc:
        errors += exc.errors
    try:
        name, camp = _campaign(spec, kind, campaign)
        extra = more(camp)
    except RequestRefused as exc:
        errors += exc.errors
    if errors or digits is None or name is None:
        raise RequestRefused(errors)
    return digits, name, extra


def reminder_job(spec: SiteFile, req: ReminderRequest, *, now: dt.datetime, client: str = "",
                 idempotency_key: str | None = None) -> NewJob:
    """The job for one lesson's reminder; every refused field at once in RequestRefused."""

    def timed(camp: Campaign) -> tuple[str, VoiceTemplate, tuple[dt.datetime, dt.datetime]]:
        key, tpl = _template(spec, camp, req.template)
        return key, tpl, reminder_times(tpl, req.lesson_start, now)

    number, campaign, (template, tpl, (not_before, deadline)) = _checked(
        spec, "reminder", req.number, req.campaign, timed)
    return NewJob(kind="reminder", campaign=campaign, number=number, not_before=not_before,
                  deadline=deadline, client=client, idempotency_key=idempotency_key,
                  external_id=req.lesson_id, template=template,
                  variables=_lesson_variables(spec, req.lesson_start, req.student, req.course),
                  max_attempts=1 + tpl.retries, retry_seconds=tpl.retry_minutes * 60)


def moved_reminder(spec: SiteFile, job: Job, change: ReminderChange, *, now: dt.datetime
                   ) -> tuple[dt.datetime, dt.datetime, dict[str, str]]:
    """(not_before, deadline, variables) of a pending reminder whose lesson moved."""
    variables = dict(job.variables)
    start = (change.lesson_start if change.lesson_start is not None
             else dt.datetime.fromisoformat(variables["start_time"]))
    tpl = spec.outbound.templates.get(job.template or "")
    if tpl is None:
        raise RequestRefused([("template", f"the reminder's template {job.template!r} is no "
                                           "longer in the site file — cancel the reminder "
                                           "and submit a new one")])
    not_before, deadline = reminder_times(tpl, start, now)
    variables.update(_lesson_variables(spec, start,
                                       change.student or variables.get("student", ""),
                                       change.course or variables.get("course", "")))
    return not_before, deadline, variables


def lead_job(spec: SiteFile, req: LeadRequest, *, now: dt.datetime, client: str = "",
             idempotency_key: str | None = None) -> NewJob:
    """A lead due now; its deadline is a day away (the campaign's target_minutes is the
    speed-to-lead goal the reports measure, not a reason to give up)."""
    number, campaign, camp = _checked(spec, "lead", req.number, req.campaign,
                                      lambda camp: camp)
    tpl = spec.outbound.templates.get(camp.template or "")
    return NewJob(kind="lead", campaign=campaign, number=number, not_before=now,
                  deadline=now + LEAD_DEADLINE, client=client, idempotency_key=idempotency_key,
                  external_id=req.lead_id, template=camp.template,
                  variables={"name": req.name, "source": req.source, "interest": req.interest},
                  max_attempts=1 + (tpl.retries if tpl else 2),
                  retry_seconds=(tpl.retry_minutes if tpl else 3) * 60)
