"""Storing a submitted job once per idempotency key, and finding a client's own jobs."""

from __future__ import annotations

import uuid
from typing import Annotated

import psycopg
from fastapi import Header, Response
from psycopg.rows import class_row

from callcenter.api.auth import Client
from callcenter.api.problems import ApiProblem
from callcenter.api.state import ApiState
from callcenter.outbound._jobs_types import JOB_COLUMNS
from callcenter.outbound.jobs import Job, JobConflict, NewJob, StoreUnavailable

__all__ = ["IdempotencyKey", "owned_job", "store_once"]

IdempotencyKey = Annotated[str, Header(
    alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
    description="Required: the same key with the same body returns the stored job; with "
                "another body it is refused (409).")]
# what makes a resent request the same one: a lead's due time and deadline follow the
# clock, so they differ at each try (a reminder's follow the lesson, in its variables)
_SAME = ("kind", "campaign", "number", "external_id", "template", "variables",
         "max_attempts", "retry_seconds")


async def store_once(state: ApiState, new: NewJob, response: Response, prefix: str) -> Job:
    """Store `new` (201) or find it stored under its key before (200), with Location."""
    try:
        job, created = await state.store.submit(new)
    except JobConflict:
        job, created = await _resent(state.store.dsn, new), False
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"{prefix}/{job.id}"
    return job


async def _resent(dsn: str, new: NewJob) -> Job:
    """The job stored under this client and key if it asked for the same call, else the
    conflict again."""
    try:
        async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=5) as conn:
            cur = conn.cursor(row_factory=class_row(Job))
            await cur.execute(f"SELECT {JOB_COLUMNS} FROM outbound_jobs "
                              "WHERE client = %s AND idempotency_key = %s",
                              (new.client, new.idempotency_key))
            old = await cur.fetchone()
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"the database cannot be reached ({exc})") from exc
    if old is None or not all(getattr(new, f) == getattr(old, f) for f in _SAME):
        raise JobConflict(f"idempotency key {new.idempotency_key!r} was used for another "
                          f"request (job {old.id if old else '?'})")
    return old


async def owned_job(state: ApiState, client: Client, job_id: uuid.UUID, kind: str) -> Job:
    """The job if it is this client's and of this kind, else 404 (others' jobs are not
    revealed)."""
    job = await state.store.get(job_id)
    if job is None or job.kind != kind or job.client != client.name:
        raise ApiProblem(404, "not-found", f"No such {kind}",
                         f"no {kind} {job_id} was submitted by client '{client.name}'")
    return job
