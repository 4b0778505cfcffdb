"""The recorder against a real PostgreSQL: batches, outages, crashes, replays."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from callcenter.store import Cluster
from callcenter.store.events import new_event
from callcenter.store.recorder import EventRecorder
from callcenter.store.spool import Spool
from tests.fix_postgres import fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.clock]




def stored(dsn: str) -> list[tuple[str, int]]:
    with psycopg.connect(dsn) as conn:
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT call_id, (data->>'n')::int FROM events ORDER BY seq")]


async def run_until(rec: EventRecorder, done, timeout: float = 30) -> None:
    task = asyncio.create_task(rec.run())
    deadline = time.monotonic() + timeout
    try:
        while not done() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await rec.close()


def test_batches_in_order_and_checkpoint(pg_cluster: Cluster, tmp_path: Path) -> None:
    dsn = fresh_database(pg_cluster, "rec_order")
    rec = EventRecorder(tmp_path / "spool", lambda: dsn, batch=100)

    async def go() -> None:
        for n in range(2500):
            rec.emit("ivr.step", call_id=f"c{n % 7}", n=n, flow="main", node="x", digits="")
        await run_until(rec, lambda: rec.stored >= 2500)

    asyncio.run(go())
    rows = stored(dsn)
    assert [n for _, n in rows] == list(range(2500))
    # everything stored: a new recorder on the same spool has nothing to send
    again = EventRecorder(tmp_path / "spool", lambda: dsn)
    events, _ = again.spool.read(again.position, 10)
    assert events == []



def test_a_calls_events_go_in_one_insert_from_memory(pg_cluster: Cluster,
                                                     tmp_path: Path) -> None:
    """The events of one moment are one batch (one INSERT), taken from memory: the spool
    is written but never read back while the writer keeps up."""
    dsn = fresh_database(pg_cluster, "rec_burst")
    rec = EventRecorder(tmp_path / "spool", lambda: dsn)

    async def go() -> None:
        task = asyncio.create_task(rec.run())
        rec.emit("call.start", call_id="w", n=0)
        while rec.stored < 1:
            await asyncio.sleep(0.05)
        first = rec.batches
        for n in range(1, 12):  # what one call records, with no await in between
            rec.emit("queue.offer", call_id="c", n=n)
        while rec.stored < 12:
            await asyncio.sleep(0.05)
        assert rec.batches - first == 1
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await rec.close()

    asyncio.run(go())
    assert [n for _, n in stored(dsn)] == list(range(12))
    assert rec.read_back == 0
    # the checkpoint was written at the stop: a new recorder has nothing to send again
    again = EventRecorder(tmp_path / "spool", lambda: dsn)
    assert again.spool.read(again.position, 10)[0] == []


def test_outage_spools_then_replays_exactly_once(own_cluster: Cluster,
                                                 tmp_path: Path) -> None:
    dsn = fresh_database(own_cluster, "rec_outage")
    rec = EventRecorder(tmp_path / "spool", lambda: dsn, batch=50)

    async def go() -> None:
        task = asyncio.create_task(rec.run())
        for n in range(100):
            rec.emit("queue.enter", call_id=f"a{n}", n=n)
        while rec.stored < 100:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(own_cluster.stop)
        t0 = time.monotonic()
        for n in range(100, 400):
            rec.emit("queue.enter", call_id=f"a{n}", n=n)  # the database is down
        assert time.monotonic() - t0 < 0.5  # emit never waits for the database
        deadline = time.monotonic() + 15
        while rec.db_up and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not rec.db_up and rec.stored == 100
        assert rec.snapshot()["backlog_bytes"] > 0
        await asyncio.to_thread(own_cluster.start)
        deadline = time.monotonic() + 40
        while rec.stored < 400 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await rec.close()

    asyncio.run(go())
    assert [n for _, n in stored(dsn)] == list(range(400))


def test_replay_after_crash_between_insert_and_checkpoint(pg_cluster: Cluster,
                                                          tmp_path: Path) -> None:
    dsn = fresh_database(pg_cluster, "rec_replay")
    spool = Spool(tmp_path / "spool")
    events = [new_event("queue.abandon", call_id=f"b{n}", n=n) for n in range(300)]
    for e in events:
        spool.append(e)
    spool.close()
    # the first 120 reached the database, but the checkpoint was never written
    with psycopg.connect(dsn) as conn:
        conn.cursor().executemany(
            "INSERT INTO events (id, at, kind, call_id, queue, agent_id, site, data) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", [e.row() for e in events[:120]])
    rec = EventRecorder(tmp_path / "spool", lambda: dsn)
    asyncio.run(run_until(rec, lambda: rec.stored + rec.duplicates >= 300))
    assert rec.duplicates == 120 and rec.stored == 180
    assert sorted(n for _, n in stored(dsn)) == list(range(300))


def test_torn_line_is_dropped_not_fatal(pg_cluster: Cluster, tmp_path: Path) -> None:
    dsn = fresh_database(pg_cluster, "rec_torn")
    spool = Spool(tmp_path / "spool")
    for n in range(5):
        spool.append(new_event("call.end", call_id=f"t{n}", n=n))
    seg = tmp_path / "spool" / spool.segments()[-1]
    spool.close()
    with open(seg, "ab") as fh:
        fh.write(b'{"id": "half a li')  # killed in the middle of a write
    rec = EventRecorder(tmp_path / "spool", lambda: dsn)
    rec.emit("call.end", call_id="t5", n=5)
    asyncio.run(run_until(rec, lambda: rec.stored >= 6))
    assert [n for _, n in stored(dsn)] == list(range(6))
    assert rec.spool.corrupt == 1


_KILLED = """
import asyncio, sys
from pathlib import Path
from callcenter.store.recorder import EventRecorder

async def main():
    rec = EventRecorder(Path(sys.argv[1]), None)   # no database: spool only
    for n in range(100000):
        rec.emit("ivr.step", call_id="k", n=n)
        if n % 100 == 0:
            print(n, flush=True)   # acknowledged up to here
        await asyncio.sleep(0)

asyncio.run(main())
"""


def test_sigkill_loses_no_acknowledged_event(pg_cluster: Cluster, tmp_path: Path) -> None:
    dsn = fresh_database(pg_cluster, "rec_kill")
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, str(tmp_path / "spool")],
                            stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    acked = -1
    assert proc.stdout is not None
    for line in proc.stdout:
        acked = int(line)
        if acked >= 3000:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    rec = EventRecorder(tmp_path / "spool", lambda: dsn)
    asyncio.run(run_until(rec, lambda: rec.stored > acked and not rec._wake.is_set(),
                          timeout=20))
    got = [n for _, n in stored(dsn)]
    assert got == list(range(len(got))) and len(got) > acked
