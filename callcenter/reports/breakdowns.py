"""The reports that are not queue-entry figures: agents (handled, missed, time by state),
trunks, IVR outcomes, surveys. Definitions in docs/metrics.md."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from callcenter.reports.figures import rate, secs
from callcenter.reports.model import Filters, Report

__all__ = ["agents_report", "ivr_report", "surveys_report", "trunks_report"]


_STATES = """
SELECT agent_id, data->>'prev' AS state, coalesce(data->>'prev_reason', '') AS reason,
    sum(greatest(0, extract(epoch FROM least(at, %(end)s)
        - greatest((data->>'since')::timestamptz, %(start)s)))) AS seconds
FROM events
WHERE kind = 'agent.state' AND at > %(start)s AND (data->>'since')::timestamptz < %(end)s
  AND (%(agent)s::text IS NULL OR agent_id = %(agent)s)
  AND (%(site)s::text IS NULL OR site = %(site)s)
GROUP BY 1, 2, 3
"""
# the state each agent is in now (its last agent.state), counted up to the window's end or
# now; agent ids are walked through the (agent_id, at) index rather than scanned
_OPEN_STATES = """
WITH RECURSIVE agents AS (
    SELECT min(agent_id) AS id FROM events WHERE agent_id IS NOT NULL
    UNION ALL
    SELECT (SELECT min(agent_id) FROM events WHERE agent_id > agents.id)
    FROM agents WHERE agents.id IS NOT NULL
)
SELECT agents.id, last.data->>'state', coalesce(last.data->>'reason', ''),
    extract(epoch FROM least(%(end)s, %(now)s) - greatest(last.at, %(start)s))
FROM agents
CROSS JOIN LATERAL (
    SELECT at, data, site FROM events
    WHERE agent_id = agents.id AND kind = 'agent.state'
    ORDER BY at DESC, seq DESC LIMIT 1
) AS last
WHERE agents.id IS NOT NULL AND last.at < least(%(end)s, %(now)s)
  AND (%(agent)s::text IS NULL OR agents.id = %(agent)s)
  AND (%(site)s::text IS NULL OR last.site = %(site)s)
  AND least(%(end)s, %(now)s) > %(start)s
"""
_HANDLED = """
SELECT agent_id, count(*), avg(coalesce(talk_ms, 0) + coalesce(wrap_ms, 0)),
    sum(coalesce(talk_ms, 0)), sum(coalesce(wrap_ms, 0))
FROM queue_entries
WHERE entered_at >= %(start)s AND entered_at < %(end)s AND outcome = 'answered'
  AND agent_id IS NOT NULL
  AND (%(agent)s::text IS NULL OR agent_id = %(agent)s)
  AND (%(queue)s::text IS NULL OR queue = %(queue)s)
GROUP BY 1
"""
_MISSED = """
SELECT agent_id, count(*) FROM events
WHERE kind = 'queue.ringnoanswer' AND at >= %(start)s AND at < %(end)s
  AND (%(agent)s::text IS NULL OR agent_id = %(agent)s)
  AND (%(queue)s::text IS NULL OR queue = %(queue)s)
GROUP BY 1
"""


def agents_report(conn: Any, f: Filters) -> Report:
    p = f.params()
    handled = {r[0]: r[1:] for r in conn.execute(_HANDLED, p).fetchall()}
    missed = dict(conn.execute(_MISSED, p).fetchall())
    states: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for query in (_STATES, _OPEN_STATES):
        for agent, state, reason, seconds in conn.execute(query, p).fetchall():
            states[agent][(state, reason)] += float(seconds)
    rows = []
    for agent in sorted(set(handled) | set(missed) | set(states)):
        st = states.get(agent, {})
        logged = sum(v for (s, _), v in st.items() if s != "logged_out")
        paused = {r or "-": v for (s, r), v in st.items() if s == "paused"}
        busy = sum(v for (s, _), v in st.items() if s in ("on_call", "wrap_up"))
        available = logged - sum(paused.values())
        n, aht, talk, wrap = handled.get(agent, (0, None, 0, 0))
        rows.append([agent, n, missed.get(agent, 0), secs(aht), secs(talk), secs(wrap),
                     round(logged / 60, 1), round(sum(paused.values()) / 60, 1),
                     ", ".join(f"{r} {v / 60:.1f} min" for r, v in sorted(paused.items())),
                     rate(int(busy), int(available)) if available > 0 else None])
    return Report("agents", "By agent",
                  ["agent", "handled", "missed_rings", "aht_s", "talk_s", "wrap_s",
                   "logged_in_min", "paused_min", "pause_by_reason", "occupancy"], rows,
                  [f"window: {f.start:%Y-%m-%d %H:%M %Z} to before {f.end:%Y-%m-%d %H:%M %Z}",
                   "handled: answered calls that entered the queue in the window",
                   "state times: intervals of agent.state clipped to the window; an "
                   "agent's current state counts up to now",
                   "occupancy: (on call + wrap-up) ÷ (logged in − paused)"])


_TRUNKS = """
SELECT data->>'trunk', coalesce(data->>'route', ''), 'inbound', count(*),
       count(*), 0
