"""The outbound sections of `callcenter report`: the dialler's attempts (outbound_attempts,
with their jobs) by campaign, hour, caller-ID kind and trunk, and how late the calls were
against each campaign's target. Definitions in docs/campaigns.md."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from callcenter.reports.figures import rate, secs
from callcenter.reports.model import Filters, Report

__all__ = ["OUTBOUND_BUILDERS", "OUTBOUND_REPORTS", "REACHED", "has_outbound", "lateness_target",
           "live_activity"]

OUTBOUND_REPORTS = ("outbound", "outbound-hourly", "outbound-callerid", "outbound-trunks",
                    "outbound-lateness")
# a person answered (the prompt was heard): what the answer rate counts
REACHED = ("confirmed", "no_input", "person", "opted_out", "hangup")
# every attempt result, as a column key (busy is "line_busy": "busy" is an agent's state)
_RESULTS = (*REACHED, "machine", "no_answer", "busy", "rejected", "failed", "refused",
            "unknown")
_KEY = {"busy": "line_busy"}
CALLER_ID_KINDS = ("local_city", "local_province", "national")
# a reminder is on time when it rings within this long of lesson start − lead time
REMINDER_TARGET_S = 60
LEAD_TARGET_MIN = 5  # a lead campaign without target_minutes in the filters

_COUNTS = ",\n    ".join(
    [f"count(*) FILTER (WHERE a.result = '{r}') AS {_KEY.get(r, r)}" for r in _RESULTS]
    + ["count(*) FILTER (WHERE a.result IS NULL) AS in_progress"])
_ATTEMPTS = f"""
SELECT {{group}} AS grp, count(*) AS attempts,
    {_COUNTS}
FROM outbound_attempts a JOIN outbound_jobs j ON j.id = a.job_id
WHERE a.started_at >= %(start)s AND a.started_at < %(end)s
GROUP BY grp
"""
# jobs given up without a call in the window: refused by policy or limits, or expired
_GIVEN_UP = """
SELECT campaign, count(*) FILTER (WHERE state = 'refused'),
    count(*) FILTER (WHERE state = 'expired')
FROM outbound_jobs
WHERE state IN ('refused', 'expired') AND updated_at >= %(start)s AND updated_at < %(end)s
GROUP BY campaign
"""
# lateness of each job's first attempt: leads from the sign-up (created_at), the others from
# the planned time (not_before: for a reminder, lesson start − the template's lead time)
_LATENESS = """
WITH first AS (
    SELECT job_id, min(started_at) AS first_at FROM outbound_attempts GROUP BY job_id
    HAVING min(started_at) >= %(start)s AND min(started_at) < %(end)s
), late AS (
    SELECT j.campaign, min(j.kind) OVER (PARTITION BY j.campaign) AS kind,
        extract(epoch FROM first_at - CASE WHEN j.kind = 'lead' THEN j.created_at
                                           ELSE j.not_before END) * 1000 AS ms,
        coalesce(t.seconds::bigint, CASE WHEN j.kind = 'lead' THEN %(lead_s)s
                                         WHEN j.kind = 'reminder' THEN %(reminder_s)s END)
            * 1000 AS target_ms
    FROM first JOIN outbound_jobs j ON j.id = first.job_id
    LEFT JOIN jsonb_each_text(%(targets)s::jsonb) AS t(campaign, seconds)
        ON t.campaign = j.campaign
)
SELECT campaign, min(kind), count(*), min(target_ms),
    percentile_cont(0.5) WITHIN GROUP (ORDER BY ms),
    percentile_cont(0.9) WITHIN GROUP (ORDER BY ms), max(ms),
    count(*) FILTER (WHERE ms <= target_ms)
