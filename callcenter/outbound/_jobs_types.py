"""The job store's errors, results and rows (callcenter.outbound.jobs re-exports them)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field, fields
from typing import Any

from callcenter.errors import CallcenterError

__all__ = ["ATTEMPT_COLUMNS", "JOB_COLUMNS", "KINDS", "RESULTS", "RETRYABLE", "Attempt",
           "Job", "JobConflict", "JobError", "NewJob", "StoreUnavailable", "check_new_job",
           "same_request"]

KINDS = ("reminder", "lead", "survey", "callback")
RESULTS = ("confirmed", "no_input", "person", "opted_out", "no_answer", "busy", "rejected",
           "failed", "refused", "hangup", "machine", "unknown",
           # leads: answered and put through to an agent / hung up before one was free
           "connected", "abandoned")
RETRYABLE = frozenset({"no_answer", "busy", "rejected", "failed", "unknown"})


class JobError(CallcenterError):
    """An unknown job or attempt, or a change the job's state does not allow."""


class JobConflict(JobError):
    """The idempotency key was used before for a different request."""


class StoreUnavailable(CallcenterError):
    """The database cannot be reached: nothing was stored (the API answers 503)."""


@dataclass(frozen=True)
class NewJob:
    """A job to place; `number` is digits, already checked by the caller."""

    kind: str
    campaign: str
    number: str
    not_before: dt.datetime
    deadline: dt.datetime  # never called at or after this
    client: str = ""
    idempotency_key: str | None = None
    external_id: str | None = None
    template: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    max_attempts: int = 1
    retry_seconds: int = 180


@dataclass(frozen=True)
class Job:
    """One row of outbound_jobs."""

    id: uuid.UUID
    kind: str
    campaign: str
    client: str
    idempotency_key: str | None
    external_id: str | None
    number: str
    template: str | None
    variables: dict[str, str]
    not_before: dt.datetime
    deadline: dt.datetime
    state: str  # pending | dialling | done | cancelled | expired | refused
    result: str | None
    attempts: int
    max_attempts: int
    retry_seconds: int
    next_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    reason: str | None  # why refused, cancelled, expired or last deferred


@dataclass(frozen=True)
class Attempt:
    """One row of outbound_attempts (`id` is the Originate's channel id)."""

    id: uuid.UUID
    job_id: uuid.UUID
    number: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    trunk: str | None
    caller_id: str | None
    caller_id_kind: str | None
    state: str  # dialling | ended | unknown
    result: str | None
    dial_status: str | None
    amd: str | None
    lateness_ms: int | None
    data: dict[str, Any]


JOB_COLUMNS = ", ".join(f.name for f in fields(Job))
ATTEMPT_COLUMNS = ", ".join(f.name for f in fields(Attempt))

# what makes two submissions with one idempotency key the same request
_CONTENT = ("kind", "campaign", "number", "not_before", "deadline", "external_id",
            "template", "variables", "max_attempts", "retry_seconds")


def check_new_job(job: NewJob) -> None:
    """Refuse a job no dialler could place, naming what to fix."""
    if job.kind not in KINDS:
        raise JobError(f"job kind {job.kind!r} is not one of {', '.join(KINDS)}")
    if not job.number.isdigit():
        raise JobError(f"job number {job.number!r} is not digits")
    if job.not_before.tzinfo is None or job.deadline.tzinfo is None:
        raise JobError("a job's earliest time and deadline need a time zone "
                       f"(got {job.not_before} and {job.deadline})")
    if job.deadline <= job.not_before:
        raise JobError(f"job deadline {job.deadline.isoformat()} is not after its earliest "
                       f"time {job.not_before.isoformat()}")
    if job.max_attempts < 1 or job.retry_seconds < 0:
        raise JobError("a job needs max_attempts >= 1 and retry_seconds >= 0 "
                       f"(got {job.max_attempts} and {job.retry_seconds})")


def same_request(new: NewJob, old: Job) -> bool:
    """True when `new` asks for what the stored job `old` was submitted with."""
    return all(getattr(new, name) == getattr(old, name) for name in _CONTENT)
