"""The daemon's event recorder: `emit` writes to the spool and returns at once; a background
task stores spooled events in PostgreSQL in batches, in spool order, and survives outages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcenter.store.events import Event, new_event
from callcenter.store.spool import Position, Spool

__all__ = ["EventRecorder", "NullRecorder", "insert_events"]

log = logging.getLogger(__name__)

BATCH = 1000
# events kept in memory while the spool cannot be written (disk full, I/O error); beyond
# this bound the oldest held events are dropped and counted (`lost_overflow`)
HELD_MAX = 100_000
SYNC_SECONDS = 0.2
_INSERT = """
INSERT INTO events (id, at, kind, call_id, queue, agent_id, site, data)
SELECT * FROM unnest(%s::uuid[], %s::timestamptz[], %s::text[], %s::text[], %s::text[],
                     %s::text[], %s::text[], %s::jsonb[])
ON CONFLICT (id) DO NOTHING
"""


def _columns(events: list[Event]) -> list[list[Any]]:
    return [list(col) for col in zip(*(e.row() for e in events), strict=True)]


async def insert_events(conn: Any, events: list[Event]) -> int:
    """Insert in the given order; an event already stored (same id) is skipped."""
    cur = await conn.execute(_INSERT, _columns(events))
    return cur.rowcount


class NullRecorder:
    """Records nothing, but tells listeners (unit tests, a daemon run without a store)."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[Event], None]] = []

    def emit(self, kind: str, **kwargs: Any) -> Event:
        event = new_event(kind, **kwargs)
        for listener in self.listeners:
            listener(event)
        return event


