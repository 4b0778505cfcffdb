"""Webhooks from the stored events to a real HTTP receiver, against real PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from callcenter.clock import FixedClock
from callcenter.outbound.webhooks import WebhookSender, verify
from callcenter.site import load_site
from callcenter.store import Cluster
from callcenter.store.events import Event
from callcenter.store.recorder import insert_events
from tests.fix_asterisk import make_site
from tests.fix_postgres import fresh_database

pytestmark = pytest.mark.postgres

T0 = dt.datetime(2030, 3, 4, 10, 0, tzinfo=dt.UTC)
CLOCK = FixedClock(T0 + dt.timedelta(hours=1))
SECRETS = {name: f"{name}-Qx7Lp2Vn9Rt4Wz6Ks8Hd3Mf5Bg1Jc0Ya" for name in ("crm", "results", "dead")}


class Receiver:
    """A real HTTP server on 127.0.0.1 that answers `statuses` first, then 200 (a status
    0: answers only after `stall` seconds, beyond the sender's timeout)."""

    def __init__(self, statuses: list[int] | None = None, stall: float = 1.5) -> None:
        self.statuses = list(statuses or [])
        self.stall = stall
        self.got: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 0:
                    time.sleep(receiver.stall)
                    status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def docs(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.got]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def site_with(tmp_path: Path, hooks: dict[str, dict[str, Any]]) -> Any:
    path = make_site(tmp_path / "site")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["outbound"]["webhooks"] = hooks
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    env = {f"CALLCENTER_WEBHOOK_SECRET_{name.upper()}": s for name, s in SECRETS.items()}
    return load_site(path, env=env)


def ev(kind: str, minute: int, call: str = "c1", **data: Any) -> Event:
    return Event(kind=kind, at=T0 + dt.timedelta(minutes=minute), call_id=call,
                 queue="sales" if kind.startswith("queue.") else None,
                 agent_id="1001" if kind in ("queue.offer", "queue.answer") else None,
                 site="bj", data=data)


async def store(dsn: str, events: list[Event]) -> None:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await insert_events(conn, events)


class Run:
    """A sender's run_forever as a task, with a sleep that records and barely waits."""

    def __init__(self, site: Any, dsn: str) -> None:
        self.sleeps: list[float] = []
        self.sender = WebhookSender(site, dsn, clock=CLOCK, sleep=self._sleep,
                                    poll_seconds=0.25)
        self.task = asyncio.create_task(self.sender.run_forever())

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0.01)

    async def until(self, done: Callable[[], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if self.task.done():
                self.task.result()  # the sender's own error, not a timeout
            assert time.monotonic() < deadline, f"timed out: {self.sender.snapshot()}"
            await asyncio.sleep(0.02)

    async def settled(self, dsn: str) -> None:
        """Every hook's cursor has reached the last stored event."""
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            top = (await (await conn.execute("SELECT max(seq) FROM events")).fetchone())[0]
        await self.until(lambda: all(s.cursor >= top for n, s in self.sender.stats.items()
                                     if n != "dead"))

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.sender.close()


def test_each_event_once_signed_and_only_wanted_kinds(
        pg_cluster: Cluster, tmp_path: Path, receiver: Receiver) -> None:
    other = Receiver()
    site = site_with(tmp_path, {"crm": {"url": receiver.url},
                                "results": {"url": other.url, "events": ["reminder.result"]}})
    dsn = fresh_database(pg_cluster, "hooks_once")
    events = [
        ev("call.start", 1, number="4001234567", caller="13912345678", caller_name="",
           trunk="telecom", route="first", flow="main"),
        ev("contact.match", 1, number="13912345678", name="王小明家长", vip=1, region="武汉"),
        ev("queue.enter", 2, entry="e1", priority=0, caller="13912345678", reason="",
           from_queue=None, enqueued_at=None),
        ev("queue.offer", 3, entry="e1", attempt=1),
        ev("agent.state", 3, state="ringing"),
        ev("queue.answer", 4, entry="e1", wait_ms=60000, ring_ms=3000),
        ev("call.end", 9, duration_ms=480000, outcome="queue"),
        ev("outbound.result", 10, call="", job=str(uuid.uuid4()), job_kind="reminder",
           external_id="lesson-7", result="confirmed", final=True),
        ev("outbound.result", 11, call="", job=str(uuid.uuid4()), job_kind="lead",
           external_id="lead-3", result="person", final=True),
        ev("outbound.result", 12, call="", job=str(uuid.uuid4()), job_kind="survey",
           result="no_input", final=True),
        ev("survey.answer", 13, flow="csat", question="q1", score=5, scale=5,
           outcome="answered", attempt=1, entry="e1", job=None),
    ]

    async def go() -> None:
        await store(dsn, [ev("call.end", 0, call="old", duration_ms=1, outcome="x")])
        run = Run(site, dsn)
        # a new webhook starts after the events stored before it
        await run.until(lambda: all(s.cursor > 0 for s in run.sender.stats.values()))
        await store(dsn, events)
        await run.until(lambda: len(receiver.got) >= 6 and len(other.got) >= 1)
        await run.settled(dsn)
        await run.stop()

    try:
        asyncio.run(go())
        got = receiver.docs()
        assert [d["event"] for d in got] == ["call.offered", "call.answered", "call.ended",
                                             "reminder.result", "lead.result",
                                             "survey.answer"]
        by_id = {str(e.id): e for e in events}
        for (headers, body), doc in zip(receiver.got, got, strict=True):
            assert headers["x-callcenter-delivery"] == doc["id"] and doc["id"] in by_id
            assert headers["x-callcenter-event"] == doc["event"]
            assert headers["x-callcenter-timestamp"] == str(int(CLOCK.now().timestamp()))
            assert verify(SECRETS["crm"], headers["x-callcenter-timestamp"], body,
                          headers["x-callcenter-signature"], now=CLOCK.now().timestamp())
            assert not verify(SECRETS["results"], headers["x-callcenter-timestamp"], body,
                              headers["x-callcenter-signature"])
            assert dt.datetime.fromisoformat(doc["at"]) == by_id[doc["id"]].at
        offered = got[0]["data"]
        assert (offered["caller"], offered["caller_name"], offered["agent_id"]) == (
            "13912345678", "王小明家长", "1001")
        assert offered["contact"]["region"] == "武汉" and offered["queue"] == "sales"
        assert got[3]["data"]["external_id"] == "lesson-7"
        assert (got[5]["data"]["score"], got[5]["data"]["flow"]) == (5, "csat")
        assert [d["event"] for d in other.docs()] == ["reminder.result"]
        headers, body = other.got[0]
        assert verify(SECRETS["results"], headers["x-callcenter-timestamp"], body,
                      headers["x-callcenter-signature"])
    finally:
        other.close()


def test_failed_delivery_is_retried_in_order(pg_cluster: Cluster, tmp_path: Path,
                                             receiver: Receiver,
                                             caplog: pytest.LogCaptureFixture) -> None:
    receiver.statuses = [500, 0]  # an error, then no answer within the timeout
    site = site_with(tmp_path, {"crm": {"url": receiver.url, "timeout_seconds": 1},
                                "dead": {"url": "http://127.0.0.1:9/hook"}})
    dsn = fresh_database(pg_cluster, "hooks_retry")
    first = ev("call.end", 1, call="a", duration_ms=1, outcome="x")
    second = ev("call.end", 2, call="b", duration_ms=2, outcome="y")

    async def go() -> Run:
        run = Run(site, dsn)
        await run.until(lambda: all(s.cursor == 0 for s in run.sender.stats.values())
                        and len(run.sleeps) >= 2)
        await store(dsn, [first, second])
        await run.settled(dsn)
        dead = run.sender.stats["dead"]
        await run.until(lambda: dead.failures >= 3)  # refused, and retried
        await run.stop()
        return run

    run = asyncio.run(go())
    ids = [h["x-callcenter-delivery"] for h, _ in receiver.got]
    assert ids == [str(first.id)] * 3 + [str(second.id)]  # never skipped ahead
    crm = run.sender.stats["crm"]
    assert (crm.delivered, crm.failures) == (2, 2)
    crm_waits = [r.getMessage().rsplit(" in ", 1)[1] for r in caplog.records
                 if r.getMessage().startswith("webhook crm:")]
    assert crm_waits == ["2 s", "4 s"]  # logged, and the backoff doubles
    assert "HTTP 500" in caplog.text and "no answer within 1 s" in caplog.text
    assert {2.0, 4.0, 8.0} <= set(run.sleeps)  # the dead receiver's: still doubling
    dead = run.sender.stats["dead"]
    assert dead.delivered == 0 and dead.cursor == 0 and "Connect" in dead.last_error


def test_restart_resumes_from_the_cursor(pg_cluster: Cluster, tmp_path: Path,
                                         receiver: Receiver) -> None:
    site = site_with(tmp_path, {"crm": {"url": receiver.url}})
    dsn = fresh_database(pg_cluster, "hooks_restart")
    before = [ev("call.end", n, call=f"b{n}", duration_ms=n, outcome="x") for n in (1, 2)]
    after = [ev("call.end", n, call=f"a{n}", duration_ms=n, outcome="x") for n in (3, 4)]

    async def go() -> None:
        run = Run(site, dsn)
        await run.until(lambda: len(run.sleeps) >= 1)  # its cursor is set
        await store(dsn, before)
        await run.settled(dsn)
        await run.stop()
        await store(dsn, after)  # stored while no sender runs
        again = Run(site, dsn)
        await again.settled(dsn)
        await again.stop()

    asyncio.run(go())
    ids = [h["x-callcenter-delivery"] for h, _ in receiver.got]
    assert ids == [str(e.id) for e in before + after]
    with psycopg.connect(dsn) as conn:
        seq = conn.execute("SELECT seq FROM projections WHERE name = 'webhook:crm'"
                           ).fetchone()[0]
        assert seq == conn.execute("SELECT max(seq) FROM events").fetchone()[0]
