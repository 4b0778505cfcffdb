"""PostgreSQL stopped while the API is called: every request is refused with 503 and
Retry-After (nothing acknowledged and forgotten); after the restart the same request is
stored, and what was acknowledged before the outage is still there."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter.store import Cluster
from tests.fix_postgres import fresh_database, throwaway_cluster
from tests.integration.test_api_http import is_problem, lesson, running_api

pytestmark = [pytest.mark.postgres, pytest.mark.security]


@pytest.fixture
def api_cluster() -> Iterator[Cluster]:
    # a port of its own: other tests stop and start the shared own_cluster port
    with throwaway_cluster(15447) as cluster:
        yield cluster


def test_database_outage_answers_503_and_loses_nothing(api_cluster: Cluster,
                                                       tmp_path: Path) -> None:
    dsn = fresh_database(api_cluster, "api_outage")

    async def go() -> None:
        async with running_api(tmp_path, dsn) as api, api.client() as c:
            before = await c.post("/v1/reminders", json=lesson(1),
                                  headers={"Idempotency-Key": "before"})
            assert before.status_code == 201
            await asyncio.to_thread(api_cluster.stop)
            try:
                down = await c.post("/v1/reminders", json=lesson(2),
                                    headers={"Idempotency-Key": "during"})
                doc = is_problem(down, 503)
                assert down.headers["retry-after"].isdigit()
                assert "nothing was stored" in doc["detail"]
                bulk = await c.post("/v1/reminders/bulk", json={"reminders": [
                    {**lesson(3), "idempotency_key": "b3"}]})
                assert is_problem(bulk, 503)
                assert is_problem(await c.get(f"/v1/reminders/{before.json()['id']}"), 503)
            finally:
                await asyncio.to_thread(api_cluster.start)
            again = await c.post("/v1/reminders", json=lesson(2),
                                 headers={"Idempotency-Key": "during"})
            assert again.status_code == 201, again.text  # created now: not before
            kept = await c.get(f"/v1/reminders/{before.json()['id']}")
            assert kept.status_code == 200 and kept.json()["state"] == "pending"
            found = await c.get("/v1/reminders", params={"lesson_id": "L-3"})
            assert found.json() == {"items": []}  # the refused bulk stored nothing

    asyncio.run(go())
