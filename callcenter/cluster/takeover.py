"""What a daemon that takes the lead learns before it takes calls (docs/cluster.md): each
agent's state as the deposed leader last recorded it (the last `agent.state` event in
PostgreSQL), the phones on live channels from every node's AMI, and the calls in progress
whose ends it now records."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any

import psycopg

from callcenter.agents.state import AgentRecord, AgentState

__all__ = ["last_agent_states", "open_calls", "take_over"]

log = logging.getLogger(__name__)

# the newest event of each agent; the index events_agent_at (agent_id, at) serves it
_LAST_STATES = """
SELECT DISTINCT ON (agent_id) agent_id, data
  FROM events
 WHERE kind = 'agent.state' AND agent_id IS NOT NULL
 ORDER BY agent_id, at DESC, seq DESC
"""

# calls started (by any daemon) and not ended, among the channels alive now; events_call
# (call_id) serves each lookup
_OPEN_CALLS = """
SELECT s.call_id, s.at,
       (SELECT i.data->>'outcome' FROM events i
         WHERE i.call_id = s.call_id AND i.kind = 'ivr.end' ORDER BY i.seq DESC LIMIT 1)
  FROM events s
 WHERE s.kind = 'call.start' AND s.call_id = ANY(%s)
   AND NOT EXISTS (SELECT 1 FROM events e WHERE e.call_id = s.call_id AND e.kind = 'call.end')
"""


async def last_agent_states(dsn: str, agent_ids: list[str]) -> dict[str, AgentRecord]:
    """Each known agent's last recorded state; agents never recorded are left out."""
    known = set(agent_ids)
    out: dict[str, AgentRecord] = {}
    async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=5) as conn:
        cur = await conn.execute(_LAST_STATES)
        for agent_id, data in await cur.fetchall():
            if agent_id not in known:
                continue
            rec = _record(agent_id, data or {})
            if rec is not None:
                out[agent_id] = rec
    return out


def _record(agent_id: str, data: dict[str, Any]) -> AgentRecord | None:
    try:
        state = AgentState(str(data.get("state", "")))
    except ValueError:
        log.warning("agent %s: last recorded state %r is unknown; left as it is", agent_id,
                    data.get("state"))
        return None
    since = 0.0
    if data.get("since"):
        with contextlib.suppress(ValueError):
            since = dt.datetime.fromisoformat(str(data["since"])).timestamp()
    return AgentRecord(agent_id, state, since, str(data.get("device") or ""),
                       str(data.get("reason") or ""), 0)


async def open_calls(dsn: str, live: list[str]) -> dict[str, tuple[float, str]]:
    """Of the calls on `live` channels (unique ids), those recorded as started and not as
    ended: call id -> (start in epoch seconds, the flow's outcome if it ended)."""
    if not live:
        return {}
    async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=5) as conn:
        cur = await conn.execute(_OPEN_CALLS, (live,))
        return {call_id: (at.timestamp(), outcome or "")
                for call_id, at, outcome in await cur.fetchall()}


async def take_over(dsn: str, book: Any, acd: Any, channels: Any, spans: Any = None) -> int:
    """Bring the book (and through it the scheduler and the lamps) to the last recorded
    states, let the ACD relearn which phones are on a live call, and take on the ends of
    the calls in progress; returns how many agents changed."""
    records = await last_agent_states(dsn, list(book.agents))
    changed = book.restore(records.values())
    await channels.resync()
    acd.relearn_phones(channels)
    if spans is not None:
        calls = await open_calls(dsn, list(channels.channels))
        spans.adopt_open(calls, channels.channels)
        log.info("take-over: %d calls in progress whose ends this daemon records",
                 len(calls))
    log.info("take-over: %d of %d agents brought to their last recorded state", changed,
             len(book.agents))
    return changed