class EventRecorder:
    """`emit()` never waits for the database. `dsn_factory` runs in a thread (it may start
    the embedded cluster) and returns the DSN; None means spool only."""

    def __init__(self, spool_dir: Path, dsn_factory: Callable[[], str] | None, *,
                 batch: int = BATCH, upgrade: bool = False, held_max: int = HELD_MAX):
        self.spool = Spool(spool_dir)
        self.held: deque[Event] = deque()  # not yet in the spool, in emit order
        self.held_max = held_max
        self.lost_overflow = 0
        self.spool_error = ""  # the alarm: set while events cannot be spooled
        self.dsn_factory = dsn_factory
        self.batch = batch
        self.upgrade = upgrade
        self.dsn = ""
        self.stored = 0
        self.duplicates = 0
        self.db_up = False
        self.last_error = ""
        self.failures = 0
        self.listeners: list[Callable[[Event], None]] = []
        self._wake = asyncio.Event()
        self._pool: Any = None
        self._position = self.spool.checkpoint()

    # ---- the call path -----------------------------------------------------------------
    def emit(self, kind: str, **kwargs: Any) -> Event:
        event = new_event(kind, **kwargs)
        self.record(event)
        return event

    def record(self, event: Event) -> None:
        """Spool the event; if the spool cannot be written, hold it in memory (in order,
        up to `held_max`) and write it when the disk takes writes again."""
        if self.held:
            self._hold(event)
            self.flush_held()
        else:
            try:
                self.spool.append(event)
            except OSError as exc:  # a full disk must not break calls; say it loudly
                self._spool_failed(exc)
                self._hold(event)
        for listener in self.listeners:
            listener(event)
        self._wake.set()

    def _hold(self, event: Event) -> None:
        if len(self.held) >= self.held_max:
            self.held.popleft()
            self.lost_overflow += 1
            if self.lost_overflow == 1 or self.lost_overflow % 1000 == 0:
                log.error("ALARM: %d events lost: the spool cannot be written and %d are "
                          "already held in memory", self.lost_overflow, self.held_max)
        self.held.append(event)

    def _spool_failed(self, exc: OSError) -> None:
        msg = f"spool {self.spool.dir} cannot be written ({exc.strerror or exc})"
        if msg != self.spool_error:
            log.error("ALARM: %s; events are held in memory (up to %d) until it can — free "
                      "space on that disk", msg, self.held_max)
        self.spool_error = msg

    def flush_held(self) -> int:
        """Write held events to the spool in order; returns how many are still held."""
        while self.held:
            try:
                self.spool.append(self.held[0])
            except OSError as exc:
                self._spool_failed(exc)
                return len(self.held)
            self.held.popleft()
        if self.spool_error:
            log.warning("spool writable again: held events written (%d lost to the memory "
                        "bound)", self.lost_overflow)
            self.spool_error = ""
        return 0

    # ---- the writer --------------------------------------------------------------------
    async def run(self) -> None:
        syncer = asyncio.create_task(self._sync_forever())
        try:
            await self._connect()
            backoff = 0.5
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)
                self._wake.clear()
                if self._pool is None:
                    continue
                try:
                    while await self._send_batch():
                        pass
                    backoff = 0.5
                except Exception as exc:
                    self._down(exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    self._wake.set()
        finally:
            syncer.cancel()

    async def _connect(self) -> None:
        if self.dsn_factory is None:
            log.info("no database: events stay in the spool %s", self.spool.dir)
            return
        from psycopg_pool import AsyncConnectionPool

        while True:
            try:
                self.dsn = await asyncio.to_thread(self.dsn_factory)
                if self.upgrade:
                    from callcenter.store.migrations import upgrade

                    await asyncio.to_thread(upgrade, self.dsn)
                break
            except Exception as exc:
                self._down(exc)
                await asyncio.sleep(5)
        self._pool = AsyncConnectionPool(self.dsn, min_size=1, max_size=4, open=False,
                                         timeout=3, kwargs={"connect_timeout": 5},
                                         check=AsyncConnectionPool.check_connection)
        await self._pool.open(wait=False)

    def _down(self, exc: BaseException) -> None:
        self.failures += 1
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if self.db_up or msg != self.last_error:
            log.warning("database unavailable, events wait in the spool: %s", msg)
        self.db_up = False
        self.last_error = msg

    async def _send_batch(self) -> bool:
        """Store the next batch; True if there may be more."""
        events, end = await asyncio.to_thread(self.spool.read, self._position, self.batch)
        if not events:
            if end != self._position:  # skipped torn or unreadable lines
                self._position = end
                await asyncio.to_thread(self.spool.commit, end)
            return False
        async with self._pool.connection() as conn:
            await conn.execute("SET LOCAL statement_timeout = 30000")
            inserted = await insert_events(conn, events)
        self.stored += inserted
        self.duplicates += len(events) - inserted
        if not self.db_up:
            log.info("database reachable: storing events (%s)", self.dsn.split(" ")[0])
        self.db_up, self.last_error = True, ""
        self._position = end
        try:
            await asyncio.to_thread(self.spool.commit, end)
        except OSError as exc:  # stored all the same; a restart replays them (idempotent)
            log.error("spool checkpoint not written (%s): a restart sends these events "
                      "again, which is harmless", exc.strerror or exc)
        return len(events) >= self.batch

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(SYNC_SECONDS)
            if self.held and not self.flush_held():
                self._wake.set()
            try:
                self.spool.sync()
            except OSError as exc:
                log.error("spool fsync failed: %s", exc)

    async def close(self, timeout: float = 3.0) -> None:
        """Try to store what is spooled; whatever is left waits for the next start."""
        deadline = time.monotonic() + timeout
        if self.flush_held():
            log.error("ALARM: %d events could not be spooled and are lost at this stop",
                      len(self.held))
        if self._pool is not None:
            with contextlib.suppress(Exception):
                while time.monotonic() < deadline and await asyncio.wait_for(
                        self._send_batch(), max(0.1, deadline - time.monotonic())):
                    pass
            with contextlib.suppress(Exception):
                await self._pool.close(timeout=1)
        self.spool.close()

    @property
    def pool(self) -> Any:
        """The open connection pool (for lookups on live calls), or None before connecting."""
        return self._pool

    @property
    def position(self) -> Position:
        return self._position

    def snapshot(self) -> dict[str, Any]:
        return {"database": self.dsn.split(" password")[0] if self.dsn else None,
                "db_up": self.db_up, "spooled": self.spool.appended, "stored": self.stored,
                "duplicates_skipped": self.duplicates, "failures": self.failures,
                "backlog_bytes": self.spool.backlog_bytes(self._position),
                "corrupt_lines": self.spool.corrupt, "last_error": self.last_error,
                "spool_error": self.spool_error, "held_in_memory": len(self.held),
                "held_max": self.held_max, "lost_overflow": self.lost_overflow}
