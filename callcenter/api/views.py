"""What the API answers about a job (the same shape for reminders and leads)."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field

from callcenter.outbound.jobs import Job

__all__ = ["STORED_BEFORE", "BulkItem", "BulkResult", "JobList", "JobView"]


class JobView(BaseModel):
    id: uuid.UUID
    kind: str
    campaign: str
    state: str = Field(description="pending, dialling, done, cancelled, expired or refused")
    call_at: dt.datetime = Field(description="When the next call is placed (or was due).")
    deadline: dt.datetime = Field(description="Never called at or after this.")
    attempts: int
    max_attempts: int
    result: str | None = Field(description="The outcome once done: confirmed, no_input, "
                               "person, opted_out, no_answer, busy, rejected, failed, "
                               "refused, hangup, machine or unknown.")
    reason: str | None = Field(description="Why it was refused, cancelled or expired.")
    external_id: str | None = Field(description="The lesson id or the lead id.")
    lesson_start: dt.datetime | None = None
    target_at: dt.datetime | None = Field(
        default=None, description="Leads: the speed-to-lead target (created + the "
                                  "campaign's target_minutes).")
    created_at: dt.datetime

    @classmethod
    def of(cls, job: Job, *, target_minutes: int | None = None) -> JobView:
        start = job.variables.get("start_time") if job.kind == "reminder" else None
        target = (job.created_at + dt.timedelta(minutes=target_minutes)
                  if target_minutes is not None else None)
        return cls(id=job.id, kind=job.kind, campaign=job.campaign, state=job.state,
                   call_at=job.next_at, deadline=job.deadline, attempts=job.attempts,
                   max_attempts=job.max_attempts, result=job.result, reason=job.reason,
                   external_id=job.external_id,
                   lesson_start=dt.datetime.fromisoformat(start) if start else None,
                   target_at=target, created_at=job.created_at)


class JobList(BaseModel):
    items: list[JobView]


class BulkItem(BaseModel):
    index: int
    idempotency_key: str
    created: bool = Field(description="False: this key was stored before, with the same "
                          "request.")
    job: JobView


class BulkResult(BaseModel):
    created: int
    existing: int
    items: list[BulkItem]


# the OpenAPI answer of a resent submission
STORED_BEFORE: dict[int | str, dict[str, object]] = {
    200: {"model": JobView, "description": "Stored before under this Idempotency-Key"}}
