"""The supervisor's figures, computed in PostgreSQL from the queue entries and the events.
Every definition is in docs/metrics.md; the notes of each report say which conventions it
used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from callcenter.reports.breakdowns import (
    agents_report,
    ivr_report,
    surveys_report,
    trunks_report,
)
from callcenter.reports.calls import NATIONAL, agent_sites_sql, call_figures, empty_calls
from callcenter.reports.figures import avg, rate, secs
from callcenter.reports.model import REPORTS, Filters, Report, ReportError
from callcenter.reports.outbound import OUTBOUND_BUILDERS
from callcenter.reports.projection import refresh

__all__ = ["build_report"]

# an entry of a national queue (no site) counts for the site of the agent who answered it
_ENTRIES = """
WITH agent_site AS (""" + agent_sites_sql(
    "entered_at >= %(start)s AND entered_at < %(end)s AND site IS NULL") + """
), e AS (
    SELECT q.*, coalesce(q.site, a.site) AS at_site,
        coalesce(t.seconds::bigint, %(sl_default)s) * 1000 AS t_ms,
        (q.outcome = 'abandoned' AND q.wait_ms < %(short_ms)s) AS short
    FROM queue_entries q
    LEFT JOIN agent_site a ON q.site IS NULL AND a.agent_id = q.agent_id
    LEFT JOIN jsonb_each_text(%(sl)s::jsonb) AS t(queue, seconds) ON t.queue = q.queue
    WHERE q.entered_at >= %(start)s AND q.entered_at < %(end)s
      AND (%(site)s::text IS NULL OR coalesce(q.site, a.site) = %(site)s)
      AND (%(queue)s::text IS NULL OR q.queue = %(queue)s)
      AND (%(agent)s::text IS NULL OR q.agent_id = %(agent)s)
)
SELECT {group} AS grp,
    count(*) FILTER (WHERE NOT short OR %(count_short)s) AS offered,
    count(*) FILTER (WHERE outcome = 'answered') AS answered,
    count(*) FILTER (WHERE outcome = 'abandoned' AND (NOT short OR %(count_short)s))
        AS abandoned,
    count(*) FILTER (WHERE short) AS short_abandoned,
    count(*) FILTER (WHERE abandoned_ringing) AS abandoned_ringing,
    sum(wait_ms) FILTER (WHERE outcome = 'answered') AS asa_sum,
    sum(wait_ms) FILTER (WHERE outcome <> 'unfinished' AND (NOT short OR %(count_short)s))
        AS wait_sum,
    count(wait_ms) FILTER (WHERE outcome <> 'unfinished' AND (NOT short OR %(count_short)s))
        AS wait_n,
    max(wait_ms) AS max_wait_ms,
    count(*) FILTER (WHERE outcome = 'answered' AND wait_ms <= t_ms) AS answered_within,
    count(*) FILTER (WHERE outcome = 'abandoned' AND wait_ms > t_ms) AS abandoned_after,
    sum(coalesce(talk_ms, 0) + coalesce(wrap_ms, 0))
        FILTER (WHERE outcome = 'answered' AND talk_ms IS NOT NULL) AS aht_sum,
    count(talk_ms) FILTER (WHERE outcome = 'answered') AS aht_n,
    count(*) FILTER (WHERE outcome = 'callback') AS callbacks_requested,
    count(*) FILTER (WHERE callback_result = 'completed') AS callbacks_completed,
    count(*) FILTER (WHERE outcome = 'overflowed') AS overflowed,
    count(*) FILTER (WHERE transferred_to IS NOT NULL) AS transferred,
    count(*) FILTER (WHERE outcome = 'unfinished') AS unfinished,
    min(t_ms) AS t_min, max(t_ms) AS t_max
