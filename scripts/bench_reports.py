#!/usr/bin/env python3
"""Fill a store with N calls of realistic shape and time the reports on it.

Usage: scripts/bench_reports.py [--calls 1000000] [--days 30] [--dsn DSN]
Without --dsn a throwaway PostgreSQL cluster is made under /tmp and removed afterwards.

The calls: an evening 19–20 h peak and busier weekends, ~85 % answered (a few after a missed
ring), abandons (some short, some while ringing), overflows, callbacks and transfers, across
5 queues, 2 sites, 60 agents, with each agent's state changes. Events go in with COPY, the
queue entries are folded once (timed), then `summary` and `hourly` over the whole period are
timed (median of 5)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from callcenter.reports import Filters, build_report, refresh
from callcenter.store import Cluster, upgrade

SH = ZoneInfo("Asia/Shanghai")
QUEUES = {"sales": "bj-hq", "course-bj": "bj-hq", "course-cd": "cd-out", "tech": "bj-hq",
          "complaints": "bj-hq"}
AGENTS = [f"{1000 + i}" for i in range(60)]
# calls per hour of day (relative): quiet nights, a 19–20 h peak
HOURS = [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 15, 13, 10, 12, 14, 15, 16, 18, 24, 34, 26, 14, 6, 2]


def _rows(calls: int, days: int, start: dt.datetime, rng: random.Random):
    """Yield COPY rows (id, at, kind, call_id, queue, agent_id, site, data)."""
    day_weights = [1.0 if (start + dt.timedelta(days=d)).weekday() < 5 else 1.6
                   for d in range(days)]
    for n in range(calls):
        day = rng.choices(range(days), day_weights)[0]
        hour = rng.choices(range(24), HOURS)[0]
        t = start + dt.timedelta(days=day, hours=hour, seconds=rng.random() * 3600)
        call, entry = f"c{n}", str(uuid.uuid4())
        queue = rng.choices(list(QUEUES), [30, 25, 20, 20, 5])[0]
        site = QUEUES[queue]
        caller = f"138{rng.randrange(10**8):08d}"

        def ev(kind: str, when: dt.datetime, agent: str | None = None, q: str | None = queue,
               call: str = call, site: str = site, **data: object):
            return (uuid.uuid4(), when, kind, call, q, agent, site, json.dumps(data))

        yield ev("call.start", t, q=None, number="4008001234", caller=caller, caller_name="",
                 trunk=rng.choice(["telecom", "unicom"]), route="first", flow="main")
        t += dt.timedelta(seconds=rng.uniform(5, 25))
        yield ev("ivr.end", t, q=None, flow="main", outcome="queue", target=queue,
                 node=queue, path="welcome,menu")
        yield ev("queue.enter", t, entry=entry, priority=0, caller=caller, reason="flow",
                 from_queue="", enqueued_at=t.isoformat())
        wait = rng.expovariate(1 / 25) * (2.5 if hour in (19, 20) else 1)
        r = rng.random()
        if r < 0.85:
            agent = rng.choice(AGENTS)
            if rng.random() < 0.08:
                other = rng.choice(AGENTS)
                yield ev("queue.offer", t + dt.timedelta(seconds=wait / 2), other, entry=entry,
                         attempt=1)
                yield ev("queue.ringnoanswer", t + dt.timedelta(seconds=wait / 2 + 15), other,
                         entry=entry, ring_ms=15000, status="no_answer")
            yield ev("queue.offer", t + dt.timedelta(seconds=wait), agent, entry=entry,
                     attempt=1)
            ans = t + dt.timedelta(seconds=wait + 3)
            yield ev("queue.answer", ans, agent, entry=entry, wait_ms=int(wait * 1000) + 3000,
                     ring_ms=3000)
            talk = rng.lognormvariate(5.2, 0.6)
            yield ev("queue.complete", ans + dt.timedelta(seconds=talk), agent, entry=entry,
                     talk_ms=int(talk * 1000), by=rng.choice(["agent", "caller"]))
            yield ev("queue.wrapup", ans + dt.timedelta(seconds=talk + 10), agent,
                     entry=entry, wrap_ms=10000)
        elif r < 0.95:
            ringing = rng.choice(AGENTS) if rng.random() < 0.1 else ""
            yield ev("queue.abandon", t + dt.timedelta(seconds=wait), entry=entry,
                     wait_ms=int(wait * 1000), ringing=ringing)
        elif r < 0.98:
            yield ev("queue.overflow", t + dt.timedelta(seconds=300), entry=entry,
                     wait_ms=300000, target="voicemail:general")
        else:
            yield ev("queue.callback_request", t + dt.timedelta(seconds=wait), entry=entry,
                     wait_ms=int(wait * 1000), number="4008001234")
            yield ev("queue.callback_result", t + dt.timedelta(seconds=wait + 600),
                     rng.choice(AGENTS), entry=entry, attempt=1, status="ANSWER",
                     result="completed")


def _agent_days(days: int, start: dt.datetime):
    for d in range(days):
        for agent in AGENTS:
            begin = start + dt.timedelta(days=d, hours=9)
            plan = [("ready", "", "logged_out", "", begin - dt.timedelta(hours=12)),
                    ("paused", "lunch", "ready", "", begin),
                    ("ready", "", "paused", "lunch", begin + dt.timedelta(hours=3)),
                    ("logged_out", "", "ready", "", begin + dt.timedelta(hours=4))]
            at = begin
            for state, reason, prev, prev_reason, since in plan:
                yield (uuid.uuid4(), at, "agent.state", None, None, agent, "bj-hq",
                       json.dumps({"state": state, "reason": reason, "prev": prev,
                                   "prev_reason": prev_reason, "since": since.isoformat(),
                                   "device": ""}))
                at = at + dt.timedelta(hours=3 if state == "paused" else 1 if
                                       state == "ready" and prev == "paused" else 0)


def fill(dsn: str, calls: int, days: int, seed: int = 7) -> tuple[int, float]:
    rng = random.Random(seed)
    start = dt.datetime.now(SH).replace(hour=0, minute=0, second=0, microsecond=0) - \
        dt.timedelta(days=days)
    n, t0 = 0, time.perf_counter()
    sql = "COPY events (id, at, kind, call_id, queue, agent_id, site, data) FROM STDIN"
    with psycopg.connect(dsn) as conn, conn.cursor() as cur, cur.copy(sql) as copy:
        for row in _rows(calls, days, start, rng):
            copy.write_row(row)
            n += 1
        for row in _agent_days(days, start):
            copy.write_row(row)
            n += 1
    return n, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--dsn")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    base = None
    cluster = None
    dsn = args.dsn
    if not dsn:
        base = Path(tempfile.mkdtemp(prefix="cc-bench-reports-"))
        base.chmod(0o755)
        cluster = Cluster(base / "cluster", port=18432)
        cluster.start()
        dsn = cluster.dsn()
    try:
        upgrade(dsn)
        n, took = fill(dsn, args.calls, args.days)
        print(f"stored {n:,} events for {args.calls:,} calls over {args.days} days "
              f"in {took:.1f} s ({n / took:,.0f} events/s with COPY)")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE events")
        with psycopg.connect(dsn) as conn:
            t0 = time.perf_counter()
            refresh(conn)
            fold = time.perf_counter() - t0
            conn.commit()
            conn.execute("ANALYZE queue_entries")
            conn.commit()
            entries = conn.execute("SELECT count(*) FROM queue_entries").fetchone()[0]
            print(f"folded {entries:,} queue entries in {fold:.1f} s (once; later folds "
                  "only touch new events)")
            now = dt.datetime.now(SH)
            f = Filters(start=now - dt.timedelta(days=args.days + 1), end=now,
                        sl_seconds={q: 20 for q in QUEUES})
            for name in ("summary", "hourly", "daily", "queues", "agents"):
                times = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    rep = build_report(conn, name, f)
                    times.append(time.perf_counter() - t0)
                rows = rep.records()
                extra = (f"offered {rows[0]['offered']:,}, answer rate "
                         f"{rows[0]['answer_rate']:.1%}" if name == "summary" else
                         f"{len(rows)} rows")
                print(f"report {name:<8} median {statistics.median(times):.3f} s, "
                      f"max {max(times):.3f} s  ({extra})")
            t0 = time.perf_counter()
            build_report(conn, "summary", Filters(start=now - dt.timedelta(days=1), end=now))
            print(f"report summary, last day only: {time.perf_counter() - t0:.3f} s")
        # live traffic: 1,000 more calls, then the fold a report pays first
        n, _ = fill(dsn, 1000, 1, seed=11)
        with psycopg.connect(dsn) as conn:
            t0 = time.perf_counter()
            refresh(conn)
            conn.commit()
            print(f"incremental fold of 1,000 new calls ({n:,} events): "
                  f"{time.perf_counter() - t0:.3f} s")
    finally:
        if cluster is not None:
            cluster.stop()
            shutil.rmtree(base, ignore_errors=True)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
