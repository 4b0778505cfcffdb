"""The outbound job store against a real throwaway PostgreSQL (schema 5)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest

from callcenter.clock import FixedClock
from callcenter.cluster.fencing import FencedError
from callcenter.outbound.jobs import (
    JobConflict,
    JobError,
    JobStore,
    NewJob,
    StoreUnavailable,
)
from callcenter.store import Cluster
from tests.fix_postgres import fresh_database

pytestmark = pytest.mark.postgres

T0 = dt.datetime(2030, 3, 4, 10, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)


def job(number: str = "13800000001", *, key: str | None = None, campaign: str = "rem",
        start: dt.datetime = T0, minutes: int = 20, **kw: Any) -> NewJob:
    return NewJob("reminder", campaign, number, start, start + minutes * MIN,
                  idempotency_key=key, **kw)


def run(cluster: Cluster, name: str, body: Callable[[JobStore], Awaitable[None]]) -> None:
    dsn = fresh_database(cluster, name)

    async def go() -> None:
        async with JobStore(dsn, clock=FixedClock(T0 - 60 * MIN)) as store:
            await body(store)

    asyncio.run(go())


async def dial(store: JobStore, job_id: uuid.UUID, now: dt.datetime, caller_id: str = "0108"
               ) -> uuid.UUID:
    attempt = uuid.uuid4()
    started = await store.start_attempt(job_id, attempt, now=now, trunk="t1",
                                        caller_id=caller_id, caller_id_kind="city",
                                        lateness_ms=0)
    assert started is not None and started.state == "dialling"
    return attempt


def test_submit_is_idempotent(pg_cluster: Cluster) -> None:
    async def body(store: JobStore) -> None:
        first, created = await store.submit(job(key="k1", variables={"name": "王小明"}))
        again, created_again = await store.submit(job(key="k1", variables={"name": "王小明"}))
        assert created and not created_again and again.id == first.id
        assert first.state == "pending" and first.next_at == T0
        assert first.variables == {"name": "王小明"} and first.reason is None
        with pytest.raises(JobConflict, match="k1"):
            await store.submit(job(key="k1", variables={"name": "李雷"}))
        other_client, created = await store.submit(job(key="k1", client="crm",
                                                       variables={"name": "王小明"}))
        assert created and other_client.id != first.id
        assert len(await store.jobs()) == 2
        # no key: every submission is a new job
        assert (await store.submit(job()))[1] and (await store.submit(job()))[1]
        with pytest.raises(JobError, match="not after"):
            await store.submit(job(minutes=0))

    run(pg_cluster, "jobs_idem", body)


def test_submit_many_is_one_transaction(pg_cluster: Cluster) -> None:
    async def body(store: JobStore) -> None:
        await store.submit(job(key="a"))
        with pytest.raises(JobConflict):
            await store.submit_many([job(key="b"), job(key="a", number="139")])
        assert [j.idempotency_key for j in await store.jobs()] == ["a"]  # b rolled back
        done = await store.submit_many([job(key="b"), job(key="a"), job(key="c")])
        assert [created for _, created in done] == [True, False, True]
        assert len(await store.jobs(limit=10)) == 3

    run(pg_cluster, "jobs_many", body)


def test_reschedule_and_cancel_only_pending(pg_cluster: Cluster) -> None:
    async def body(store: JobStore) -> None:
        j, _ = await store.submit(job(external_id="lesson-7", variables={"a": "1"}))
        moved = await store.reschedule(j.id, not_before=T0 + 60 * MIN,
                                       deadline=T0 + 80 * MIN, variables={"b": "2"})
        assert moved.next_at == T0 + 60 * MIN and moved.deadline == T0 + 80 * MIN
        assert moved.variables == {"a": "1", "b": "2"}
        assert (await store.by_external("reminder", "lesson-7")).id == j.id
        cancelled = await store.cancel(j.id, "lesson cancelled")
        assert (cancelled.state, cancelled.reason) == ("cancelled", "lesson cancelled")
        with pytest.raises(JobError, match="only a pending job"):
            await store.reschedule(j.id, not_before=T0, deadline=T0 + MIN)
        with pytest.raises(JobError, match="only a pending job"):
            await store.cancel(j.id)
        with pytest.raises(JobError, match="no outbound job"):
            await store.cancel(uuid.uuid4())
        # a job being dialled cannot be cancelled under the dialler
        k, _ = await store.submit(job())
        await dial(store, k.id, T0)
        with pytest.raises(JobError, match="dialling"):
            await store.cancel(k.id)

    run(pg_cluster, "jobs_resched", body)


def test_due_expires_and_skips_paused(pg_cluster: Cluster) -> None:
    async def body(store: JobStore) -> None:
        late, _ = await store.submit(job("1", start=T0 - 30 * MIN, minutes=20))
        b, _ = await store.submit(job("2", start=T0 - 2 * MIN))
        a, _ = await store.submit(job("3", start=T0 - 5 * MIN))
        later, _ = await store.submit(job("4", start=T0 + MIN))
        p, _ = await store.submit(job("5", start=T0 - 9 * MIN, campaign="paused"))
        await store.set_paused("paused", True, by="sup")
        assert await store.paused() == {"paused"}
        assert [j.id for j in await store.due(T0, 10)] == [a.id, b.id]
        assert [j.id for j in await store.due(T0, 1)] == [a.id]
        expired = await store.get(late.id)
        assert (expired.state, expired.reason) == ("expired", "deadline passed")
        assert (await store.get(later.id)).state == "pending"
        await store.set_paused("paused", False)
        assert await store.paused() == set()
        assert [j.id for j in await store.due(T0, 10)] == [p.id, a.id, b.id]
        assert [j.id for j in await store.jobs(state="expired")] == [late.id]

    run(pg_cluster, "jobs_due", body)


def test_start_attempt_none_when_not_pending(pg_cluster: Cluster) -> None:
    async def body(store: JobStore) -> None:
        j, _ = await store.submit(job())
        await store.cancel(j.id)
        assert await store.start_attempt(j.id, uuid.uuid4(), now=T0, trunk="t1",
                                         caller_id="0108", caller_id_kind="city",
                                         lateness_ms=0) is None
        assert await store.attempts(j.id) == [] and await store.in_flight() == []
        k, _ = await store.submit(job())
        attempt = await dial(store, k.id, T0 + 20 * MIN - dt.timedelta(seconds=1))
        assert await store.start_attempt(k.id, uuid.uuid4(), now=T0, trunk="t1",
                                         caller_id="0108", caller_id_kind="city",
                                         lateness_ms=0) is None  # already dialling
        assert [x.id for x in await store.in_flight()] == [attempt]
        # past the deadline: expired, never dialled
        m, _ = await store.submit(job())
        assert await store.start_attempt(m.id, uuid.uuid4(), now=T0 + 20 * MIN,
                                         trunk="t1", caller_id="", caller_id_kind="",
                                         lateness_ms=0) is None
        assert (await store.get(m.id)).state == "expired"

    run(pg_cluster, "jobs_start", body)


def test_a_deposed_leader_starts_no_attempt(pg_cluster: Cluster) -> None:
    """With several daemons an attempt starts only while the lease is at the term its
    daemon leads with: the late attempt of a leader deposed meanwhile writes nothing."""
    led = [1]

    async def body(store: JobStore) -> None:
        store.term = lambda: led[0]
        async with await psycopg.AsyncConnection.connect(store.dsn, autocommit=True) as c:
            await c.execute("INSERT INTO cluster_lease (name, holder, term, expires_at) "
                            "VALUES ('acd', 'acd-2', 2, now() + interval '3 seconds')")
        j, _ = await store.submit(job())
        with pytest.raises(FencedError) as err:
            await store.start_attempt(j.id, uuid.uuid4(), now=T0, trunk="t1",
                                      caller_id="0108", caller_id_kind="city", lateness_ms=0)
        assert (err.value.term, err.value.current) == (1, 2)
        assert "no longer leads" in str(err.value)
        assert (await store.get(j.id)).state == "pending"
        assert await store.attempts(j.id) == [] and await store.usage(T0.date()) == {}
        led[0] = 2  # the leader of term 2 dials it
        await dial(store, j.id, T0)
        assert (await store.get(j.id)).attempts == 1

    run(pg_cluster, "jobs_fenced", body)


def test_end_attempt_retries_within_limits(pg_cluster: Cluster) -> None:
    async def body(store: JobStore) -> None:
        j, _ = await store.submit(job(max_attempts=3, retry_seconds=180, minutes=20))
        first = await dial(store, j.id, T0)
        after = await store.end_attempt(first, "no_answer", now=T0 + MIN,
                                        dial_status="NOANSWER")
        assert (after.state, after.attempts, after.next_at) == ("pending", 1, T0 + 4 * MIN)
        again = await store.end_attempt(first, "confirmed", now=T0 + 2 * MIN)
        assert again == after  # idempotent: the ended attempt changes nothing
        second = await dial(store, j.id, T0 + 4 * MIN)
        after = await store.end_attempt(second, "busy", now=T0 + 5 * MIN)
        assert (after.state, after.next_at) == ("pending", T0 + 8 * MIN)
        third = await dial(store, j.id, T0 + 8 * MIN)
        after = await store.end_attempt(third, "busy", now=T0 + 9 * MIN)
        assert (after.state, after.result, after.attempts) == ("done", "busy", 3)
        rows = await store.attempts(j.id)
        assert [(a.result, a.state) for a in rows] == [("no_answer", "ended"),
                                                       ("busy", "ended"), ("busy", "ended")]
        assert rows[0].dial_status == "NOANSWER" and rows[0].ended_at == T0 + MIN
        # the retry would fall at or after the deadline: done at once
        k, _ = await store.submit(job(max_attempts=3, retry_seconds=180, minutes=5))
        attempt = await dial(store, k.id, T0)
        after = await store.end_attempt(attempt, "failed", now=T0 + 2 * MIN)
        assert (after.state, after.result) == ("done", "failed")
        # not retryable
        m, _ = await store.submit(job(max_attempts=3))
        attempt = await dial(store, m.id, T0)
        after = await store.end_attempt(attempt, "confirmed", now=T0 + MIN,
                                        data={"keys": "1"})
        assert (after.state, after.result, after.attempts) == ("done", "confirmed", 1)
        assert (await store.attempts(m.id))[0].data == {"keys": "1"}
        with pytest.raises(JobError, match="not one of"):
            await store.end_attempt(attempt, "great", now=T0)
        with pytest.raises(JobError, match="no outbound attempt"):
            await store.end_attempt(uuid.uuid4(), "busy", now=T0)

    run(pg_cluster, "jobs_end", body)


def test_refuse_with_and_without_retry(pg_cluster: Cluster) -> None:
    async def body(store: JobStore) -> None:
        j, _ = await store.submit(job(minutes=60))
        waiting = await store.refuse(j.id, "quiet hours", now=T0, retry_at=T0 + 30 * MIN)
        assert (waiting.state, waiting.next_at, waiting.reason) == (
            "pending", T0 + 30 * MIN, "quiet hours")
        assert await store.due(T0 + 29 * MIN, 10) == []
        refused = await store.refuse(j.id, "callee limit", now=T0, retry_at=T0 + 60 * MIN)
        assert (refused.state, refused.result, refused.reason) == (
            "refused", "refused", "callee limit")
        k, _ = await store.submit(job())
        refused = await store.refuse(k.id, "do-not-call", now=T0, retry_at=None)
        assert refused.state == "refused"
        with pytest.raises(JobError):
            await store.refuse(k.id, "again", now=T0, retry_at=None)

    run(pg_cluster, "jobs_refuse", body)


def test_attempts_since_and_usage(pg_cluster: Cluster) -> None:
    async def body(store: JobStore) -> None:
        times = [T0, T0 + 10 * MIN, T0 + dt.timedelta(days=1)]
        for at in times:
            j, _ = await store.submit(job("13900000009", start=at - MIN))
            await dial(store, j.id, at, caller_id="02812345678")
        other, _ = await store.submit(job("13900000008"))
        await dial(store, other.id, T0, caller_id="01012345678")
        assert await store.attempts_since("13900000009", T0 + MIN) == times[1:]
        assert await store.attempts_since("13900000009", T0 - MIN) == times
        assert await store.usage(T0.date()) == {"02812345678": 2, "01012345678": 1}
        assert await store.usage(T0.date() + dt.timedelta(days=1)) == {"02812345678": 1}
        assert await store.usage(T0.date() - dt.timedelta(days=1)) == {}

    run(pg_cluster, "jobs_usage", body)


def test_store_unavailable_when_database_stopped(own_cluster: Cluster) -> None:
    dsn = fresh_database(own_cluster, "jobs_down")

    async def go() -> None:
        async with JobStore(dsn, clock=FixedClock(T0), timeout=1.0) as store:
            j, _ = await store.submit(job(key="before"))
            own_cluster.stop()
            with pytest.raises(StoreUnavailable, match="PostgreSQL"):
                await store.submit(job(key="during"))
            with pytest.raises(StoreUnavailable):
                await store.due(T0, 10)
            own_cluster.start()
            # the pool reconnects by itself; what was acknowledged is there
            for _ in range(50):
                try:
                    assert (await store.get(j.id)).idempotency_key == "before"
                    break
                except StoreUnavailable:
                    await asyncio.sleep(0.2)
            else:
                pytest.fail("the store did not reconnect after PostgreSQL restarted")
            assert [x.idempotency_key for x in await store.jobs()] == ["before"]

    asyncio.run(go())