FROM e GROUP BY grp
"""
_OUTER_MAX = {"max_wait_ms", "t_max"}

# hourly and daily: local time of day costs a time-zone conversion per row, so entries are
# first summed in 15-minute UTC buckets (whole for every zone offset) and only each bucket's
# start is converted
_BUCKETED = {
    "hourly": "extract(hour FROM to_timestamp(grp * 900) AT TIME ZONE %(tz)s)::int",
    "daily": "extract(isodow FROM to_timestamp(grp * 900) AT TIME ZONE %(tz)s)::int",
}


_SUMMED = ("offered", "answered", "abandoned", "short_abandoned", "abandoned_ringing",
           "asa_sum", "wait_sum", "wait_n", "answered_within", "abandoned_after", "aht_sum",
           "aht_n", "callbacks_requested", "callbacks_completed", "overflowed", "transferred",
           "unfinished")


def _entries_sql(name: str) -> str:
    if name not in _BUCKETED:
        # no time column in these
        return _ENTRIES.replace("{group}", _GROUPS[name].replace("{site}", "at_site"))
    inner = _ENTRIES.replace("{group}", "floor(extract(epoch FROM entered_at) / 900)::bigint")
    outer = ", ".join([*(f"sum({c})::bigint AS {c}" for c in _SUMMED),
                       "max(max_wait_ms) AS max_wait_ms", "min(t_min) AS t_min",
                       "max(t_max) AS t_max"])
    return f"SELECT {_BUCKETED[name]} AS grp, {outer} FROM ({inner}) buckets GROUP BY 1"


_UNSTAFFED = """
SELECT {group} AS grp, count(*) FROM events
WHERE kind = 'queue.unstaffed' AND at >= %(start)s AND at < %(end)s
  AND (%(site)s::text IS NULL OR site = %(site)s)
  AND (%(queue)s::text IS NULL OR queue = %(queue)s)
