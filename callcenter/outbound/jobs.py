"""The outbound job store in PostgreSQL (schema 5): jobs, attempts, do-not-call, consent,
paused campaigns and caller-ID usage, so a restart of the daemon loses and repeats nothing.

One `AsyncConnectionPool` rather than one connection behind a lock: the API, the dialler
and the CLI's reads run at once in the daemon's loop, and the pool replaces a connection
that broke in a database restart. Every psycopg.OperationalError and pool timeout surfaces
as StoreUnavailable, so the API answers 503 rather than acknowledging and forgetting.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from callcenter.cluster.fencing import hold_term
from callcenter.outbound._jobs_base import Conn
from callcenter.outbound._jobs_lists import StoreLists
from callcenter.outbound._jobs_types import (
    ATTEMPT_COLUMNS,
    JOB_COLUMNS,
    KINDS,
    RESULTS,
    RETRYABLE,
    Attempt,
    Job,
    JobConflict,
    JobError,
    NewJob,
    StoreUnavailable,
    check_new_job,
    same_request,
)

__all__ = ["KINDS", "RESULTS", "RETRYABLE", "Attempt", "Job", "JobConflict", "JobError",
           "JobStore", "NewJob", "StoreUnavailable"]

_INSERT = f"""
INSERT INTO outbound_jobs (id, kind, campaign, client, idempotency_key, external_id, number,
    template, variables, not_before, deadline, max_attempts, retry_seconds, next_at,
    created_at, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (client, idempotency_key) DO NOTHING
RETURNING {JOB_COLUMNS}"""


class JobStore(StoreLists):
    """Async access to the outbound tables; `async with JobStore(dsn) as store: ...`.

    JobStore(dsn, *, clock=SYSTEM, timeout=5.0, max_size=4, term=None): `timeout` is how
    long a call waits for a connection before StoreUnavailable; `term`, the leader's term
    with several daemons (attempts are fenced by it)."""

    # -- submission -----------------------------------------------------------------------

    async def _submit(self, conn: Conn, new: NewJob
                      ) -> tuple[Job, bool]:
        check_new_job(new)
        now = self.clock.now()
        job = await self._fetch_job(conn, _INSERT, (
            uuid.uuid4(), new.kind, new.campaign, new.client, new.idempotency_key,
            new.external_id, new.number, new.template, Jsonb(dict(new.variables)),
            new.not_before, new.deadline, new.max_attempts, new.retry_seconds,
            new.not_before, now, now))
        if job is not None:
            return job, True
        old = await self._fetch_job(
            conn, f"SELECT {JOB_COLUMNS} FROM outbound_jobs "
                  "WHERE client = %s AND idempotency_key = %s", (new.client,
                                                                 new.idempotency_key))
        assert old is not None  # the conflict that stopped the insert
        if not same_request(new, old):
            raise JobConflict(f"idempotency key {new.idempotency_key!r} was used for "
                              f"another request (job {old.id}); send a new key for a new "
                              "request")
        return old, False

    async def submit(self, job: NewJob) -> tuple[Job, bool]:
        """Store a job; the same (client, idempotency key) and content gives the existing
        job with created False, the same key with other content raises JobConflict."""
        async with self._conn() as conn:
            return await self._submit(conn, job)

    async def submit_many(self, jobs: list[NewJob]) -> list[tuple[Job, bool]]:
        """Submit every job in one transaction: all are stored or none."""
        async with self._conn() as conn:
            return [await self._submit(conn, job) for job in jobs]

    # -- reading --------------------------------------------------------------------------

    async def get(self, job_id: uuid.UUID) -> Job | None:
        async with self._conn() as conn:
            return await self._fetch_job(
                conn, f"SELECT {JOB_COLUMNS} FROM outbound_jobs WHERE id = %s", (job_id,))

    async def by_external(self, kind: str, external_id: str, client: str | None = None
                          ) -> Job | None:
        """The latest job of this kind for an external id (a lesson, a lead)."""
        async with self._conn() as conn:
            return await self._fetch_job(
                conn, f"SELECT {JOB_COLUMNS} FROM outbound_jobs WHERE kind = %s "
                      "AND external_id = %s AND (%s::text IS NULL OR client = %s) "
                      "ORDER BY created_at DESC, id LIMIT 1",
                (kind, external_id, client, client))

    async def jobs(self, *, campaign: str | None = None, state: str | None = None,
                   since: dt.datetime | None = None, limit: int = 100) -> list[Job]:
        """Jobs newest first, filtered by campaign, state and creation time."""
        async with self._conn() as conn:
            return await self._fetch_jobs(
                conn, f"SELECT {JOB_COLUMNS} FROM outbound_jobs "
                      "WHERE (%s::text IS NULL OR campaign = %s) "
                      "AND (%s::text IS NULL OR state = %s) "
                      "AND (%s::timestamptz IS NULL OR created_at >= %s) "
                      "ORDER BY created_at DESC, id LIMIT %s",
                (campaign, campaign, state, state, since, since, limit))

    async def attempts(self, job_id: uuid.UUID) -> list[Attempt]:
        return await self._attempts("job_id = %s", (job_id,))

    async def in_flight(self) -> list[Attempt]:
        """Attempts whose Originate may still be ringing (state dialling)."""
        return await self._attempts("state = 'dialling'", ())

    async def _attempts(self, where: str, params: tuple[Any, ...]) -> list[Attempt]:
        async with self._conn() as conn:
            cur = conn.cursor(row_factory=class_row(Attempt))
            await cur.execute(f"SELECT {ATTEMPT_COLUMNS} FROM outbound_attempts "
                              f"WHERE {where} ORDER BY started_at, id", params)
            return await cur.fetchall()

    async def _pending(self, conn: Conn, job_id: uuid.UUID,
                       change: str) -> Job:
        job = await self._locked(conn, job_id)
        if job.state != "pending":
            raise JobError(f"job {job_id} is {job.state}; only a pending job can be "
                           f"{change}")
        return job

    async def reschedule(self, job_id: uuid.UUID, *, not_before: dt.datetime,
                         deadline: dt.datetime, variables: dict[str, str] | None = None
                         ) -> Job:
        """Move a pending job (a lesson moved); `variables` given are merged into its own."""
        async with self._conn() as conn:
            job = await self._pending(conn, job_id, "rescheduled")
            check_new_job(NewJob(job.kind, job.campaign, job.number, not_before, deadline,
                                 max_attempts=job.max_attempts,
                                 retry_seconds=job.retry_seconds))
            merged = {**job.variables, **(variables or {})}
            return await self._set(conn, job_id, self.clock.now(), not_before=not_before,
                                   deadline=deadline, next_at=not_before,
                                   variables=Jsonb(merged), reason=None)

    async def cancel(self, job_id: uuid.UUID, reason: str = "cancelled") -> Job:
        """Cancel a pending job (a lesson cancelled)."""
        async with self._conn() as conn:
            await self._pending(conn, job_id, "cancelled")
            return await self._set(conn, job_id, self.clock.now(), state="cancelled",
                                   reason=reason)

    # -- the dialler ----------------------------------------------------------------------

    async def due(self, now: dt.datetime, limit: int, campaign: str | None = None
                  ) -> list[Job]:
        """Pending jobs to place now (of `campaign` only, if given), oldest next_at first,
        skipping paused campaigns; pending jobs whose deadline has come are first marked
        expired."""
        async with self._conn() as conn:
            await conn.execute(
                "UPDATE outbound_jobs SET state = 'expired', reason = 'deadline passed', "
                "updated_at = %s WHERE state = 'pending' AND deadline <= %s", (now, now))
            return await self._fetch_jobs(
                conn, f"SELECT {JOB_COLUMNS} FROM outbound_jobs WHERE state = 'pending' "
                      "AND next_at <= %s AND (%s::text IS NULL OR campaign = %s) "
                      "AND campaign NOT IN (SELECT name FROM campaign_state WHERE paused) "
                      "ORDER BY next_at, id LIMIT %s", (now, campaign, campaign, limit))

    async def start_attempt(self, job_id: uuid.UUID, attempt_id: uuid.UUID, *,
                            now: dt.datetime, trunk: str, caller_id: str,
                            caller_id_kind: str, lateness_ms: int) -> Job | None:
        """Record an attempt before its Originate is sent (one committed transaction);
        None when the job is no longer pending or its deadline has come; FencedError (nothing
        written) when this daemon no longer leads."""
        async with self._conn() as conn:
            if self.term is not None:
                await hold_term(conn, self.term())
            job = await self._locked(conn, job_id)
            if job.state != "pending":
                return None
            if job.deadline <= now:
                await self._set(conn, job_id, now, state="expired",
                                reason="deadline passed")
                return None
            job = await self._set(conn, job_id, now, state="dialling",
                                  attempts=job.attempts + 1)
            await conn.execute(
                "INSERT INTO outbound_attempts (id, job_id, number, started_at, trunk, "
                "caller_id, caller_id_kind, lateness_ms) VALUES (%s, %s, %s, %s, %s, %s, "
                "%s, %s)", (attempt_id, job_id, job.number, now, trunk, caller_id,
                            caller_id_kind, lateness_ms))
            if caller_id:
                await conn.execute(
                    "INSERT INTO caller_id_usage (day, number, uses) VALUES (%s, %s, 1) "
                    "ON CONFLICT (day, number) DO UPDATE "
                    "SET uses = caller_id_usage.uses + 1", (now.date(), caller_id))
            return job

    async def end_attempt(self, attempt_id: uuid.UUID, result: str, *, now: dt.datetime,
                          dial_status: str = "", amd: str = "", data: dict | None = None
                          ) -> Job:
        """Record how an attempt ended; the job is pending again for a retryable result
        while attempts and time (before the deadline) remain, else done with `result`.
        An attempt already ended leaves everything unchanged."""
        if result not in RESULTS:
            raise JobError(f"attempt result {result!r} is not one of {', '.join(RESULTS)}")
        async with self._conn() as conn:
            cur = await conn.execute(
                "SELECT job_id, state FROM outbound_attempts WHERE id = %s FOR UPDATE",
                (attempt_id,))
            row = await cur.fetchone()
            if row is None:
                raise JobError(f"no outbound attempt {attempt_id}")
            job_id, state = row
            job = await self._locked(conn, job_id)
            if state != "dialling":
                return job
            await conn.execute(
                "UPDATE outbound_attempts SET state = %s, ended_at = %s, result = %s, "
                "dial_status = %s, amd = %s, data = %s WHERE id = %s",
                ("unknown" if result == "unknown" else "ended", now, result, dial_status,
                 amd, Jsonb(data or {}), attempt_id))
            if job.state != "dialling":
                return job
            retry_at = now + dt.timedelta(seconds=job.retry_seconds)
            if (result in RETRYABLE and job.attempts < job.max_attempts
                    and retry_at < job.deadline):
                return await self._set(conn, job_id, now, state="pending", result=result,
                                       next_at=retry_at)
            return await self._set(conn, job_id, now, state="done", result=result)

    async def refuse(self, job_id: uuid.UUID, reason: str, *, now: dt.datetime,
                     retry_at: dt.datetime | None) -> Job:
        """A refusal before dialling: the job waits for `retry_at` when that is before its
        deadline, else it ends refused with the reason."""
        async with self._conn() as conn:
            job = await self._pending(conn, job_id, "refused")
            if retry_at is not None and retry_at < job.deadline:
                return await self._set(conn, job_id, now, next_at=retry_at, reason=reason)
            return await self._set(conn, job_id, now, state="refused", result="refused",
                                   reason=reason)

