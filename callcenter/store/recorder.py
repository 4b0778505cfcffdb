"""The daemon's event recorder: `emit` writes to the spool and returns at once; a background
task stores spooled events in PostgreSQL in batches, in spool order, and survives outages.

The writer waits LINGER_SECONDS after the first new event so that one INSERT (one
transaction, one round trip) carries every event of that moment, not one each. Events it
spooled itself are taken from memory (no reading back and parsing the spool) whenever they
follow on from what is stored; anything else (a backlog from before a restart, an outage
longer than TAIL_MAX events) is read from the spool. The checkpoint is written at most every
CHECKPOINT_SECONDS: after a crash the events stored since are sent again and skipped by their
ids (ON CONFLICT DO NOTHING), so a late checkpoint costs a replay, never a duplicate."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcenter.store.events import Event, new_event
from callcenter.store.spool import Position, Spool

__all__ = ["EventRecorder", "NullRecorder", "insert_events", "insert_lines"]

log = logging.getLogger(__name__)

BATCH = 1000
# events kept in memory while the spool cannot be written (disk full, I/O error); beyond
# this bound the oldest held events are dropped and counted (`lost_overflow`)
HELD_MAX = 100_000
SYNC_SECONDS = 0.2
LINGER_SECONDS = 0.1
CHECKPOINT_SECONDS = 1.0
TAIL_MAX = 20_000  # spooled events also kept in memory for the writer
# the batch is one parameter: the events' spool lines as one JSON array, taken apart by the
# server (no per-value adaptation in Python); rows go in in the array's order
_INSERT = """
INSERT INTO events (id, at, kind, call_id, queue, agent_id, site, data)
SELECT id, at, kind, call_id, queue, agent_id, site, coalesce(data, '{}'::jsonb)
FROM ROWS FROM (jsonb_to_recordset(%s::jsonb)
                AS (id uuid, at timestamptz, kind text, call_id text, queue text,
                    agent_id text, site text, data jsonb)) WITH ORDINALITY AS r