GROUP BY grp
"""

# the grouping of each grouped report, over a time column `{at}` (queue entries bucket
# hourly and daily first: _BUCKETED)
_GROUPS = {
    "summary": "'all'",
    "hourly": "extract(hour FROM {at} AT TIME ZONE %(tz)s)::int",
    "daily": "extract(isodow FROM {at} AT TIME ZONE %(tz)s)::int",
    "queues": "queue",
    "sites": f"coalesce({{site}}, '{NATIONAL}')",
}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _service_level(r: dict[str, Any], f: Filters) -> float | None:
    if f.sl_formula == "answered":
        return rate(r["answered_within"], r["answered"])
    return rate(r["answered_within"], r["answered"] + r["abandoned_after"])


SL_FORMULAS = {"offered": "answered within T ÷ (answered + abandoned after T)",
               "answered": "answered within T ÷ answered"}


def _conventions(f: Filters, thresholds: set[int], calls: bool) -> list[str]:
    t = "/".join(f"{s} s" for s in sorted(thresholds)) or f"{f.default_sl_seconds} s"
    short = (f"short abandons (under {f.short_abandon_seconds} s) are "
             + ("counted as offered and abandoned" if f.count_short_abandons
                else "left out of offered and abandoned"))
    notes = [f"window: entered the queue from {f.start:%Y-%m-%d %H:%M %Z} to before "
             f"{f.end:%Y-%m-%d %H:%M %Z}; selection: {f.described()}"]
    if calls:
        notes.append("call answer rate (the headline 接通率): calls answered by an agent ÷ "
                     "calls; every call that reached the system counts once, whatever path "
                     "it took (IVR, closed hours, nobody logged in, fallback, overflow, "
                     "transfer); a callback is not an answer; a national queue's call "
                     "counts for the answering agent's site")
    notes += [f"service level printed: {SL_FORMULAS[f.sl_formula]} (--sl-formula "
              f"{f.sl_formula}); SL of offered beside it: answered within T ÷ offered; T per "
              f"queue ({t})",
              "queue figures count queue entries: a call that overflows or is transferred "
              "is offered in each queue; answer rate: answered ÷ offered; " + short,
              "AHT: talk + wrap-up of answered calls; ASA: wait of answered calls"]
    return notes


def _entry_rows(conn: Any, name: str, f: Filters) -> tuple[list[dict[str, Any]], set[int]]:
    params = f.params()
    cur = conn.execute(_entries_sql(name), params)
    cols = [d.name for d in cur.description]
    rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    unstaffed = dict(conn.execute(_UNSTAFFED.replace("{group}",
                                                     _GROUPS[name].replace("{at}", "at")
                                                     .replace("{site}", "site")),
                                  params).fetchall()) if f.agent is None else {}
    thresholds: set[int] = set()
    for r in rows:
        r["unstaffed"] = unstaffed.pop(r["grp"], 0)
        if r["t_min"] is not None:
            thresholds |= {int(r["t_min"]) // 1000, int(r["t_max"]) // 1000}
    for grp, n in unstaffed.items():  # groups where every caller found nobody
        rows.append({"grp": grp, "unstaffed": n})
    return rows, thresholds


def _figures(r: dict[str, Any], f: Filters) -> dict[str, Any]:
    for key in _SUMMED:  # a group with no entries (only unstaffed callers, or none)
        r.setdefault(key, 0)
    return {"offered": r["offered"], "answered": r["answered"],
            "answer_rate": rate(r["answered"], r["offered"]), "abandoned": r["abandoned"],
            "short_abandoned": r["short_abandoned"],
            "abandoned_ringing": r["abandoned_ringing"],
            "asa_s": secs(avg(r.get("asa_sum"), r["answered"])),
            "avg_wait_s": secs(avg(r.get("wait_sum"), r.get("wait_n"))),
            "max_wait_s": secs(r.get("max_wait_ms")), "service_level": _service_level(r, f),
            "service_level_offered": rate(r["answered_within"], r["offered"]),
            "aht_s": secs(avg(r.get("aht_sum"), r.get("aht_n"))),
            "callbacks_requested": r["callbacks_requested"],
            "callbacks_completed": r["callbacks_completed"], "overflowed": r["overflowed"],
            "transferred": r["transferred"], "unstaffed": r.get("unstaffed", 0),
            "unfinished": r["unfinished"]}


def _grouped(conn: Any, name: str, f: Filters) -> Report:
    rows, thresholds = _entry_rows(conn, name, f)
    by_group = {r["grp"]: _figures(r, f) for r in rows}
    # the headline per call (summary, sites) before the per-entry figures
    calls = call_figures(conn, name, f) if name in ("summary", "sites") else None
    label = {"summary": "selection", "hourly": "hour", "daily": "weekday", "queues": "queue",
             "sites": "site"}[name]
    keys: list[Any]
    if name == "hourly":
        keys = list(range(24))
    elif name == "daily":
        keys = list(range(1, 8))
    elif name == "summary":
        keys = ["all"]
    else:
        keys = sorted(set(by_group) | set(calls or ()))
    empty = _figures({}, f)
    no_calls = empty_calls()
    if name == "sites":  # the breakdown of endings is the summary's
        no_calls = {k: no_calls[k] for k in ("calls", "calls_answered", "call_answer_rate")}
    out = []
    for k in keys:
        figs = by_group.get(k, empty)
        head = ({c: calls.get(k, no_calls).get(c, 0) for c in no_calls}
                if calls is not None else {})
        shown = (f"{k:02d}:00" if name == "hourly" else WEEKDAYS[k - 1] if name == "daily"
                 else f.described() if name == "summary" else k)
        out.append([shown, *head.values(), *figs.values()])
    titles = {"summary": "Summary", "hourly": "By hour of day", "daily": "By weekday",
              "queues": "By queue", "sites": "By site"}
    timed = name in ("hourly", "daily")
    return Report(name, titles[name],
                  [label, *(no_calls if calls is not None else ()), *empty.keys()], out,
                  _conventions(f, thresholds, calls is not None),
                  chart=(label, "offered") if timed else None,
                  charts=[(label, c) for c in ("offered", "service_level", "abandoned")]
                  if timed else [])


_BUILDERS: dict[str, Callable[[Any, Filters], Report]] = {
    "agents": agents_report, "trunks": trunks_report, "ivr": ivr_report,
    "surveys": surveys_report, **OUTBOUND_BUILDERS}


def build_report(conn: Any, name: str, filters: Filters, *, fold: bool = True) -> Report:
    """One report on `conn` (a psycopg connection). `fold` first brings the queue entries
    up to date with the events."""
    if name not in REPORTS:
        raise ReportError(f"no report named {name!r} — choose one of {', '.join(REPORTS)}")
    if fold:
        refresh(conn)
    if name in _GROUPS:
        return _grouped(conn, name, filters)
    return _BUILDERS[name](conn, filters)
