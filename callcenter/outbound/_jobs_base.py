"""The job store's connection pool and row helpers (the base of jobs.JobStore)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from callcenter.clock import SYSTEM, Clock
from callcenter.outbound._jobs_types import JOB_COLUMNS, Job, JobError, StoreUnavailable

Conn = psycopg.AsyncConnection[Any]


class StoreBase:
    """A pool of connections to the outbound tables; `async with store: ...`."""

    def __init__(self, dsn: str, *, clock: Clock = SYSTEM, timeout: float = 5.0,
                 max_size: int = 4, term: Callable[[], int] | None = None) -> None:
        self.dsn = dsn
        self.clock = clock
        # several daemons (docs/cluster.md): the term this one leads with; an attempt starts
        # only while the lease is still at it, so a deposed leader dials nobody
        self.term = term
        self.timeout = timeout  # how long a call waits for a connection before 503
        self.max_size = max_size
        self._pool: AsyncConnectionPool | None = None

    async def open(self) -> None:
        """Start the pool; a database that is down now is not an error until it is used."""
        if self._pool is not None:
            return
        pool = AsyncConnectionPool(self.dsn, min_size=1, max_size=self.max_size,
                                   timeout=self.timeout, open=False,
                                   check=AsyncConnectionPool.check_connection,
                                   kwargs={"connect_timeout": max(1, int(self.timeout))})
        await pool.open(wait=False)
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def __aenter__(self) -> StoreBase:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[Conn]:
        """A pooled connection inside one transaction (committed when the block ends)."""
        if self._pool is None:
            raise JobError("the job store is not open: call open() first")
        try:
            async with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreUnavailable(f"the database is unreachable, nothing was changed "
                                   f"({type(exc).__name__}: {exc}); check that PostgreSQL "
                                   "is running") from exc

    async def _fetch_job(self, conn: Conn, sql: str,
                         params: Iterable[Any]) -> Job | None:
        cur = conn.cursor(row_factory=class_row(Job))
        await cur.execute(sql, tuple(params))
        return await cur.fetchone()

    async def _fetch_jobs(self, conn: Conn, sql: str,
                          params: Iterable[Any]) -> list[Job]:
        cur = conn.cursor(row_factory=class_row(Job))
        await cur.execute(sql, tuple(params))
        return await cur.fetchall()

    async def _locked(self, conn: Conn, job_id: uuid.UUID) -> Job:
        job = await self._fetch_job(
            conn, f"SELECT {JOB_COLUMNS} FROM outbound_jobs WHERE id = %s FOR UPDATE",
            (job_id,))
        if job is None:
            raise JobError(f"no outbound job {job_id}")
        return job

    async def _set(self, conn: Conn, job_id: uuid.UUID,
                   now: dt.datetime, **columns: Any) -> Job:
        names = ", ".join(f"{name} = %s" for name in columns)
        job = await self._fetch_job(
            conn, f"UPDATE outbound_jobs SET {names}, updated_at = %s WHERE id = %s "
                  f"RETURNING {JOB_COLUMNS}", (*columns.values(), now, job_id))
        assert job is not None  # locked by the caller
        return job

