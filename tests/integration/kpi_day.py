"""A hand-built day of call events (Tuesday 2026-11-24, Shanghai) with hand-computed answers:
what the KPI and fold tests load into a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import psycopg

from callcenter.reports import Filters, build_report
from callcenter.store import Cluster
from callcenter.store.events import Event, new_event
from tests.fix_postgres import fresh_database

SH = ZoneInfo("Asia/Shanghai")
DAY = dt.datetime(2026, 11, 24, tzinfo=SH)  # a Tuesday


def at(hms: str, day: int = 0) -> dt.datetime:
    h, m, s = map(int, hms.split(":"))
    return DAY + dt.timedelta(days=day, hours=h, minutes=m, seconds=s)


def q(kind: str, when: str, entry: str, queue: str, agent: str | None = None, day: int = 0,
      **data: object) -> Event:
    return new_event(kind, at=at(when, day), call_id=f"call-{entry}", queue=queue,
                     agent_id=agent, site="bj-hq", entry=entry, **data)


def day_of_events() -> list[Event]:
    ev = [
        # A: a missed ring, then answered by a2 after 12 s; 60 s talk, 10 s wrap-up
        q("queue.enter", "10:00:00", "A", "tech", reason="flow", priority=0, caller="138"),
        q("queue.offer", "10:00:05", "A", "tech", "a1", attempt=1),
        q("queue.ringnoanswer", "10:00:09", "A", "tech", "a1", ring_ms=4000,
          status="no_answer"),
        q("queue.offer", "10:00:10", "A", "tech", "a2", attempt=2),
        q("queue.answer", "10:00:12", "A", "tech", "a2", wait_ms=12000, ring_ms=2000),
        q("queue.complete", "10:01:12", "A", "tech", "a2", talk_ms=60000, by="caller"),
        q("queue.wrapup", "10:01:22", "A", "tech", "a2", wrap_ms=10000),
        # B: abandoned while a1's phone was ringing, after 25 s
        q("queue.enter", "10:05:00", "B", "tech", reason="flow"),
        q("queue.offer", "10:05:20", "B", "tech", "a1", attempt=1),
        q("queue.abandon", "10:05:25", "B", "tech", wait_ms=25000, ringing="a1"),
        # C: a short abandon (3 s)
        q("queue.enter", "10:10:00", "C", "tech", reason="flow"),
        q("queue.abandon", "10:10:03", "C", "tech", wait_ms=3000, ringing=""),
        # D: a callback asked for at 10:50, completed the next hour
        q("queue.enter", "10:50:00", "D", "sales", reason="flow"),
        q("queue.callback_request", "10:50:40", "D", "sales", wait_ms=40000, number="400"),
        q("queue.offer", "11:05:00", "D", "sales", "a1", attempt=1),
        q("queue.answer", "11:05:02", "D", "sales", "a1", wait_ms=902000, ring_ms=2000),
        q("queue.callback_result", "11:06:00", "D", "sales", "a1", attempt=1,
          status="ANSWER", result="completed"),
        # E → F: answered in sales, transferred by a3 to tech, answered there by a2
        q("queue.enter", "14:00:00", "E", "sales", reason="flow"),
        q("queue.answer", "14:00:05", "E", "sales", "a3", wait_ms=5000, ring_ms=1000),
        q("queue.transfer", "14:02:05", "E", "sales", "a3", to_queue="tech",
          talk_ms=120000),
        q("queue.enter", "14:02:05", "F", "tech", reason="transfer", from_queue="sales"),
        q("queue.wrapup", "14:02:15", "E", "sales", "a3", wrap_ms=10000),
        q("queue.answer", "14:02:13", "F", "tech", "a2", wait_ms=8000, ring_ms=1000),
        q("queue.complete", "14:02:33", "F", "tech", "a2", talk_ms=20000, by="agent"),
        # J: re-queued after a daemon restart (same entry), answered once
        q("queue.enter", "16:00:00", "J", "tech", reason="flow"),
        q("queue.enter", "16:00:30", "J", "tech", reason="requeue"),
        q("queue.answer", "16:00:40", "J", "tech", "a1", wait_ms=40000, ring_ms=1000),
        q("queue.complete", "16:00:50", "J", "tech", "a1", talk_ms=10000, by="agent"),
        # G: entered at 23:59:50, answered after midnight: counts on Tuesday, hour 23
        q("queue.enter", "23:59:50", "G", "tech", reason="flow"),
        q("queue.answer", "00:00:20", "G", "tech", "a2", day=1, wait_ms=30000, ring_ms=1000),
        q("queue.complete", "00:01:20", "G", "tech", "a2", day=1, talk_ms=60000, by="agent"),
        # H: entered exactly at the window's start, overflowed to voicemail
        q("queue.enter", "00:00:00", "H", "tech", reason="flow"),
        q("queue.overflow", "00:05:00", "H", "tech", wait_ms=300000,
          target="voicemail:general"),
        # I: entered exactly at the window's end: not in Tuesday's report
        q("queue.enter", "00:00:00", "I", "tech", day=1, reason="flow"),
        q("queue.answer", "00:00:05", "I", "tech", "a2", day=1, wait_ms=5000, ring_ms=1000),
        new_event("queue.unstaffed", at=at("12:00:00"), call_id="call-K", queue="tech",
                  site="bj-hq", caller="139"),
    ]
    states = [("09:00:00", "ready", "", "logged_out", "", "08:00:00"),
              ("12:00:00", "paused", "lunch", "ready", "", "09:00:00"),
              ("13:00:00", "ready", "", "paused", "lunch", "12:00:00"),
              ("18:00:00", "logged_out", "", "ready", "", "13:00:00")]
    for when, state, reason, prev, prev_reason, since in states:
        ev.append(new_event("agent.state", at=at(when), agent_id="a1", site="bj-hq",
                            state=state, reason=reason, prev=prev, prev_reason=prev_reason,
                            since=at(since).isoformat(), device="8001"))
    ev.append(new_event("call.start", at=at("10:00:00"), call_id="call-A", site="bj-hq",
                        number="4008001234", caller="138", caller_name="", trunk="telecom",
                        route="first", flow="main"))
    ev.append(new_event("trunk.attempt", at=at("15:00:00"), call_id="o1", number="400",
                        route="first", trunk="unicom", status="CHANUNAVAIL",
                        purpose="outbound"))
    ev.append(new_event("trunk.attempt", at=at("15:00:01"), call_id="o1", number="400",
                        route="second", trunk="telecom", status="ANSWER", purpose="outbound"))
    for n, (node, outcome) in enumerate([("menu", "caller_hangup"), ("tech", "queue"),
                                         ("tech", "queue"), ("closed", "voicemail")]):
        ev.append(new_event("ivr.end", at=at(f"09:0{n}:00"), call_id=f"i{n}", flow="main",
                            outcome=outcome, target="", node=node, path=""))
    for n, score in enumerate([5, 4, 2]):
        ev.append(new_event("survey.answer", at=at(f"17:0{n}:00"), call_id=f"s{n}",
                            flow="survey", question="satisfaction", score=score, scale=5))
    return sorted(ev, key=lambda e: e.at)


def insert(dsn: str, events: list[Event]) -> None:
    with psycopg.connect(dsn) as conn:
        conn.cursor().executemany(
            "INSERT INTO events (id, at, kind, call_id, queue, agent_id, site, data) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
            [e.row() for e in events])


def day_database(cluster: Cluster, name: str) -> str:
    """A fresh database named `name` holding the day's events."""
    dsn = fresh_database(cluster, name)
    insert(dsn, day_of_events())
    return dsn


def tuesday(**kw: object) -> Filters:
    return Filters(start=DAY, end=DAY + dt.timedelta(days=1),
                   sl_seconds={"tech": 20, "sales": 30}, **kw)  # type: ignore[arg-type]


def report(dsn: str, name: str, filters: Filters | None = None) -> list[dict]:
    with psycopg.connect(dsn) as conn:
        return build_report(conn, name, filters or tuesday()).records()