FROM events WHERE kind = 'call.start' AND at >= %(start)s AND at < %(end)s
  AND coalesce(data->>'trunk', '') <> '' AND (%(site)s::text IS NULL OR site = %(site)s)
GROUP BY 1, 2
UNION ALL
SELECT data->>'trunk', coalesce(data->>'route', ''), data->>'purpose', count(*),
       count(*) FILTER (WHERE data->>'status' = 'ANSWER'),
       count(*) FILTER (WHERE data->>'status' IN ('CHANUNAVAIL', 'CONGESTION'))
FROM events WHERE kind = 'trunk.attempt' AND at >= %(start)s AND at < %(end)s
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""


def trunks_report(conn: Any, f: Filters) -> Report:
    rows = [[t, r, d, n, a, fail, rate(fail, n)]
            for t, r, d, n, a, fail in conn.execute(_TRUNKS, f.params()).fetchall()]
    return Report("trunks", "By trunk and route",
                  ["trunk", "route", "direction", "calls", "answered", "failed", "failure_rate"],
                  rows, ["inbound: calls that reached a flow, by the trunk they came in on "
                         "and whether it is the number's first or second route",
                         "outbound/callback: each dial attempt; failed = the trunk was "
                         "unreachable or congested (the second route is then tried)"])


_IVR = """
SELECT data->>'flow', data->>'node', data->>'outcome', count(*)
FROM events WHERE kind = 'ivr.end' AND at >= %(start)s AND at < %(end)s
GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2, 3
"""


def ivr_report(conn: Any, f: Filters) -> Report:
    found = conn.execute(_IVR, f.params()).fetchall()
    total = sum(r[3] for r in found)
    rows = [[flow, node, outcome, n, rate(n, total)] for flow, node, outcome, n in found]
    return Report("ivr", "Where calls leave the IVR flows",
                  ["flow", "last_node", "outcome", "calls", "share"], rows,
                  ["caller_hangup at a node: the caller gave up there",
                   "queue / transfer / voicemail / hangup: where the flow sent the call"])


_SURVEYS = """
SELECT data->>'question', (data->>'score')::int, max((data->>'scale')::int), count(*)
FROM events WHERE kind = 'survey.answer' AND at >= %(start)s AND at < %(end)s
GROUP BY 1, 2 ORDER BY 1, 2
"""


def surveys_report(conn: Any, f: Filters) -> Report:
    by_q: dict[str, dict[int, int]] = {}
    scale: dict[str, int] = {}
    for question, score, sc, n in conn.execute(_SURVEYS, f.params()).fetchall():
        by_q.setdefault(question, {})[score] = n
        scale[question] = max(scale.get(question, 0), sc or 5)
    rows = []
    for question, scores in sorted(by_q.items()):
        n = sum(scores.values())
        avg = sum(s * c for s, c in scores.items()) / n
        top = sum(c for s, c in scores.items() if s >= scale[question] - 1)
        rows.append([question, n, round(avg, 2), scale[question], rate(top, n),
                     " ".join(f"{s}:{scores.get(s, 0)}" for s in range(1, scale[question] + 1))])
    return Report("surveys", "Satisfaction surveys",
                  ["question", "answers", "average", "scale", "satisfied", "distribution"],
                  rows, ["satisfied: share of answers in the top two scores of the scale"])
