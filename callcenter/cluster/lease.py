"""The ACD leader's lease: one row of `cluster_lease` in PostgreSQL (docs/cluster.md).

A daemon holds the lease while it renews it every `renew_seconds`; the row expires
`ttl_seconds` after the last renewal, by the server's clock (daemons' clocks never matter).
Every new holder bumps the `term`, the fencing token the leader's actions carry. A standby
takes an expired lease, or at once one whose holder's lease connection is gone (the holder
was killed: PostgreSQL closed its backend).

The leader deposes itself — before any standby can take over — when a renewal has not
succeeded within `ttl_seconds - margin` of the last one it sent, and at once when its lease
connection fails: a leader that cannot prove its lease stops acting. A graceful `release()`
expires the row at once and wakes the standbys (NOTIFY `cluster_lease`), which take it in
milliseconds instead of at their next try.

The API:

    lease = LeaderLease(dsn, "acd-1")        # ttl_seconds=3.0, renew_seconds=0.5, margin=0.5
    lease.on_lead = hook                      # hook(term), plain or async: now leading
    lease.on_lose = hook                      # hook(term, why): stop acting now
    task = asyncio.ensure_future(lease.run_forever())   # never raises for the database
    lease.leading, lease.term, lease.holder   # this daemon: leads?, its term, its name
    lease.status()                            # the row as last read, and the last error
    await lease.release()                     # shutting down: give the lease back

`term` is the fencing token: store writes go through `callcenter.cluster.fencing`."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from callcenter.errors import ClusterError

__all__ = ["LeaderLease", "LeaseError"]

log = logging.getLogger(__name__)

# a dead peer on the lease connection is noticed within ~3 s, not the kernel's two hours
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 1, "keepalives_interval": 1,
              "keepalives_count": 2, "connect_timeout": 3}

_ACQUIRE = """
INSERT INTO cluster_lease AS l (name, holder, term, expires_at, renewed_at, backend_pid)
VALUES (%(name)s, %(me)s, 1, now() + %(ttl)s * interval '1 second', now(), pg_backend_pid())
ON CONFLICT (name) DO UPDATE
   SET holder = EXCLUDED.holder, term = l.term + 1, expires_at = EXCLUDED.expires_at,
       renewed_at = now(), backend_pid = pg_backend_pid()
 WHERE l.expires_at < now()
    OR l.holder = EXCLUDED.holder
    OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.backend_pid)
RETURNING term
"""
_RENEW = """
UPDATE cluster_lease
   SET expires_at = now() + %(ttl)s * interval '1 second', renewed_at = now(),
       backend_pid = pg_backend_pid()
 WHERE name = %(name)s AND holder = %(me)s AND term = %(term)s AND expires_at >= now()
RETURNING term
"""
_READ = "SELECT holder, term, extract(epoch FROM expires_at - now()) FROM cluster_lease " \
        "WHERE name = %(name)s"
# the standbys LISTEN on CHANNEL between tries: a lease given back is taken at once
CHANNEL = "cluster_lease"
_RELEASE = f"""
WITH r AS (UPDATE cluster_lease SET expires_at = now() - interval '1 second'
            WHERE name = %(name)s AND holder = %(me)s AND term = %(term)s RETURNING name)
