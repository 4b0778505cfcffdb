"""The leader's term as a fencing token (docs/cluster.md, "Leadership and fencing").

A deposed leader may still be running a write it started, or wake from a pause and send one:
the fence refuses it wherever the write lands.

PostgreSQL — a store write of the leader runs only while `cluster_lease.term` still equals
the term it leads with:

    async with fenced(conn, term):            # several statements, one transaction
        await conn.execute("UPDATE ...", params)
    await fenced_execute(conn, term, sql, params)   # one statement

The lease row is read `FOR SHARE`, so a take-over (an UPDATE of that row) waits until the
fenced transaction has committed: every write of term T is in before term T+1 begins.
Keep fenced transactions short — they also hold off the leader's own renewals — and they
cannot stay open: PostgreSQL ends one that idles longer than `IDLE_LIMIT` (a frozen leader
must not keep its successor waiting on the row lock). `FencedError` says the term moved on.

Asterisk — `term_action(term)` is the AMI action that publishes the term to a node's AstDB
(`cc-cluster/term`, it survives an Asterisk restart); an offer context that knows its
offer's term in `CC_TERM` rings a phone only if `OFFER_GUARD` is true."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg

from callcenter.contract import Var
from callcenter.errors import ClusterError

__all__ = ["DB_FAMILY", "DB_KEY", "IDLE_LIMIT", "OFFER_GUARD", "FencedError", "fenced",
           "fenced_execute", "hold_term", "term_action"]

DB_FAMILY = "cc-cluster"
DB_KEY = "term"
# `0` before each side: a node that never heard a term reads "" (an expression error) — as
# 0 it lets the offer through, just as the node would before any leader existed
OFFER_GUARD = f"$[0${{{Var.TERM.value}}} >= 0${{DB({DB_FAMILY}/{DB_KEY})}}]"
IDLE_LIMIT = "1s"

_CHECK = "SELECT term FROM cluster_lease WHERE name = %s FOR SHARE"

Params = Sequence[Any] | Mapping[str, Any] | None


class FencedError(ClusterError):
    """A write of a leader whose term is over: another daemon leads now."""

    def __init__(self, term: int, current: int | None, name: str = "acd") -> None:
        self.term, self.current = term, current
        now = f"term {current}" if current is not None else "no lease row at all"
        super().__init__(f"write refused: it was made for term {term} of lease {name!r}, "
                         f"which is now {now} — this daemon no longer leads the ACD")


@asynccontextmanager
async def fenced(conn: psycopg.AsyncConnection[Any], term: int, *,
                 name: str = "acd") -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A transaction on `conn` that holds the lease row at `term`; raises FencedError
    (nothing written) when the lease has another term."""
    async with conn.transaction():
        await hold_term(conn, term, name=name)
        yield conn


async def hold_term(conn: psycopg.AsyncConnection[Any], term: int, *,
                    name: str = "acd") -> None:
    """Inside a transaction already open on `conn`: hold the lease row at `term` until it
    ends, or raise FencedError (the caller's transaction then writes nothing)."""
    await conn.execute(f"SET LOCAL idle_in_transaction_session_timeout = '{IDLE_LIMIT}'")
    cur = await conn.execute(_CHECK, (name,))
    row = await cur.fetchone()
    current = int(row[0]) if row is not None else None
    if current != term:
        raise FencedError(term, current, name)


async def fenced_execute(conn: psycopg.AsyncConnection[Any], term: int, sql: str,
                         params: Params = None, *,
                         name: str = "acd") -> psycopg.AsyncCursor[Any]:
    """Run one statement only while the lease is still at `term` (see `fenced`)."""
    async with fenced(conn, term, name=name):
        return await conn.execute(sql, params)


def term_action(term: int) -> dict[str, str]:
    """The AMI action that tells a node the current term (send it to every node)."""
    if term < 1:
        raise ClusterError(f"term {term} is not a leader's term (terms start at 1)")
    return {"Action": "DBPut", "Family": DB_FAMILY, "Key": DB_KEY, "Val": str(term)}
