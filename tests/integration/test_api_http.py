"""The HTTP API on a real uvicorn (127.0.0.1, ephemeral port) over a real PostgreSQL:
tokens and scopes, idempotent submission, moved and cancelled lessons, problem+JSON."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from callcenter.api import ApiServer, create_app
from callcenter.clock import Clock, FixedClock
from callcenter.outbound.jobs import JobStore
from callcenter.site import load_site
from callcenter.store import Cluster
from callcenter.store.events import new_event
from callcenter.store.recorder import insert_events
from tests.fix_asterisk import make_site
from tests.fix_postgres import fresh_database

pytestmark = pytest.mark.postgres

CST = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2030, 3, 4, 10, 0, tzinfo=CST)
CLOCK = FixedClock(T0)


class StepClock:
    """A clock a test moves on by hand."""

    def __init__(self, at: dt.datetime):
        self.at = at

    def now(self, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
        return self.at.astimezone(tz)


def lesson(n: int = 1, start: str = "2030-03-04T19:30:00+08:00", **over: Any
           ) -> dict[str, Any]:
    return {"number": f"138{n:08d}", "lesson_id": f"L-{n}", "lesson_start": start,
            "student": "王小明", "course": "英语课", **over}


class Api:
    """A running API: its base URL, tokens by client and a client per token."""

    def __init__(self, url: str, tokens: dict[str, str], dsn: str):
        self.url, self.tokens, self.dsn = url, tokens, dsn

    def client(self, name: str | None = "booking") -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.tokens[name]}"} if name else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=20)


@asynccontextmanager
async def running_api(tmp: Path, dsn: str, clock: Clock = CLOCK, **app_args: Any
                      ) -> AsyncIterator[Api]:
    site = load_site(make_site(tmp / "site"), env={})
    tokens = {name: token for name, (token, _) in site.secrets.api_clients.items()}
    async with JobStore(dsn, clock=clock, timeout=2.0) as store:
        app = create_app(site, store, clock=clock, **app_args)
        async with ApiServer(app, "127.0.0.1", 0) as server:
            yield Api(f"http://127.0.0.1:{server.port}", tokens, dsn)


def run(cluster: Cluster, tmp: Path, name: str, body: Callable[[Api], Awaitable[None]],
        **app_args: Any) -> None:
    dsn = fresh_database(cluster, name)

    async def go() -> None:
        async with running_api(tmp, dsn, **app_args) as api:
            await body(api)

    asyncio.run(go())


def is_problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    doc = resp.json()
    assert doc["status"] == status and doc["title"] and doc["detail"]
    assert doc["type"].startswith("urn:callcenter:problem:")
    assert "Traceback" not in resp.text
    return doc


def test_tokens_and_scopes(pg_cluster: Cluster, tmp_path: Path) -> None:
    async def body(api: Api) -> None:
        async with api.client(None) as anon, api.client("crm") as crm, \
                api.client("booking") as booking:
            resp = await anon.post("/v1/reminders", json=lesson(),
                                   headers={"Idempotency-Key": "a"})
            assert is_problem(resp, 401)["type"].endswith("unauthenticated")
            assert resp.headers["www-authenticate"].startswith("Bearer")
            token = api.tokens["booking"]
            bad = {"Authorization": "Bearer " + token[:-1] + ("y" if token[-1] == "x" else "x")}
            resp = await anon.get("/v1/queues", headers=bad)
            assert is_problem(resp, 401)["type"].endswith("bad-token")
            assert 'error="invalid_token"' in resp.headers["www-authenticate"]
            resp = await crm.post("/v1/reminders", json=lesson(),
                                  headers={"Idempotency-Key": "a"})
            assert "lacks the scope 'reminders'" in is_problem(resp, 403)["detail"]
            assert is_problem(await booking.get("/v1/queues"), 403)
            assert (await crm.get("/v1/queues")).json() == {"items": [{"name": "sales"}]}
            broken = await crm.get("/v1/agents")  # a bug answers 500, never a traceback
            assert is_problem(broken, 500)["type"].endswith("internal")
            openapi = (await anon.get("/openapi.json")).json()
            assert "/v1/reminders/bulk" in openapi["paths"]
            assert is_problem(await anon.get("/nowhere"), 404)

    def no_agents() -> list[dict[str, Any]]:
        raise RuntimeError("snapshot failed")

    run(pg_cluster, tmp_path, "api_auth", body, queues=lambda: [{"name": "sales"}],
        agents=no_agents)


def test_reminder_is_idempotent_and_placed_before_the_lesson(pg_cluster: Cluster,
                                                            tmp_path: Path) -> None:
    async def body(api: Api) -> None:
        async with api.client() as c:
            resp = await c.post("/v1/reminders", json=lesson(),
                                headers={"Idempotency-Key": "k-1"})
            assert resp.status_code == 201, resp.text
            job = resp.json()
            assert resp.headers["location"] == f"/v1/reminders/{job['id']}"
            assert job["state"] == "pending" and job["attempts"] == 0
            assert dt.datetime.fromisoformat(job["call_at"]) == \
                dt.datetime(2030, 3, 4, 19, 10, tzinfo=CST)
            assert dt.datetime.fromisoformat(job["deadline"]) == \
                dt.datetime(2030, 3, 4, 19, 30, tzinfo=CST)
            again = await c.post("/v1/reminders", json=lesson(),
                                 headers={"Idempotency-Key": "k-1"})
            assert again.status_code == 200 and again.json()["id"] == job["id"]
            other = await c.post("/v1/reminders", json=lesson(student="李雷"),
                                 headers={"Idempotency-Key": "k-1"})
            assert is_problem(other, 409)["type"].endswith("idempotency-conflict")
            got = await c.get(f"/v1/reminders/{job['id']}")
            assert got.json()["id"] == job["id"]
            found = (await c.get("/v1/reminders", params={"lesson_id": "L-1"})).json()
            assert [j["id"] for j in found["items"]] == [job["id"]]
            started = await c.post("/v1/reminders", json=lesson(
                2, start="2030-03-04T09:59:00+08:00"), headers={"Idempotency-Key": "k-2"})
            assert "before it starts" in is_problem(started, 422)["errors"][0]["message"]
            missing = await c.post("/v1/reminders", json=lesson(3))
            doc = is_problem(missing, 422)
            assert any("Idempotency-Key" in e["field"] for e in doc["errors"])
        async with api.client("crm") as crm:  # another client's job is not revealed
            assert is_problem(await crm.get(f"/v1/leads/{job['id']}"), 404)

    run(pg_cluster, tmp_path, "api_idem", body)


def test_moved_then_cancelled_lesson(pg_cluster: Cluster, tmp_path: Path) -> None:
    async def body(api: Api) -> None:
        async with api.client() as c:
            job = (await c.post("/v1/reminders", json=lesson(),
                                headers={"Idempotency-Key": "m"})).json()
            moved = await c.patch(f"/v1/reminders/{job['id']}",
                                  json={"lesson_start": "2030-03-05T08:30:00+08:00"})
            assert moved.status_code == 200, moved.text
            assert dt.datetime.fromisoformat(moved.json()["call_at"]) == \
                dt.datetime(2030, 3, 5, 8, 10, tzinfo=CST)
            assert moved.json()["lesson_start"] == "2030-03-05T08:30:00+08:00"
            naive = await c.patch(f"/v1/reminders/{job['id']}",
                                  json={"lesson_start": "2030-03-05T08:30:00"})
            assert is_problem(naive, 422)["errors"][0]["field"] == "lesson_start"
            gone = await c.delete(f"/v1/reminders/{job['id']}")
            assert gone.json()["state"] == "cancelled"
            assert gone.json()["reason"] == "lesson cancelled"
            assert (await c.delete(f"/v1/reminders/{job['id']}")).status_code == 200
            late = await c.patch(f"/v1/reminders/{job['id']}", json={"student": "李雷"})
            assert "cancelled" in is_problem(late, 409)["detail"]
            assert is_problem(await c.get(f"/v1/reminders/{uuid.uuid4()}"), 404)

    run(pg_cluster, tmp_path, "api_move", body)


def test_validation_errors_are_problem_json(pg_cluster: Cluster, tmp_path: Path) -> None:
    async def body(api: Api) -> None:
        async with api.client() as c:
            resp = await c.post("/v1/reminders", headers={"Idempotency-Key": "v"},
                                json=lesson(number="110", student="", lesson_start="soon"))
            doc = is_problem(resp, 422)
            assert {e["field"] for e in doc["errors"]} >= {"student", "lesson_start"}
            resp = await c.post("/v1/reminders", headers={"Idempotency-Key": "v",
                                                          "Content-Type": "application/json"},
                                content=b"{not json")
            assert is_problem(resp, 422)
            resp = await c.post("/v1/reminders", headers={"Idempotency-Key": "v"},
                                json=lesson(number="110"))
            assert "emergency" in is_problem(resp, 422)["errors"][0]["message"]
            # a chunked body declares no size: refused before anything is read

            async def chunks() -> AsyncIterator[bytes]:
                yield b'{"number": '
                yield b'"13812345678"}'

            resp = await c.post("/v1/reminders", headers={"Idempotency-Key": "c"},
                                content=chunks())
            assert is_problem(resp, 411)

    run(pg_cluster, tmp_path, "api_422", body)


def test_bulk_is_all_or_nothing(pg_cluster: Cluster, tmp_path: Path) -> None:
    async def body(api: Api) -> None:
        day = [{**lesson(n, start=f"2030-03-04T{10 + n:02d}:30:00+08:00"),
                "idempotency_key": f"day-{n}"} for n in range(1, 9)]
        async with api.client() as c:
            bad = [*day[:3], {**day[3], "number": "16812345"}]
            doc = is_problem(await c.post("/v1/reminders/bulk", json={"reminders": bad}), 422)
            assert doc["errors"][0]["field"] == "reminders[3].number"
            assert (await c.get("/v1/reminders", params={"lesson_id": "L-1"})).json() == \
                {"items": []}  # nothing of the refused batch was stored
            resp = await c.post("/v1/reminders/bulk", json={"reminders": day[:4]})
            assert resp.status_code == 201 and resp.json()["created"] == 4
            resp = await c.post("/v1/reminders/bulk", json={"reminders": day})
            out = resp.json()
            assert (out["created"], out["existing"]) == (4, 4)
            assert [i["created"] for i in out["items"]] == [False] * 4 + [True] * 4
            dup = await c.post("/v1/reminders/bulk", json={"reminders": [day[0], day[0]]})
            assert "repeats" in is_problem(dup, 422)["errors"][0]["message"]

    run(pg_cluster, tmp_path, "api_bulk", body)


def test_leads_and_calls(pg_cluster: Cluster, tmp_path: Path) -> None:
    async def body(api: Api) -> None:
        async with await psycopg.AsyncConnection.connect(api.dsn) as conn:
            await insert_events(conn, [
                new_event("call.start", call_id="1700.1", number="13800000000", caller="x",
                          caller_name="", trunk="unicom", route="main", flow="main",
                          at=T0),
                new_event("call.end", call_id="1700.1", duration_ms=1000, outcome="ok",
                          at=T0 + dt.timedelta(seconds=1))])
            await conn.commit()
        async with api.client("crm") as crm:
            lead = {"number": "13912345678", "name": "李女士", "source": "抖音",
                    "interest": "少儿英语"}
            resp = await crm.post("/v1/leads", json=lead, headers={"Idempotency-Key": "l"})
            assert resp.status_code == 201, resp.text
            job = resp.json()
            assert job["kind"] == "lead" and dt.datetime.fromisoformat(job["call_at"]) == T0
            assert dt.datetime.fromisoformat(job["target_at"]) - \
                dt.datetime.fromisoformat(job["created_at"]) == dt.timedelta(minutes=5)
            clock.at += dt.timedelta(seconds=30)  # resent later: a lead's times moved on
            again = await crm.post("/v1/leads", json=lead, headers={"Idempotency-Key": "l"})
            assert again.status_code == 200 and again.json()["id"] == job["id"]
            other = await crm.post("/v1/leads", json={**lead, "name": "王"},
                                   headers={"Idempotency-Key": "l"})
            assert is_problem(other, 409)
            assert (await crm.get(f"/v1/leads/{job['id']}")).json()["id"] == job["id"]
            call = (await crm.get("/v1/calls/1700.1")).json()
            assert [e["kind"] for e in call["events"]] == ["call.start", "call.end"]
            assert call["events"][0]["data"]["trunk"] == "unicom"
            assert is_problem(await crm.get("/v1/calls/nope"), 404)
            assert is_problem(await crm.get("/v1/calls/a%20b"), 422)

    clock = StepClock(T0)
    run(pg_cluster, tmp_path, "api_leads", body, clock=clock)
