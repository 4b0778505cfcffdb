"""The ACD leader's lease in a real PostgreSQL (callcenter/cluster/lease.py): one leader at
a time, every new holder a higher term, a killed leader replaced within seconds, a frozen
one deposed before its successor acts."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from callcenter.cluster.fencing import FencedError, fenced, fenced_execute
from callcenter.cluster.lease import LeaderLease
from callcenter.store import Cluster
from tests.fix_postgres import fresh_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CHILD = textwrap.dedent("""
    import asyncio, sys
    import psycopg
    from callcenter.cluster.fencing import FencedError, fenced_execute
    from callcenter.cluster.lease import LeaderLease

    async def writer(lease, dsn):
        # a write the leader started: it goes on with the term it led with, as a write in
        # flight would, and prints each change of outcome
        said, conn = "", None
        while True:
            await asyncio.sleep(0.2)
            if not lease.term:
                continue
            try:
                conn = conn or await psycopg.AsyncConnection.connect(dsn, autocommit=True)
                await fenced_execute(conn, 1, "INSERT INTO probe VALUES (%s)", (1,))
                now = "WROTE"
            except FencedError:
                now = f"FENCED leading={lease.leading}"
            except psycopg.Error:
                now, conn = "DBERROR", None
            if now != said:
                print(now, flush=True)
                said = now

    async def main():
        lease = LeaderLease(sys.argv[1], sys.argv[2])
        lease.on_lead = lambda term: print("LEAD", term, flush=True)
        lease.on_lose = lambda term, why: print("LOSE", term, why, flush=True)
        asyncio.ensure_future(writer(lease, sys.argv[1]))
        await lease.run_forever()

    asyncio.run(main())
""")


def with_probe(dsn: str) -> str:
    """The database with a table of the child's fenced writes."""
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE probe (term bigint NOT NULL)")
    return dsn


def probes(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return int(conn.execute("SELECT count(*) FROM probe").fetchone()[0])


def holder(dsn: str) -> tuple[str, int] | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT holder, term FROM cluster_lease WHERE name = 'acd'"
                           ).fetchone()
    return (row[0], int(row[1])) if row else None


def child(dsn: str, name: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    out = tmp_path / f"{name}.out"
    with out.open("wb") as fh:  # the child has its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-c", CHILD, dsn, name],
                                stdout=fh, stderr=subprocess.STDOUT)
    return proc, out


def until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def _until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


def test_one_leader_and_a_quick_hand_over(pg_cluster: Cluster,
                                          request: pytest.FixtureRequest) -> None:
    dsn = fresh_database(pg_cluster, request.node.name)

    async def main() -> None:
        a, b = LeaderLease(dsn, "acd-1"), LeaderLease(dsn, "acd-2")
        events: list[tuple[str, int]] = []
        for lease in (a, b):
            lease.on_lead = lambda term, n=lease.holder: events.append((n, term))
        ta = asyncio.ensure_future(a.run_forever())
        await _until(lambda: a.leading, 5, "acd-1 leads")
        tb = asyncio.ensure_future(b.run_forever())
        await asyncio.sleep(2.2)  # four of b's tries, and the release between two
        assert a.leading and not b.leading
        assert b.status()["holder"] == "acd-1" and b.status()["term"] == a.term
        started = time.monotonic()
        await a.release()
        ta.cancel()
        await _until(lambda: b.leading, 3, "acd-2 leads")
        handed = time.monotonic() - started
        print(f"hand-over after a release: {handed:.2f} s")
        assert handed < 0.2  # woken at once (NOTIFY), not at its next try 0.3 s later
        assert b.term == a.term + 1
        assert events == [("acd-1", a.term), ("acd-2", a.term + 1)]
        tb.cancel()
        await b.release()

    asyncio.run(main())


def test_a_killed_leader_is_replaced_within_seconds(pg_cluster: Cluster, tmp_path: Path,
                                                     request: pytest.FixtureRequest) -> None:
    dsn = fresh_database(pg_cluster, request.node.name)
    proc, _out = child(dsn, "acd-1", tmp_path)
    try:
        until(lambda: holder(dsn) == ("acd-1", 1), 10, "the child leads")

        async def main() -> float:
            b = LeaderLease(dsn, "acd-2")
            tb = asyncio.ensure_future(b.run_forever())
            await asyncio.sleep(1.0)
            assert not b.leading
            proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            await _until(lambda: b.leading, 5, "acd-2 leads")
            took = time.monotonic() - killed
            assert b.term == 2
            tb.cancel()
            await b.release()
            return took

        took = asyncio.run(main())
        print(f"take-over after SIGKILL: {took:.2f} s")
        assert took < 5.0
    finally:
        proc.kill()
        proc.wait()


