"""The stored events in Asterisk's queue_log format, for QueueMetrics, Asternic and every
other tool that reads it: `epoch|callid|queue|agent|VERB|data1|data2|...` (docs/queue_log.md).

Agents are written `Agent/<id>`; positions are 1 (our ACD orders by priority and wait, not
by a position). The events stream through a server-side cursor, so a year of calls does not
sit in memory; entries in progress are remembered only until they end."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["queue_log_lines"]

_SQL = """
SELECT at, kind, call_id, queue, agent_id, data FROM events
WHERE at >= %(start)s AND at < %(end)s
  AND (kind LIKE 'queue.%%' OR kind = 'agent.state')
  AND (%(queue)s::text IS NULL OR queue = %(queue)s OR kind = 'agent.state')
ORDER BY at, seq
"""
_UNSAFE = re.compile(r"[|\r\n\x00-\x1f]")


def _field(value: Any) -> str:
    """A field can never break the line or add one: pipes and control characters go."""
    return _UNSAFE.sub(" ", "" if value is None else str(value))


def _s(ms: Any) -> int:
    return round(int(ms or 0) / 1000)


def _line(at: dt.datetime, call: str, queue: str, agent: str, verb: str, *data: Any) -> str:
    fields = [str(int(at.timestamp())), call or "NONE", queue or "NONE", agent or "NONE", verb,
              *data]
    return "|".join(_field(f) for f in fields)


def queue_log_lines(conn: Any, start: dt.datetime, end: dt.datetime,
                    queue: str | None = None) -> Iterator[str]:
    waits: dict[str, int] = {}  # entry -> seconds waited before the answer
    with conn.cursor(name="queue_log") as cur:
        cur.itersize = 5000
        cur.execute(_SQL, {"start": start, "end": end, "queue": queue})
        for at, kind, call, q, agent_id, data in cur:
            agent = f"Agent/{agent_id}" if agent_id else "NONE"
            entry = data.get("entry", "")
            if kind == "queue.enter":
                if data.get("reason") != "requeue":
                    yield _line(at, call, q, "NONE", "ENTERQUEUE", "", data.get("caller", ""),
                                1)
            elif kind == "queue.ringnoanswer":
                yield _line(at, call, q, agent, "RINGNOANSWER", data.get("ring_ms", 0))
            elif kind == "queue.answer":
                waits[entry] = _s(data.get("wait_ms"))
                yield _line(at, call, q, agent, "CONNECT", waits[entry], call,
                            _s(data.get("ring_ms")))
            elif kind == "queue.complete":
                verb = "COMPLETEAGENT" if data.get("by") == "agent" else "COMPLETECALLER"
                yield _line(at, call, q, agent, verb, waits.pop(entry, 0),
                            _s(data.get("talk_ms")), 1)
            elif kind == "queue.transfer":
                yield _line(at, call, q, agent, "BLINDTRANSFER", data.get("to_queue", ""),
                            "queue", waits.pop(entry, 0), _s(data.get("talk_ms")), 1)
            elif kind == "queue.abandon":
                yield _line(at, call, q, "NONE", "ABANDON", 1, 1, _s(data.get("wait_ms")))
            elif kind == "queue.overflow":
                yield _line(at, call, q, "NONE", "EXITWITHTIMEOUT", 1, 1,
                            _s(data.get("wait_ms")))
            elif kind == "queue.callback_request":
                yield _line(at, call, q, "NONE", "EXITWITHKEY", 1, 1, 1,
                            _s(data.get("wait_ms")))
            elif kind == "agent.state":
                yield from _agent_lines(at, agent, data)


def _agent_lines(at: dt.datetime, agent: str, data: dict[str, Any]) -> Iterator[str]:
    state, prev = data.get("state"), data.get("prev")
    if prev == "logged_out":
        yield _line(at, "NONE", "NONE", agent, "ADDMEMBER", "")
    if state == "logged_out":
        yield _line(at, "NONE", "NONE", agent, "REMOVEMEMBER", "")
    elif state == "paused":
        yield _line(at, "NONE", "NONE", agent, "PAUSEALL", data.get("reason", ""))
    elif prev == "paused":
        yield _line(at, "NONE", "NONE", agent, "UNPAUSEALL", data.get("prev_reason", ""))