ORDER BY r.ordinality
ON CONFLICT (id) DO NOTHING
"""


async def insert_lines(conn: Any, lines: list[str]) -> int:
    """Insert events given as spool lines (Event.to_line), in order; an event already
    stored (same id) is skipped. Returns how many were new."""
    cur = await conn.execute(_INSERT, ["[" + ",".join(lines) + "]"])
    return cur.rowcount


async def insert_events(conn: Any, events: list[Event]) -> int:
    """Insert in the given order; an event already stored (same id) is skipped."""
    return await insert_lines(conn, [e.to_line() for e in events])


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
                 batch: int = BATCH, upgrade: bool = False, held_max: int = HELD_MAX,
                 linger: float = LINGER_SECONDS):
        self.spool = Spool(spool_dir)
        self.held: deque[Event] = deque()  # not yet in the spool, in emit order
        self.held_max = held_max
        self.lost_overflow = 0
        self.spool_error = ""  # the alarm: set while events cannot be spooled
        self.dsn_factory = dsn_factory
        self.batch = batch
        self.linger = linger
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
        # the end of what earlier runs spooled and did not store (see `caught_up`)
        self.earlier_end = self.spool.written()
        if not self.spool.backlog_bytes(self._position):  # all stored: start at our own
            self._position = self.earlier_end = self.spool.end()
        self._committed = self._position
        self._committed_at = 0.0
        # spooled and not yet stored, in spool order: (its line, where it starts, ends)
        self._tail: deque[tuple[str, Position, Position]] = deque()
        self.batches = 0
        self.read_back = 0  # events read back from the spool file (not from memory)

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
                self._append(event)
            except OSError as exc:  # a full disk must not break calls; say it loudly
                self._spool_failed(exc)
                self._hold(event)
        for listener in self.listeners:
            listener(event)
        self._wake.set()

    def _append(self, event: Event) -> None:
        line = event.to_line()
        start, end = self.spool.append(event, line)
        if len(self._tail) >= TAIL_MAX:  # a long outage: the spool file has them all
            self._tail.clear()
        self._tail.append((line, start, end))

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
                self._append(self.held[0])
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
                if self.linger and len(self._tail) < self.batch:
                    await asyncio.sleep(self.linger)  # what else this moment brings
                try:
                    while await self._send_batch():
                        pass
                    backoff = 0.5
                    await self._checkpoint()
                except Exception as exc:
                    self._down(await self._cause(exc))
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

    async def _cause(self, exc: BaseException) -> BaseException:
        """Why the pool had no connection: its timeout says only that it waited, so one
        direct attempt finds the server's own answer (for `callcenter status`)."""
        if type(exc).__name__ != "PoolTimeout":
            return exc
        import psycopg

        try:
            conn = await psycopg.AsyncConnection.connect(self.dsn, connect_timeout=3)
        except Exception as probe:
            return probe
        await conn.close()
        return exc

    def _down(self, exc: BaseException) -> None:
        self.failures += 1
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if self.db_up or msg != self.last_error:
            log.warning("database unavailable, events wait in the spool: %s", msg)
        self.db_up = False
        self.last_error = msg

    async def _next(self) -> tuple[list[str], Position]:
        """The next batch after the stored position and where it ends: from memory when the
        tail follows on from the position, else read back from the spool."""
        if self._tail and self._tail[0][1] == self._position:
            items = list(itertools.islice(self._tail, self.batch))
            return [line for line, _, _ in items], items[-1][2]
        events, end = await asyncio.to_thread(self.spool.read, self._position, self.batch)
        self.read_back += len(events)
        return [e.to_line() for e in events], end

    async def _send_batch(self) -> bool:
        """Store the next batch; True if there may be more."""
        lines, end = await self._next()
        if not lines:
            if end != self._position:  # skipped torn or unreadable lines
                self._position = end
                await self._checkpoint(force=True)
            return False
        async with self._pool.connection() as conn:
            await conn.execute("SET LOCAL statement_timeout = 30000")
            inserted = await insert_lines(conn, lines)
        self.stored += inserted
        self.duplicates += len(lines) - inserted
        self.batches += 1
        if not self.db_up:
            log.info("database reachable: storing events (%s)", self.dsn.split(" ")[0])
        self.db_up, self.last_error = True, ""
        self._position = end
        while self._tail and self._tail[0][2] <= end:  # stored (from memory or the file)
            self._tail.popleft()
        return len(lines) >= self.batch

    async def _checkpoint(self, *, force: bool = False) -> None:
        """Write the stored position (at most every CHECKPOINT_SECONDS unless forced)."""
        now = time.monotonic()
        if self._position == self._committed or (
                not force and now - self._committed_at < CHECKPOINT_SECONDS):
            return
        position = self._position
        try:
            await asyncio.to_thread(self.spool.commit, position)
        except OSError as exc:  # stored all the same; a restart replays them (idempotent)
            log.error("spool checkpoint not written (%s): a restart sends these events "
                      "again, which is harmless", exc.strerror or exc)
            return
        self._committed, self._committed_at = position, now

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(SYNC_SECONDS)
            if self.held and not self.flush_held():
                self._wake.set()
            try:
                await asyncio.to_thread(self.spool.sync)
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
                await self._checkpoint(force=True)
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

    @property
    def caught_up(self) -> bool:
        """Whether every event an earlier run spooled is in the store."""
        return self._position >= self.earlier_end

    def snapshot(self) -> dict[str, Any]:
        return {"database": self.dsn.split(" password")[0] if self.dsn else None,
                "configured": self.dsn_factory is not None,
                "db_up": self.db_up, "spooled": self.spool.appended, "stored": self.stored,
                "duplicates_skipped": self.duplicates, "failures": self.failures,
                "batches": self.batches, "read_back": self.read_back,
                "backlog_bytes": self.spool.backlog_bytes(self._position),
                "corrupt_lines": self.spool.corrupt, "last_error": self.last_error,
                "spool_error": self.spool_error, "held_in_memory": len(self.held),
                "held_max": self.held_max, "lost_overflow": self.lost_overflow}