def test_a_frozen_leader_is_deposed_and_fenced(pg_cluster: Cluster, tmp_path: Path,
                                                request: pytest.FixtureRequest) -> None:
    """SIGSTOP: the leader's connection stays open but it renews nothing (a partition). The
    standby waits for the lease to expire and leads with the next term; the old leader,
    resumed, finds it lost the lease, and its late fenced writes are refused."""
    dsn = with_probe(fresh_database(pg_cluster, request.node.name))
    proc, out = child(dsn, "acd-1", tmp_path)
    try:
        until(lambda: holder(dsn) == ("acd-1", 1), 10, "the child leads")
        until(lambda: "WROTE" in out.read_text(), 5, "the child writes")

        async def main() -> float:
            b = LeaderLease(dsn, "acd-2")
            tb = asyncio.ensure_future(b.run_forever())
            await asyncio.sleep(1.0)
            proc.send_signal(signal.SIGSTOP)
            frozen = time.monotonic()
            await _until(lambda: b.leading, 6, "acd-2 leads")
            took = time.monotonic() - frozen
            assert b.term == 2
            written = await asyncio.to_thread(probes, dsn)
            proc.send_signal(signal.SIGCONT)
            await _until(lambda: "FENCED" in out.read_text(), 5, "the old leader fenced")
            assert b.leading and holder(dsn) == ("acd-2", 2)
            assert await asyncio.to_thread(probes, dsn) == written  # nothing got through
            tb.cancel()
            await b.release()
            return took

        took = asyncio.run(main())
        print(f"take-over from a frozen leader: {took:.2f} s")
        assert 2.5 <= took < 5.0  # not before the lease ran out
        text = until(lambda: "LOSE" in out.read_text() and out.read_text(), 5, "LOSE")
        assert "LEAD 1" in text and "LOSE 1" in text
        # resumed, it knew it no longer led before its lease loop said so
        assert "FENCED leading=False" in text and "leading=True" not in text
    finally:
        proc.kill()
        proc.wait()


async def _leader(dsn: str) -> tuple[LeaderLease, asyncio.Future[None]]:
    lease = LeaderLease(dsn, "acd-1")
    task = asyncio.ensure_future(lease.run_forever())
    await _until(lambda: lease.leading, 5, "acd-1 leads")
    return lease, task


def test_fenced_writes_run_only_at_the_current_term(pg_cluster: Cluster,
                                                    request: pytest.FixtureRequest) -> None:
    dsn = with_probe(fresh_database(pg_cluster, request.node.name))

    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            with pytest.raises(FencedError, match="no lease row"):
                await fenced_execute(conn, 1, "INSERT INTO probe VALUES (1)")
            a, ta = await _leader(dsn)
            await fenced_execute(conn, a.term, "INSERT INTO probe VALUES (%s)", (a.term,))
            async with fenced(conn, a.term):  # several statements, one transaction
                await conn.execute("INSERT INTO probe VALUES (%s)", (a.term,))
                await conn.execute("INSERT INTO probe VALUES (%s)", (a.term,))
            with pytest.raises(FencedError, match=f"now term {a.term}"):
                await fenced_execute(conn, a.term - 1, "INSERT INTO probe VALUES (0)")
            await a.release()
            ta.cancel()
            # a term may have ended without a successor yet: the next one is what counts
            b, tb = await _leader(dsn)
            with pytest.raises(FencedError):
                async with fenced(conn, a.term):
                    await conn.execute("INSERT INTO probe VALUES (0)")
            tb.cancel()
            await b.release()
        assert await asyncio.to_thread(probes, dsn) == 3

    asyncio.run(main())


def test_an_idle_fenced_transaction_does_not_hold_off_a_take_over(
        pg_cluster: Cluster, request: pytest.FixtureRequest) -> None:
    """A leader frozen inside a fenced transaction holds the lease row FOR SHARE; PostgreSQL
    ends that transaction after IDLE_LIMIT, so the row is free to be taken."""
    dsn = with_probe(fresh_database(pg_cluster, request.node.name))

    def take_row() -> float:
        """What a take-over does to the row: UPDATE it, waiting for its lock."""
        with psycopg.connect(dsn, autocommit=True) as other:
            other.execute("SET lock_timeout = '5s'")
            started = time.monotonic()
            other.execute("UPDATE cluster_lease SET renewed_at = renewed_at")
            return time.monotonic() - started

    async def main() -> float:
        a, ta = await _leader(dsn)
        ta.cancel()  # the leader stops renewing, as a frozen one would
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        inside = asyncio.Event()

        async def frozen() -> None:
            with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
                async with fenced(conn, a.term):
                    await conn.execute("INSERT INTO probe VALUES (1)")
                    inside.set()
                    await asyncio.sleep(4.0)  # idle in transaction, far past IDLE_LIMIT

        task = asyncio.ensure_future(frozen())
        await inside.wait()
        waited = await asyncio.to_thread(take_row)
        await task
        await conn.close()
        return waited

    waited = asyncio.run(main())
    print(f"a take-over waited {waited:.2f} s for an idle fenced transaction")
    assert 0.5 < waited < 2.0  # it did wait for the fence, and not for the frozen client
    assert probes(dsn) == 0  # the transaction PostgreSQL ended wrote nothing


def test_a_database_outage_deposes_the_leader_and_it_leads_again(
        own_cluster: Cluster) -> None:
    dsn = own_cluster.create_database("lease", replace=True)
    from callcenter.store import upgrade

    upgrade(dsn)

    async def main() -> None:
        a = LeaderLease(dsn, "acd-1")
        lost: list[str] = []
        a.on_lose = lambda term, why: lost.append(why)
        ta = asyncio.ensure_future(a.run_forever())
        await _until(lambda: a.leading, 5, "acd-1 leads")
        await asyncio.to_thread(own_cluster.stop)
        await _until(lambda: not a.leading, 5, "acd-1 stands down")
        assert lost and a.status()["error"]
        await asyncio.to_thread(own_cluster.start)
        await _until(lambda: a.leading, 15, "acd-1 leads again")
        assert a.term == 2
        ta.cancel()
        await a.release()

    asyncio.run(main())
