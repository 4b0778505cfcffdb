"""A daemon that takes the lead learns from PostgreSQL which calls on live channels started
and have not ended (callcenter/cluster/takeover.py): it records their ends."""

from __future__ import annotations

import asyncio
import datetime as dt

import psycopg
import pytest

from callcenter.cluster.takeover import open_calls
from callcenter.store import Cluster
from callcenter.store.events import new_event
from callcenter.store.recorder import insert_events
from tests.fix_postgres import fresh_database

pytestmark = pytest.mark.postgres

T0 = dt.datetime(2030, 3, 4, 10, 0, tzinfo=dt.UTC)


def test_the_calls_in_progress_on_live_channels(pg_cluster: Cluster) -> None:
    dsn = fresh_database(pg_cluster, "takeover_calls")
    sec = dt.timedelta(seconds=1)
    events = [
        new_event("call.start", call_id="ended", at=T0),
        new_event("call.end", call_id="ended", at=T0 + 30 * sec, duration_ms=30000,
                  outcome="queue"),
        new_event("call.start", call_id="queued", at=T0 + sec),
        new_event("ivr.end", call_id="queued", at=T0 + 9 * sec, flow="main",
                  outcome="queue", target="tech", node="menu", path="welcome,menu"),
        new_event("call.start", call_id="in-flow", at=T0 + 2 * sec),
        new_event("call.start", call_id="not-live", at=T0 + 3 * sec),
    ]

    async def main() -> dict[str, tuple[float, str]]:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            await insert_events(conn, events)
        assert await open_calls(dsn, []) == {}
        return await open_calls(dsn, ["ended", "queued", "in-flow", "no-such-call"])

    assert asyncio.run(main()) == {"queued": ((T0 + sec).timestamp(), "queue"),
                                   "in-flow": ((T0 + 2 * sec).timestamp(), "")}
