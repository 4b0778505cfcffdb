"""The reports that are not queue-entry figures: agents (handled, missed, time by state),
trunks, IVR outcomes, surveys. Definitions in docs/metrics.md."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from callcenter.reports.figures import rate, secs
from callcenter.reports.model import Filters, Report

__all__ = ["SURVEY_COLUMNS", "agents_report", "ivr_report", "survey_rows", "surveys_report",
           "trunks_report"]


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


# the surveys' events in the window, with the selection's filters; `outcome` is recorded
# since issue 12 (older answers always had a score: "answered")
_SURVEY_EVENTS = """
WITH s AS (
    SELECT call_id, kind, agent_id, queue, site, (at AT TIME ZONE %(tz)s)::date AS day,
        data->>'question' AS question, (data->>'score')::int AS score,
        (data->>'scale')::int AS scale,
        coalesce(data->>'outcome', CASE WHEN data->>'score' IS NULL THEN 'invalid'
                                        ELSE 'answered' END) AS outcome
    FROM events
    WHERE kind IN ('survey.start', 'survey.answer') AND at >= %(start)s AND at < %(end)s
      AND (%(agent)s::text IS NULL OR agent_id = %(agent)s)
      AND (%(queue)s::text IS NULL OR queue = %(queue)s)
      AND (%(site)s::text IS NULL OR site = %(site)s)
)
"""
_BY = """CASE WHEN GROUPING(day) = 0 THEN 'day' WHEN GROUPING(agent_id) = 0 THEN 'agent'
    WHEN GROUPING(queue) = 0 THEN 'queue' WHEN GROUPING(site) = 0 THEN 'site' ELSE 'all' END,
    coalesce(day::text, agent_id, queue, site)"""
_SURVEY_CALLS = _SURVEY_EVENTS + f"""
SELECT {_BY}, count(DISTINCT call_id),
    count(DISTINCT call_id) FILTER (WHERE kind = 'survey.answer' AND score IS NOT NULL)
FROM s GROUP BY GROUPING SETS ((), (day), (agent_id), (queue), (site))
"""
_SURVEY_ANSWERS = _SURVEY_EVENTS + f"""
SELECT {_BY}, question, score, outcome, max(scale), count(*)
FROM s WHERE kind = 'survey.answer'
GROUP BY GROUPING SETS ((question, score, outcome), (day, question, score, outcome),
    (agent_id, question, score, outcome), (queue, question, score, outcome),
    (site, question, score, outcome))
"""
SURVEY_DIMENSIONS = ("all", "day", "agent", "queue", "site")
SURVEY_COLUMNS = ["by", "group", "question", "surveyed", "participated", "participation",
                  "answers", "csat", "timeouts", "wrong_keys", "distribution"]


def survey_rows(calls: list[tuple[Any, ...]], answers: list[tuple[Any, ...]]
                ) -> list[list[Any]]:
    """The surveys report's rows from the two queries' results (`calls`: by, group,
    surveyed, participated; `answers`: by, group, question, score, outcome, scale, count):
    one row per dimension, group and question, CSAT as the share of the top two scores."""
    groups: dict[tuple[str, str], list[int]] = {}
    for by, grp, surveyed, participated in calls:
        groups[(by, grp or "-")] = [surveyed, participated]
    scored: dict[tuple[str, str, str], Counter[int]] = defaultdict(Counter)
    missed: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    scale: dict[tuple[str, str, str], int] = {}
    for by, grp, question, score, outcome, sc, n in answers:
        key = (by, grp or "-", question or "-")
        scale[key] = max(scale.get(key, 0), sc or 5)
        if score is not None and outcome == "answered":
            scored[key][score] += n
        else:
            missed[key][outcome] += n
    rows = []
    order = {d: i for i, d in enumerate(SURVEY_DIMENSIONS)}
    for (by, grp), (surveyed, participated) in sorted(
            groups.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][1])):
        questions = sorted(q for (b, g, q) in scale if (b, g) == (by, grp)) or ["-"]
        for question in questions:
            key = (by, grp, question)
            scores, top = scored.get(key, Counter()), scale.get(key, 5)
            n = sum(scores.values())
            rows.append([by, grp, question, surveyed, participated,
                         rate(participated, surveyed), n,
                         rate(sum(c for s, c in scores.items() if s >= top - 1), n),
                         missed.get(key, Counter())["timeout"],
                         missed.get(key, Counter())["invalid"],
                         " ".join(f"{s}:{scores.get(s, 0)}" for s in range(1, top + 1))])
    return rows


def surveys_report(conn: Any, f: Filters) -> Report:
    p = f.params()
    rows = survey_rows(conn.execute(_SURVEY_CALLS, p).fetchall(),
                       conn.execute(_SURVEY_ANSWERS, p).fetchall())
    return Report("surveys", "Satisfaction surveys", SURVEY_COLUMNS, rows,
                  ["by: all calls, then per day (the site's time zone), agent, queue and "
                   "site of the surveyed call (docs/surveys.md)",
                   "csat: answers in the top two scores of the scale ÷ answers (not the "
                   "mean)",
                   "surveyed: calls that heard the survey; participated: those with at "
                   "least one scored answer; participation = participated ÷ surveyed",
                   "timeouts (no key) and wrong keys (outside the scale) are counted per "
                   "try, apart from the answers"])