SELECT pg_notify('{CHANNEL}', name) FROM r
"""


class LeaseError(ClusterError):
    """The lease could not be read or written (PostgreSQL unreachable, no schema)."""


Hook = Callable[..., Awaitable[None] | None]


def _first_line(exc: BaseException) -> str:
    """An error as one line for status() and the log (psycopg's run to several)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class LeaderLease:
    def __init__(self, dsn: str | Callable[[], str], holder: str, *, name: str = "acd",
                 ttl_seconds: float = 3.0, renew_seconds: float = 0.5, margin: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < renew_seconds < ttl_seconds - margin:
            raise LeaseError(f"renew every {renew_seconds:g} s is not well inside a lease "
                             f"of {ttl_seconds:g} s (margin {margin:g} s)")
        self.dsn = dsn
        self.holder = holder
        self.name = name
        self.ttl, self.renew_every, self.margin = ttl_seconds, renew_seconds, margin
        self.clock = clock
        self.on_lead: Hook | None = None  # (term) once leading
        self.on_lose: Hook | None = None  # (term, why) once no longer leading
        self.term = 0
        self._held = False  # took the lease and has not lost it yet (see `leading`)
        self.deadline = 0.0  # local time after which a leader must not act
        self.last_error = ""
        self.seen: dict[str, Any] = {}  # the row as last read: holder, term, expires_in
        self._conn: psycopg.AsyncConnection[Any] | None = None

    @property
    def leading(self) -> bool:
        """True while this daemon may act as the leader: it holds the lease and its local
        deadline has not passed (a leader that was frozen knows at once that it is over)."""
        return self._held and self.clock() < self.deadline

    # ---- the rules, apart from the database ----------------------------------------------
    def renewed(self, sent_at: float) -> None:
        """A renewal sent at local time `sent_at` succeeded: the lease is ours for at least
        `ttl` from then on the server, so we may act until `ttl - margin` from then."""
        self.deadline = sent_at + self.ttl - self.margin

    def expired(self) -> bool:
        """A leader past its local deadline must stop acting now."""
        return self._held and self.clock() >= self.deadline

    # ---- running ------------------------------------------------------------------------
    async def run_forever(self) -> None:
        """Take, renew and give up the lease until cancelled; never raises for the
        database's sake."""
        try:
            while True:
                started = self.clock()
                # a leader's renewal may not outlast its deadline (a silent network holds a
                # query for as long as TCP keepalives take)
                limit = max(self.deadline - started, 0.05) if self._held else self.ttl
                try:
                    await asyncio.wait_for(self.step(), limit)
                    self.last_error = ""
                except TimeoutError:
                    self.last_error = f"PostgreSQL did not answer within {limit:.1f} s"
                    await self._close()
                    if self._held:
                        await self._lose(self.last_error)
                except (psycopg.Error, OSError, LeaseError) as exc:
                    self.last_error = _first_line(exc)
                    await self._close()
                    if self._held:  # it cannot prove its lease: it stops acting now
                        await self._lose(f"lease connection failed: {self.last_error}")
                    else:
                        log.warning("lease: %s", self.last_error)
                if self.expired():
                    await self._lose("the lease was not renewed in time")
                wait = self.renew_every - (self.clock() - started)
                await self._pause(max(wait, 0.05))
        finally:
            await self._close()

    async def step(self) -> None:
        """One renewal (leading) or one try to take the lease (standing by)."""
        conn = await self._connection()
        params = {"name": self.name, "me": self.holder, "ttl": self.ttl, "term": self.term}
        sent = self.clock()
        if self._held:
            cur = await conn.execute(_RENEW, params)
            if await cur.fetchone() is None:
                await self._lose("another daemon holds the lease")
            else:
                self.renewed(sent)
        else:
            cur = await conn.execute(_ACQUIRE, params)
            row = await cur.fetchone()
            if row is not None:
                self.term = int(row[0])
                self.renewed(sent)
                self._held = True
                log.info("lease %s taken by %s: term %d", self.name, self.holder, self.term)
                await self._call(self.on_lead, self.term)
        cur = await conn.execute(_READ, params)
        row = await cur.fetchone()
        if row is not None:
            self.seen = {"holder": row[0], "term": int(row[1]),
                         "expires_in": round(float(row[2]), 2)}

    async def release(self) -> None:
        """Give the lease back (a daemon stopping): the standby takes it at its next try."""
        if not self._held:
            return
        term = self.term
        self._held = False
        with contextlib.suppress(psycopg.Error, OSError, LeaseError):
            conn = await self._connection()
            await conn.execute(_RELEASE, {"name": self.name, "me": self.holder,
                                          "term": term})
            log.info("lease %s given back by %s (term %d)", self.name, self.holder, term)
        await self._close()

    def status(self) -> dict[str, Any]:
        return {"holder": self.seen.get("holder", ""), "term": self.seen.get("term", 0),
                "expires_in": self.seen.get("expires_in"), "leading": self.leading,
                "my_term": self.term, "error": self.last_error}

    # ---- helpers ------------------------------------------------------------------------
    async def _pause(self, seconds: float) -> None:
        """Wait for the next try; a standby wakes early when a lease is given back."""
        conn = self._conn
        if self._held or conn is None or conn.closed:
            await asyncio.sleep(seconds)
            return
        try:
            async for _note in conn.notifies(timeout=seconds, stop_after=1):
                log.debug("lease %s: a lease was given back", self.name)
        except (psycopg.Error, OSError) as exc:
            self.last_error = _first_line(exc)
            await self._close()

    async def _lose(self, why: str) -> None:
        if not self._held:
            return
        self._held = False
        log.warning("lease %s lost by %s (term %d): %s", self.name, self.holder, self.term,
                    why)
        await self._call(self.on_lose, self.term, why)

    @staticmethod
    async def _call(hook: Hook | None, *args: Any) -> None:
        if hook is None:
            return
        try:
            result = hook(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("a lease hook failed")

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            dsn = self.dsn() if callable(self.dsn) else self.dsn
            if not dsn:
                raise LeaseError("no database yet (the store has not connected)")
            self._conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True,
                                                               **KEEPALIVES)
            timeout_ms = int(max(self.renew_every, 0.5) * 2000)
            await self._conn.execute(f"SET statement_timeout = {timeout_ms}")
            await self._conn.execute(f"LISTEN {CHANNEL}")
        return self._conn

    async def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None
