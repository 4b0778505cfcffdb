"""The request -> NewJob rules (callcenter.outbound.requests) with an injected clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from importlib import resources
from pathlib import Path

import pytest
from pydantic import ValidationError

from callcenter.clock import FixedClock
from callcenter.outbound.jobs import Job, NewJob
from callcenter.outbound.requests import (
    LeadRequest,
    ReminderChange,
    ReminderRequest,
    RequestRefused,
    callee_number,
    lead_job,
    moved_reminder,
    reminder_job,
)
from callcenter.site import load_site_file
from callcenter.site.model import SiteFile

CST = dt.timezone(dt.timedelta(hours=8))
NOW = FixedClock(dt.datetime(2025, 12, 3, 10, 0, tzinfo=CST)).now()


@pytest.fixture(scope="module")
def spec() -> SiteFile:
    with resources.as_file(resources.files("callcenter") / "example" / "site.yaml") as p:
        return load_site_file(Path(p))


def _lesson(**over: object) -> ReminderRequest:
    body = {"number": "13812345678", "lesson_id": "L-1", "student": "王小明",
            "course": "英语课", "lesson_start": "2025-12-03T19:30:00+08:00", **over}
    return ReminderRequest.model_validate(body)


def test_call_is_placed_the_templates_lead_time_before_the_start(spec: SiteFile) -> None:
    job = reminder_job(spec, _lesson(), now=NOW, client="booking", idempotency_key="k1")
    start = dt.datetime(2025, 12, 3, 19, 30, tzinfo=CST)
    assert job.not_before == start - dt.timedelta(minutes=20)
    assert job.deadline == start
    assert (job.kind, job.campaign, job.template) == ("reminder", "reminders", "lesson")
    assert (job.number, job.external_id, job.client) == ("13812345678", "L-1", "booking")
    assert job.variables == {"student": "王小明", "course": "英语课",
                             "start_time": "2025-12-03T19:30:00+08:00",
                             "start_date": "2025-12-03"}


def test_the_lessons_date_is_the_companys_whatever_offset_the_client_sends(
        spec: SiteFile) -> None:
    # 23:30 UTC on the 3rd is 07:30 on the 4th in Beijing: the callee hears "tomorrow"
    job = reminder_job(spec, _lesson(lesson_start="2025-12-03T23:30:00+00:00"), now=NOW,
                       client="booking", idempotency_key="k-utc")
    assert job.variables["start_date"] == "2025-12-04"


def test_retries_come_from_the_template(spec: SiteFile) -> None:
    job = reminder_job(spec, _lesson(), now=NOW)
    assert (job.max_attempts, job.retry_seconds) == (3, 180)
    quiet = dataclasses.replace(spec.outbound.templates["lesson"], retries=0,
                                retry_minutes=7, lead_minutes=45)
    other = dataclasses.replace(spec.outbound, templates={**spec.outbound.templates,
                                                          "quiet": quiet})
    job = reminder_job(dataclasses.replace(spec, outbound=other),
                       _lesson(template="quiet"), now=NOW)
    assert (job.max_attempts, job.retry_seconds, job.template) == (1, 420, "quiet")
    assert job.deadline - job.not_before == dt.timedelta(minutes=45)


def test_a_lesson_booked_inside_the_lead_time_is_due_at_once(spec: SiteFile) -> None:
    near = _lesson(lesson_start="2025-12-03T10:05:00+08:00")
    job = reminder_job(spec, near, now=NOW)
    assert job.not_before < NOW < job.deadline
    # the same request a minute later is the same job content (idempotent resend)
    later = reminder_job(spec, near, now=NOW + dt.timedelta(minutes=1))
    assert later == job


@pytest.mark.parametrize("start", ["2025-12-03T10:00:00+08:00", "2025-12-03T02:00:00Z",
                                   "2025-12-02T19:30:00+08:00"])
def test_a_started_lesson_is_refused(spec: SiteFile, start: str) -> None:
    with pytest.raises(RequestRefused) as err:
        reminder_job(spec, _lesson(lesson_start=start), now=NOW)
    assert err.value.errors[0][0] == "lesson_start"
    assert "before it starts" in err.value.errors[0][1]


def test_a_naive_start_is_refused_by_the_model() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        _lesson(lesson_start="2025-12-03T19:30:00")


@pytest.mark.parametrize(("number", "digits"), [("+8613812345678", "13812345678"),
                                                ("01062345678", "01062345678"),
                                                ("+862862345678", "02862345678")])
def test_mobiles_and_landlines_are_dialable(number: str, digits: str) -> None:
    assert callee_number(number) == digits


@pytest.mark.parametrize(("number", "why"), [
    ("110", "emergency"), ("62345678", "area code"), ("16812345", "premium"),
    ("+14155550100", "international"), ("4008001234", "freephone"), ("123", "not a phone")])
def test_other_numbers_are_refused(number: str, why: str) -> None:
    with pytest.raises(RequestRefused, match=why):
        callee_number(number)


def test_every_refused_field_is_named_at_once(spec: SiteFile) -> None:
    with pytest.raises(RequestRefused) as err:
        reminder_job(spec, _lesson(number="110", template="nope"), now=NOW)
    assert [f for f, _ in err.value.errors] == ["number", "template"]
    with pytest.raises(RequestRefused, match=r"not a reminder campaign.*reminders"):
        reminder_job(spec, _lesson(campaign="signups"), now=NOW)


def test_moved_lesson_moves_the_call_and_keeps_other_names(spec: SiteFile) -> None:
    job = reminder_job(spec, _lesson(), now=NOW)
    stored = _as_job(job)
    change = ReminderChange.model_validate({"lesson_start": "2025-12-04T09:00:00+08:00",
                                            "course": "数学课"})
    not_before, deadline, variables = moved_reminder(spec, stored, change, now=NOW)
    assert deadline == dt.datetime(2025, 12, 4, 9, 0, tzinfo=CST)
    assert not_before == deadline - dt.timedelta(minutes=20)
    assert variables["student"] == "王小明" and variables["course"] == "数学课"
    assert variables["start_date"] == "2025-12-04"
    with pytest.raises(RequestRefused, match="before it starts"):
        moved_reminder(spec, stored, ReminderChange(), now=dt.datetime(
            2025, 12, 3, 19, 31, tzinfo=CST))


def test_lead_is_due_now_with_a_day_to_reach_it(spec: SiteFile) -> None:
    req = LeadRequest.model_validate({"number": "13912345678", "name": "李女士",
                                      "source": "抖音", "interest": "少儿英语"})
    job = lead_job(spec, req, now=NOW, client="crm", idempotency_key="x")
    assert (job.kind, job.campaign, job.not_before) == ("lead", "signups", NOW)
    assert job.deadline == NOW + dt.timedelta(hours=24)
    assert job.variables["name"] == "李女士"


def test_control_characters_are_refused() -> None:
    with pytest.raises(ValidationError, match="control"):
        _lesson(student="王\x1b[2J")
    with pytest.raises(ValidationError):
        _lesson(extra_field="x")


def _as_job(new: NewJob) -> Job:
    """The row the store would hold for `new`."""
    return Job(id=uuid.uuid4(), kind=new.kind, campaign=new.campaign,
               client=new.client, idempotency_key=new.idempotency_key,
               external_id=new.external_id, number=new.number, template=new.template,
               variables=dict(new.variables), not_before=new.not_before,
               deadline=new.deadline, state="pending", result=None, attempts=0,
               max_attempts=new.max_attempts, retry_seconds=new.retry_seconds,
               next_at=new.not_before, created_at=NOW, updated_at=NOW, reason=None)
