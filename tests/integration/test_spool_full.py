"""A full spool disk loses nothing acknowledged: events wait in memory and reach PostgreSQL
once space returns (a real 64 KiB tmpfs as the spool, a real PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from callcenter.store import Cluster
from callcenter.store.recorder import EventRecorder
from tests.fix_postgres import fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.security]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mnt)],
                   check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(disk: Path) -> Path:
    """Fill the disk to the last byte with one ballast file."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, b"x" * 512):
                pass
    finally:
        os.close(fd)
    return ballast


def test_events_survive_a_full_spool_disk(pg_cluster: Cluster, small_disk: Path) -> None:
    dsn = fresh_database(pg_cluster, "spool_full")
    rec = EventRecorder(small_disk / "spool", lambda: dsn, batch=50)
    n_before, n_full, n_after = 20, 100, 20

    async def go() -> dict[str, object]:
        task = asyncio.create_task(rec.run())
        try:
            for n in range(n_before):
                rec.emit("ivr.step", call_id=f"c{n}", n=n, flow="main", node="x", digits="")
            await _until(lambda: rec.stored >= n_before)
            ballast = _fill(small_disk)
            for n in range(n_before, n_before + n_full):  # ~250 B each: far more than is free
                rec.emit("ivr.step", call_id=f"c{n}", n=n, flow="main", node="x", digits="")
            full = rec.snapshot()
            ballast.unlink()  # space comes back
            for n in range(n_before + n_full, n_before + n_full + n_after):
                rec.emit("ivr.step", call_id=f"c{n}", n=n, flow="main", node="x", digits="")
            await _until(lambda: rec.stored >= n_before + n_full + n_after)
            return full
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await rec.close()

    full = asyncio.run(go())
    assert full["spool_error"] and "No space left" in str(full["spool_error"])
    assert int(full["held_in_memory"]) > 0  # type: ignore[call-overload]
    with psycopg.connect(dsn) as conn:
        ns = [r[0] for r in conn.execute("SELECT (data->>'n')::int FROM events ORDER BY seq")]
    assert ns == list(range(n_before + n_full + n_after))  # all, once, in order
    snap = rec.snapshot()
    assert snap["spool_error"] == "" and snap["held_in_memory"] == 0
    assert snap["lost_overflow"] == 0


def test_the_memory_bound_counts_what_overflows(small_disk: Path) -> None:
    rec = EventRecorder(small_disk / "spool", None, held_max=10)
    ballast = _fill(small_disk)
    for n in range(25):
        rec.emit("ivr.step", call_id=f"c{n}", n=n, flow="main", node="x", digits="")
    snap = rec.snapshot()
    assert (snap["held_in_memory"], snap["lost_overflow"]) == (10, 15)
    ballast.unlink()
    assert rec.flush_held() == 0
    rec.spool.close()
    events, _ = rec.spool.read(rec.position, 1000)
    assert [e.data["n"] for e in events] == list(range(15, 25))  # the newest ten were kept


async def _until(done, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)
