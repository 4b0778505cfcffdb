"""The figures of scripts/bench_outbound.py: CPU from /proc, percentiles, the most calls at
once and starts per second, what each SIPp carrier saw, and the printed report."""

from __future__ import annotations

import datetime as dt
import os
import statistics
from collections import Counter, defaultdict, deque
from pathlib import Path
from typing import Any

import psycopg

from callcenter.sipp import SippServer

TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid: int | None) -> tuple[float, float]:
    """(own utime+stime, reaped children's cutime+cstime) of `pid`, in seconds."""
    if pid is None:
        return 0.0, 0.0
    rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / TICK, (int(rest[13]) + int(rest[14])) / TICK


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def max_overlap(intervals: list[tuple[dt.datetime, dt.datetime]]) -> int:
    """The most intervals open at one instant (an end before a start at the same time)."""
    points = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals],
                    key=lambda p: (p[0], p[1]))
    best = now = 0
    for _, step in points:
        now += step
        best = max(best, now)
    return best


def max_in_window(times: list[dt.datetime], seconds: float) -> int:
    """The most of `times` in any window [t, t + seconds)."""
    window: deque[dt.datetime] = deque()
    best = 0
    for t in sorted(times):
        window.append(t)
        while (t - window[0]).total_seconds() >= seconds:
            window.popleft()
        best = max(best, len(window))
    return best


def carrier_view(server: SippServer) -> dict[str, int]:
    """Calls at once and INVITEs in one second as the carrier saw them, from its message
    trace (its -trace_stat counters also count the OPTIONS pings as calls)."""
    first: dict[str, dt.datetime] = {}
    last: dict[str, dt.datetime] = {}
    for block in server.messages().split("-" * 47 + " ")[1:]:
        stamp, _, body = block.partition("\n")
        try:
            at = dt.datetime.fromisoformat(stamp.strip())
        except ValueError:
            continue
        call = next((line.split(":", 1)[1].strip() for line in body.splitlines()
                     if line.lower().startswith("call-id:")), "")
        if "\nINVITE sip:" in body and call not in first:
            first[call] = at
        if call:
            last[call] = at
    intervals = [(at, last[call]) for call, at in first.items()]
    return {"calls": len(first), "max_concurrent": max_overlap(intervals),
            "max_starts_per_s": max_in_window(list(first.values()), 1.0)}


def analyse(dsn: str, site: Any) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn:
        jobs = conn.execute("SELECT id, state, result, deadline, not_before FROM "
                            "outbound_jobs").fetchall()
        attempts = conn.execute(
            "SELECT job_id, number, trunk, started_at, ended_at, lateness_ms, result, id "
            "FROM outbound_attempts ORDER BY started_at").fetchall()
        # the events' times are each call's own; started_at is the dialler's tick time
        marks = conn.execute(
            "SELECT data->>'attempt', kind, at FROM events WHERE kind IN "
            "('outbound.attempt', 'outbound.result')").fetchall()
    deadline = {j[0]: j[3] for j in jobs}
    by_job: dict[Any, list[Any]] = defaultdict(list)
    for a in attempts:
        by_job[a[0]].append(a)
    late = sum(1 for a in attempts if a[3] >= deadline[a[0]])
    missed = sum(1 for j in jobs if not by_job.get(j[0]))
    began = {a: at for a, kind, at in marks if kind == "outbound.attempt"}
    ended = {a: at for a, kind, at in marks if kind == "outbound.result"}
    per_trunk: dict[str, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for a in attempts:
        key = str(a[7])
        t0 = began.get(key, a[3])
        per_trunk[a[2]].append((t0, ended.get(key, a[4] or t0)))
    per_number: dict[str, list[dt.datetime]] = defaultdict(list)
    for a in attempts:
        per_number[a[1]].append(a[3])
    lim = site.spec.outbound.limits
    callee = {window: max((max_in_window(ts, secs) for ts in per_number.values()), default=0)
              for window, secs in (("minute", 60), ("hour", 3600), ("day", 86400))}
    first = [by_job[j[0]][0][5] for j in jobs if by_job.get(j[0])]
    return {
        "jobs": len(jobs), "attempts": len(attempts),
        "states": dict(Counter(j[1] for j in jobs)),
        "results": dict(Counter(j[2] for j in jobs)),
        "placed_before_deadline": sum(1 for j in jobs if by_job.get(j[0]) and
                                      by_job[j[0]][0][3] < deadline[j[0]]),
        "late_attempts": late, "missed": missed,
        "trunks": {t: {"attempts": len(iv), "max_concurrent": max_overlap(iv),
                       "max_starts_per_s": max_in_window([a for a, _ in iv], 1.0),
                       "channels": site.spec.trunks[t].channels,
                       "calls_per_second": site.spec.trunks[t].calls_per_second}
                   for t, iv in sorted(per_trunk.items())},
        "callee_max": callee,
        "callee_limits": {"minute": lim.per_minute, "hour": lim.per_hour, "day": lim.per_day},
        "lateness_ms": {"p50": pct(first, 0.5), "p99": pct(first, 0.99),
                        "max": max(first, default=0),
                        "mean": round(statistics.fmean(first)) if first else 0},
    }


def report(f: dict[str, Any]) -> None:
    print(f"{f['reminders']} reminders due over {f['minutes']} min; callees answer after "
          f"{f['callees']['answer_ms']} ms, hang up after {f['callees']['talk_ms']} ms")
    print(f"API bulk: {f['api_bulk']['per_s']} reminders/s "
          f"({f['api_bulk']['seconds']} s, batches of {f['api_bulk']['batch']})")
    print(f"jobs {f['jobs']}, attempts {f['attempts']}; states {f['states']}; "
          f"results {f['results']}")
    print(f"placed before the deadline {f['placed_before_deadline']}/{f['jobs']}; "
          f"attempts at/after the deadline {f['late_attempts']}; never placed {f['missed']}")
    for trunk, t in f["trunks"].items():
        c = f["carriers"].get(trunk, {})
        print(f"trunk {trunk}: {t['attempts']} calls (carrier got {c.get('calls')}); at once "
              f"max {t['max_concurrent']}, carrier saw {c.get('max_concurrent')} (channels "
              f"{t['channels']}); starts in 1 s max {t['max_starts_per_s']}, carrier saw "
              f"{c.get('max_starts_per_s')} (limit {t['calls_per_second']})")
    print(f"one callee at most {f['callee_max']} (limits {f['callee_limits']})")
    lat = f["lateness_ms"]
    print(f"lateness ms: p50 {lat['p50']}, p99 {lat['p99']}, max {lat['max']}, "
          f"mean {lat['mean']}")
    print(f"CPU s: daemon {f['cpu_s']['daemon']} (+ children {f['cpu_s']['daemon_children']}),"
          f" Asterisk {f['cpu_s']['asterisk']}; per call ms: {f['cpu_ms_per_call']}")
    print(f"wall {f['wall_s']} s from the first bulk request to the last call settled")
