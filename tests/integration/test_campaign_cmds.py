"""`callcenter campaign list|show|pause|resume|import|results` against a real PostgreSQL,
with the clock injected."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.clock import FixedClock
from callcenter.outbound.jobs import JobStore
from callcenter.store import Cluster
from tests.fix_postgres import fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.clock]

SITE = str(Path(__file__).parents[2] / "callcenter" / "example" / "site.yaml")
T0 = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)  # 10:00 in Beijing
LESSONS = ("number,lesson_id,lesson_start,student,course\n"
           "13812345678,L-1,2026-03-02T19:30:00+08:00,王小明,英语课\n"
           "13912345678,L-2,2026-03-02T20:00:00+08:00,李华,数学课\n")


def invoke(dsn: str, *args: str, at: dt.datetime = T0):
    res = CliRunner().invoke(main, ["campaign", *args, "--site-file", SITE, "--dsn", dsn],
                             obj={"clock": FixedClock(at)})
    assert "Traceback" not in res.output
    return res


def jobs(dsn: str, campaign: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM outbound_jobs WHERE campaign = %s",
                            (campaign,)).fetchone()[0]


def test_import_is_all_or_nothing_and_once(pg_cluster: Cluster, tmp_path: Path) -> None:
    dsn = fresh_database(pg_cluster, "campaign_import")
    f = tmp_path / "lessons.csv"
    f.write_text(LESSONS + "139,L-3,2026-03-02T20:00:00+08:00,张三,数学课\n",
                 encoding="utf-8")
    bad = invoke(dsn, "import", "reminders", str(f))
    assert bad.exit_code == 1 and f"{f}:4: number:" in bad.output
    assert "nothing was imported" in bad.output and jobs(dsn, "reminders") == 0
    f.write_text(LESSONS, encoding="utf-8")
    first = invoke(dsn, "import", "reminders", str(f))
    assert first.exit_code == 0, first.output
    assert "2 calls queued in campaign reminders" in first.output
    # the same file again, with one more lesson: only the new row is queued
    f.write_text(LESSONS + "13712345678,L-3,2026-03-02T20:30:00+08:00,张三,数学课\n",
                 encoding="utf-8")
    again = invoke(dsn, "import", "reminders", str(f))
    assert "1 calls queued" in again.output and "2 rows imported before" in again.output
    assert jobs(dsn, "reminders") == 3
    # a lead's times come from the clock: a later import of the same file still skips it
    leads = tmp_path / "leads.csv"
    leads.write_text("number,name,source,interest\n13812345678,李女士,官网,少儿英语\n",
                     encoding="utf-8")
    assert invoke(dsn, "import", "signups", str(leads)).exit_code == 0
    later = invoke(dsn, "import", "signups", str(leads), at=T0 + dt.timedelta(hours=1))
    assert later.exit_code == 0, later.output
    assert "0 calls queued" in later.output and jobs(dsn, "signups") == 1


async def _dial(dsn: str) -> None:
    """One reminder answered and confirmed at 10:05, one ringing since 10:06."""
    async with JobStore(dsn, clock=FixedClock(T0)) as store:
        pending = await store.jobs(campaign="reminders", state="pending")
        for job, minute, result in zip(pending, (5, 6), ("confirmed", None), strict=False):
            start = T0 + dt.timedelta(minutes=minute)
            attempt = uuid.uuid4()
            await store.start_attempt(job.id, attempt, now=start, trunk="telecom",
                                      caller_id="01080001000", caller_id_kind="local_city",
                                      lateness_ms=0)
            if result:
                await store.end_attempt(attempt, result, now=start + dt.timedelta(
                    seconds=30), dial_status="ANSWER")


def test_pause_list_show_and_results(pg_cluster: Cluster, tmp_path: Path) -> None:
    dsn = fresh_database(pg_cluster, "campaign_state")
    f = tmp_path / "lessons.csv"
    f.write_text(LESSONS + "13712345678,L-3,2026-03-02T20:30:00+08:00,张三,数学课\n",
                 encoding="utf-8")
    assert invoke(dsn, "import", "reminders", str(f)).exit_code == 0
    paused = invoke(dsn, "pause", "reminders")
    assert paused.exit_code == 0 and "campaign reminders paused" in paused.output

    async def due() -> int:
        async with JobStore(dsn) as store:
            # 19:15 in Beijing: L-1 is due (19:10), the others later
            return len(await store.due(dt.datetime(2026, 3, 2, 11, 15, tzinfo=dt.UTC), 10))

    assert asyncio.run(due()) == 0  # the dialler skips a paused campaign
    listed = json.loads(invoke(dsn, "list", "--format", "json").stdout)[0]["rows"]
    row = next(r for r in listed if r["campaign"] == "reminders")
    assert (row["paused"], row["pending"], row["kind"]) == ("yes", 3, "reminder")
    assert invoke(dsn, "resume", "reminders").exit_code == 0
    assert asyncio.run(due()) == 1

    asyncio.run(_dial(dsn))
    listed = json.loads(invoke(dsn, "list", "--format", "json",
                               at=T0 + dt.timedelta(minutes=7)).stdout)[0]["rows"]
    row = next(r for r in listed if r["campaign"] == "reminders")
    assert (row["paused"], row["pending"], row["dialling"], row["done_today"]) == (
        "no", 1, 1, 1)
    shown = invoke(dsn, "show", "reminders", at=T0 + dt.timedelta(minutes=7))
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "template          lesson" in out and "paused            no" in out
    assert "jobs: dialling 1, done 1, pending 1" in out
    lines = [line.strip() for line in out.split("latest 2 attempts:")[1].splitlines()[1:]]
    assert lines[0].startswith("2026-03-02 10:06:00") and " dialling " in lines[0]
    assert lines[1].startswith("2026-03-02 10:05:00") and " confirmed " in lines[1]
    assert "telecom 01080001000 (local_city) ANSWER" in lines[1]
    res = invoke(dsn, "results", "reminders", "--since", "2026-03-02 10:00", "--until",
                 "2026-03-02 10:06", "--format", "json")
    assert res.exit_code == 0, res.output
    rows = {r["result"]: r["attempts"] for r in json.loads(res.stdout)[0]["rows"]}
    assert rows == {"confirmed": 1, "all": 1}  # 10:06's attempt starts at the end
    whole = json.loads(invoke(dsn, "results", "reminders", "--format", "json",
                              at=T0 + dt.timedelta(minutes=7)).stdout)[0]["rows"]
    assert {r["result"]: r["attempts"] for r in whole} == {"confirmed": 1,
                                                            "in_progress": 1, "all": 2}
