"""Figures per call to the number (the hotline's 接通率): each call that reached the system
counts once, whatever path it took — hung up in the IVR, closed hours, nobody logged in,
the fallback, one queue or several. Queue figures (per queue entry) stay beside these.

A call belongs to the window its first event is in; it counts for the site of the agent who
answered it, else of the last queue it waited in, else of the number it dialled."""

from __future__ import annotations

from typing import Any

from callcenter.reports.figures import rate
from callcenter.reports.model import Filters

__all__ = ["ENDINGS", "NATIONAL", "agent_sites_sql", "call_figures", "empty_calls"]

NATIONAL = "(national)"  # the group of what has no site: national queues nobody answered

# how an unanswered call ended, in the order the checks apply
ENDINGS = ("abandoned", "callback", "overflow", "unstaffed", "ivr_hangup", "voicemail",
           "fallback", "transferred_out", "unfinished", "other")

# a call's events can start before the window's start and its entries end after its end
_SLACK = "interval '6 hours'"


def agent_sites_sql(entries_where: str) -> str:
    """A CTE body: the site of each agent who answered one of the entries `entries_where`
    selects, from the agent's last `agent.state` (the event carries the agent's site)."""
    return f"""
    SELECT a.agent_id, s.site FROM (
        SELECT DISTINCT agent_id FROM queue_entries
        WHERE agent_id IS NOT NULL AND {entries_where}) a
    CROSS JOIN LATERAL (
        SELECT site FROM events
        WHERE events.agent_id = a.agent_id AND kind = 'agent.state' AND site IS NOT NULL
          AND at < %(end)s
        ORDER BY at DESC LIMIT 1) s"""


_CALLS = f"""
WITH starts AS (
    SELECT call_id, min(at) AS first_at,
        bool_or(kind = 'queue.unstaffed') AS unstaffed,
        array_agg(queue) FILTER (WHERE kind = 'queue.unstaffed') AS unstaffed_queues,
        (array_agg(site ORDER BY at DESC, seq DESC)
            FILTER (WHERE kind = 'queue.unstaffed' AND site IS NOT NULL))[1] AS unstaffed_site,
        (array_agg(site ORDER BY at, seq) FILTER (WHERE kind = 'call.start'))[1] AS number_site,
        (array_agg(data->>'outcome' ORDER BY at DESC, seq DESC)
            FILTER (WHERE kind = 'ivr.end'))[1] AS ivr_outcome
    FROM events
    WHERE kind IN ('call.start', 'ivr.end', 'queue.unstaffed', 'queue.enter')
      AND at >= %(start)s - {_SLACK} AND at < %(end)s AND call_id IS NOT NULL
    GROUP BY call_id HAVING min(at) >= %(start)s
),
entries AS (
    SELECT call_id, bool_or(outcome = 'answered') AS answered,
        (array_agg(agent_id ORDER BY answered_at) FILTER (WHERE outcome = 'answered'))[1]
            AS agent_id,
        (array_agg(site ORDER BY answered_at) FILTER (WHERE outcome = 'answered'))[1]
            AS answer_site,
        (array_agg(site ORDER BY entered_at DESC) FILTER (WHERE site IS NOT NULL))[1]
            AS last_site,
        (array_agg(outcome ORDER BY entered_at DESC, last_seq DESC))[1] AS last_outcome,
        (array_agg(overflow_target ORDER BY entered_at DESC, last_seq DESC))[1] AS last_target,
        bool_and(outcome = 'abandoned' AND wait_ms < %(short_ms)s) AS short,
        array_agg(DISTINCT queue) AS queues
    FROM queue_entries
    WHERE entered_at >= %(start)s - {_SLACK} AND entered_at < %(end)s + {_SLACK}
      AND call_id IN (SELECT call_id FROM starts)
    GROUP BY call_id
),
agent_site AS ({agent_sites_sql(
    "entered_at >= %(start)s - " + _SLACK + " AND entered_at < %(end)s + " + _SLACK
    + " AND outcome = 'answered'")}
),
calls AS (
    SELECT s.*, coalesce(e.answered, false) AS answered, e.agent_id, e.queues,
        coalesce(e.short, false) AS short,
        CASE WHEN e.answered THEN coalesce(a.site, e.answer_site)
             ELSE coalesce(e.last_site, s.unstaffed_site, s.number_site) END AS call_site,
        CASE WHEN e.answered THEN 'answered'
             WHEN e.last_outcome = 'callback' THEN 'callback'
             WHEN e.last_outcome = 'abandoned' THEN 'abandoned'
             WHEN e.last_outcome = 'unfinished' THEN 'unfinished'
             WHEN e.last_outcome = 'overflowed' AND e.last_target LIKE 'voicemail:%%'
                 THEN 'voicemail'
             WHEN e.last_outcome = 'overflowed' THEN 'overflow'
             WHEN s.unstaffed THEN 'unstaffed'
             WHEN s.ivr_outcome IN ('caller_hangup', 'hangup') THEN 'ivr_hangup'
             WHEN s.ivr_outcome = 'voicemail' THEN 'voicemail'
             WHEN s.ivr_outcome = 'fallback' THEN 'fallback'
             WHEN s.ivr_outcome = 'transfer' THEN 'transferred_out'
             ELSE 'other' END AS ended
    FROM starts s
    LEFT JOIN entries e USING (call_id)
    LEFT JOIN agent_site a ON a.agent_id = e.agent_id
)
SELECT {{group}} AS grp, ended, count(*) FILTER (WHERE NOT short OR %(count_short)s),
    count(*) FILTER (WHERE short)
FROM calls
WHERE (%(site)s::text IS NULL OR call_site = %(site)s)
  AND (%(queue)s::text IS NULL OR %(queue)s = ANY(queues)
       OR %(queue)s = ANY(unstaffed_queues))
  AND (%(agent)s::text IS NULL OR agent_id = %(agent)s)
GROUP BY 1, 2
"""
_CALL_GROUPS = {"summary": "'all'", "sites": f"coalesce(call_site, '{NATIONAL}')"}


def empty_calls() -> dict[str, Any]:
    """The call figures of a group without calls."""
    return {"calls": 0, "calls_answered": 0, "call_answer_rate": None,
            **{f"calls_{e}": 0 for e in ENDINGS}, "calls_short_abandoned": 0}


def call_figures(conn: Any, name: str, f: Filters) -> dict[Any, dict[str, Any]]:
    """Per group of the report `name` (summary or sites): calls, answered calls, their
    answer rate and how the others ended. A call that only ever abandoned within the short
    threshold is left out (and counted apart) unless short abandons count."""
    out: dict[Any, dict[str, Any]] = {}
    sql = _CALLS.replace("{group}", _CALL_GROUPS[name])
    for grp, ended, n, short in conn.execute(sql, f.params()).fetchall():
        g = out.setdefault(grp, empty_calls())
        g["calls"] += n
        g["calls_short_abandoned"] += short
        g["calls_answered" if ended == "answered" else f"calls_{ended}"] += n
    for g in out.values():
        g["call_answer_rate"] = rate(g["calls_answered"], g["calls"])
    return out