FROM late GROUP BY campaign ORDER BY campaign
"""

_HOUR = "extract(hour FROM a.started_at AT TIME ZONE %(tz)s)::int"
_GROUPS = {"all": "'all'", "outbound": "j.campaign", "outbound-hourly": _HOUR,
           "outbound-callerid": "coalesce(a.caller_id_kind, 'none')",
           "outbound-trunks": "coalesce(a.trunk, '-')"}
# the breakdowns show these; the campaign report every result
_SHORT = ("attempts", "reached", "answer_rate", "confirmed", "person", "opted_out",
          "no_answer", "line_busy", "failed", "in_progress")


def lateness_target(kind: str, target_minutes: int | None = None) -> int | None:
    """The lateness target (seconds) of a campaign of `kind`: a lead campaign's
    target_minutes, a minute for reminders, none for surveys."""
    if kind == "lead":
        return (LEAD_TARGET_MIN if target_minutes is None else target_minutes) * 60
    return REMINDER_TARGET_S if kind == "reminder" else None


def _params(f: Filters) -> dict[str, Any]:
    import json

    return {"start": f.start, "end": f.end, "tz": f.timezone,
            "targets": json.dumps(f.lateness_targets), "lead_s": LEAD_TARGET_MIN * 60,
            "reminder_s": REMINDER_TARGET_S}


def _attempt_rows(conn: Any, name: str, f: Filters) -> dict[Any, dict[str, Any]]:
    cur = conn.execute(_ATTEMPTS.replace("{group}", _GROUPS[name]), _params(f))
    cols = [d.name for d in cur.description]
    return {r[0]: _figures(dict(zip(cols, r, strict=True))) for r in cur.fetchall()}


def _figures(r: dict[str, Any]) -> dict[str, Any]:
    n = {k: int(r.get(k) or 0) for k in (*_RESULTS, "line_busy", "attempts", "in_progress")}
    reached = sum(n[k] for k in REACHED)
    # `campaign results` lists every result; a report's table must fit a screen
    return {"attempts": n["attempts"], "reached": reached,
            "answer_rate": rate(reached, n["attempts"] - n["in_progress"]),
            "confirm_rate": rate(n["confirmed"], reached), "confirmed": n["confirmed"],
            "person": n["person"], "opted_out": n["opted_out"], "no_answer": n["no_answer"],
            "line_busy": n["line_busy"],
            "failed": sum(n[k] for k in ("rejected", "failed", "refused", "unknown")),
            "in_progress": n["in_progress"]}


def _notes(f: Filters) -> list[str]:
    notes = [f"window: attempts started from {f.start:%Y-%m-%d %H:%M %Z} to before "
             f"{f.end:%Y-%m-%d %H:%M %Z}",
             "reached: a person answered and heard the prompt (confirmed, no key, asked for "
             "a person, opted out, hung up mid-prompt); answering machines are neither reached nor "
             "failed; "
             "answer rate: reached ÷ ended attempts (in progress left out); confirm rate: "
             "confirmed ÷ reached; failed: rejected by the carrier, failed, refused or "
             "unknown ('callcenter campaign results' lists every result)"]
    if f.described() != "all":
        notes.append(f"the selection ({f.described()}) does not apply to outbound calls: "
                     "every campaign's attempts are counted")
    return notes


def _by_campaign(conn: Any, f: Filters) -> Report:
    by = _attempt_rows(conn, "outbound", f)
    given_up = {c: (int(r), int(e)) for c, r, e in conn.execute(_GIVEN_UP, _params(f))}
    empty = _figures({})
    rows = []
    for name in sorted(set(by) | set(given_up)):
        refused, expired = given_up.get(name, (0, 0))
        rows.append([name, *by.get(name, empty).values(), refused, expired])
    if len(rows) != 1:
        total = _attempt_rows(conn, "all", f).get("all", empty)
        rows.append(["all", *total.values(), sum(r[-2] for r in rows),
                     sum(r[-1] for r in rows)])
    notes = [*_notes(f), "jobs refused: given up by the dialling policy or the callee "
             "limits without a call; expired: the deadline passed first (both counted when "
             "it happened)"]
    return Report("outbound", "Outbound calls by campaign",
                  ["campaign", *empty, "jobs_refused", "jobs_expired"], rows, notes)


def _breakdown(name: str, label: str, title: str) -> Callable[[Any, Filters], Report]:
    def build(conn: Any, f: Filters) -> Report:
        by = _attempt_rows(conn, name, f)
        keys: list[Any]
        if name == "outbound-hourly":
            keys = list(range(24))
        elif name == "outbound-callerid":
            keys = [*CALLER_ID_KINDS, *sorted(set(by) - set(CALLER_ID_KINDS))]
        else:
            keys = sorted(by)
        empty = _figures({})
        rows = [[f"{k:02d}:00" if name == "outbound-hourly" else k,
                 *(by.get(k, empty)[c] for c in _SHORT)] for k in keys]
        notes = _notes(f)
        if name == "outbound-callerid":
            notes.append("caller-ID kind: the presented number's region against the "
                         "callee's — same city (local_city), same province "
                         "(local_province), else the national number")
        timed = name == "outbound-hourly"
        return Report(name, title, [label, *_SHORT], rows, notes,
                      chart=(label, "attempts") if timed else None,
                      charts=[(label, "attempts"), (label, "answer_rate")] if timed
                      else [])
    return build


def _lateness(conn: Any, f: Filters) -> Report:
    rows = []
    for campaign, kind, n, target, p50, p90, top, within in conn.execute(
            _LATENESS, _params(f)).fetchall():
        rows.append([campaign, kind, n, secs(target), secs(p50), secs(p90), secs(top),
                     rate(within, n) if target is not None else None])
    notes = [f"window: each job's first attempt started from {f.start:%Y-%m-%d %H:%M %Z} to "
             f"before {f.end:%Y-%m-%d %H:%M %Z}",
             "lateness of the first attempt: leads from the sign-up (speed to lead, target: "
             "the campaign's target_minutes); reminders from the planned time, lesson start "
             f"− the template's lead time (target: {REMINDER_TARGET_S} s); surveys from "
             "their earliest time (no target)"]
    return Report("outbound-lateness", "Outbound lateness against the target",
                  ["campaign", "kind", "jobs", "target_s", "p50_s", "p90_s", "max_s",
                   "within_target"], rows, notes)


OUTBOUND_BUILDERS: dict[str, Callable[[Any, Filters], Report]] = {
    "outbound": _by_campaign,
    "outbound-hourly": _breakdown("outbound-hourly", "hour", "Outbound calls by hour"),
    "outbound-callerid": _breakdown("outbound-callerid", "caller_id_kind",
                                    "Outbound calls by caller-ID kind"),
    "outbound-trunks": _breakdown("outbound-trunks", "trunk", "Outbound calls by trunk"),
    "outbound-lateness": _lateness,
}


def has_outbound(conn: Any) -> bool:
    """Any outbound job stored (`report all` leaves the outbound sections out otherwise)."""
    if conn.execute("SELECT to_regclass('outbound_jobs')").fetchone()[0] is None:
        return False  # a store from before the outbound schema
    return bool(conn.execute("SELECT EXISTS (SELECT 1 FROM outbound_jobs)").fetchone()[0])


_LIVE = """
SELECT j.campaign,
    count(*) FILTER (WHERE a.state = 'dialling') AS dialling,
    count(*) FILTER (WHERE a.started_at >= %(day)s) AS attempts,
    count(*) FILTER (WHERE a.started_at >= %(day)s AND a.result = ANY(%(reached)s))
        AS reached
FROM outbound_attempts a JOIN outbound_jobs j ON j.id = a.job_id
WHERE a.started_at >= %(day)s OR a.state = 'dialling'
GROUP BY 1 ORDER BY 1
"""


def live_activity(conn: Any, day_start: dt.datetime) -> list[dict[str, Any]]:
    """Per campaign: attempts dialling now, and today's (from `day_start`) attempts and
    reached — the outbound lines of `top`."""
    cur = conn.execute(_LIVE, {"day": day_start, "reached": list(REACHED)})
    return [{"campaign": c, "dialling": d, "attempts": n, "reached": r,
             "answer_rate": rate(r, n)} for c, d, n, r in cur.fetchall()]
