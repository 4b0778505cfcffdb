"""The outbound sections of `callcenter report`, over jobs and attempts stored through the
JobStore with explicit times, in a real PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.clock import FixedClock
from callcenter.outbound.jobs import JobStore, NewJob
from callcenter.reports import Filters, build_report
from callcenter.store import Cluster
from tests.fix_postgres import fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.clock]

TZ = ZoneInfo("Asia/Shanghai")
DAY = dt.datetime(2026, 3, 2, tzinfo=TZ)


def at(hh: int, mm: int, ss: int = 0, day: dt.datetime = DAY) -> dt.datetime:
    return day.replace(hour=hh, minute=mm, second=ss)


# (campaign, kind, created, not_before, attempts: (start, trunk, caller-ID kind, result|None))
PLAN = [
    ("reminders", "reminder", at(8, 0), at(10, 40),
     [(at(10, 40, 30), "telecom", "local_city", "confirmed")]),
    ("reminders", "reminder", at(8, 0), at(10, 45),
     [(at(10, 47), "telecom", "local_province", "no_answer"),
      (at(10, 50), "telecom", "local_province", "busy")]),
    ("reminders", "reminder", at(8, 0), at(19, 0),
     [(at(19, 0, 10), "unicom", "national", "opted_out")]),
    ("signups", "lead", at(9, 0), at(9, 0),
     [(at(9, 3), "unicom", "local_city", "person")]),
    ("signups", "lead", at(9, 10), at(9, 10),
     [(at(9, 20), "unicom", "national", "no_answer")]),
    ("satisfaction", "survey", at(12, 0), at(12, 0),
     [(at(12, 5), "unicom", "national", None)]),  # still ringing
    # the day before: outside the window
    ("reminders", "reminder", at(8, 0, day=DAY - dt.timedelta(days=1)),
     at(10, 0, day=DAY - dt.timedelta(days=1)),
     [(at(10, 0, day=DAY - dt.timedelta(days=1)), "telecom", "local_city", "no_answer")]),
]


async def _store_plan(dsn: str) -> None:
    async with JobStore(dsn, clock=FixedClock(DAY)) as store:
        for campaign, kind, created, not_before, attempts in PLAN:
            store.clock = FixedClock(created)
            job, _ = await store.submit(NewJob(
                kind=kind, campaign=campaign, number="13812345678", not_before=not_before,
                deadline=not_before + dt.timedelta(hours=3), max_attempts=len(attempts),
                retry_seconds=120))
            for start, trunk, cid_kind, result in attempts:
                attempt = uuid.uuid4()
                assert await store.start_attempt(job.id, attempt, now=start, trunk=trunk,
                                                 caller_id="01080001000",
                                                 caller_id_kind=cid_kind, lateness_ms=0)
                if result is not None:
                    await store.end_attempt(attempt, result, now=start + dt.timedelta(
                        seconds=40))
        # refused by the limits without a call
        store.clock = FixedClock(at(13, 0))
        job, _ = await store.submit(NewJob(kind="survey", campaign="satisfaction",
                                           number="13912345678", not_before=at(13, 0),
                                           deadline=at(15, 0)))
        await store.refuse(job.id, "per-day limit", now=at(13, 1), retry_at=None)


@pytest.fixture(scope="module")
def dsn(pg_cluster: Cluster) -> str:
    url = fresh_database(pg_cluster, "outbound_report")
    asyncio.run(_store_plan(url))
    return url


def report(dsn: str, name: str, **kw: object) -> list[dict[str, object]]:
    f = Filters(start=DAY, end=DAY + dt.timedelta(days=1), timezone="Asia/Shanghai",
                **kw)  # type: ignore[arg-type]
    with psycopg.connect(dsn) as conn:
        return build_report(conn, name, f, fold=False).records()


def test_by_campaign_counts_every_result_in_the_window(dsn: str) -> None:
    rows = {r["campaign"]: r for r in report(dsn, "outbound")}
    rem, lead, survey, total = (rows["reminders"], rows["signups"], rows["satisfaction"],
                                rows["all"])
    assert (rem["attempts"], rem["reached"], rem["confirmed"],
            rem["opted_out"], rem["no_answer"], rem["line_busy"]) == (
        4, 2, 1, 1, 1, 1)  # the day before's attempt left out
    assert rem["answer_rate"] == 0.5 and rem["confirm_rate"] == 0.5
    assert (lead["attempts"], lead["person"], lead["reached"]) == (2, 1, 1)
    assert (survey["attempts"], survey["in_progress"], survey["answer_rate"],
            survey["jobs_refused"]) == (1, 1, None, 1)
    assert (total["attempts"], total["reached"], total["in_progress"],
            total["jobs_refused"], total["answer_rate"]) == (7, 3, 1, 1, 0.5)


def test_answer_rate_by_caller_id_kind(dsn: str) -> None:
    rows = {r["caller_id_kind"]: r for r in report(dsn, "outbound-callerid")}
    assert list(rows) == ["local_city", "local_province", "national"]
    assert (rows["local_city"]["attempts"], rows["local_city"]["answer_rate"]) == (2, 1.0)
    assert (rows["local_province"]["attempts"], rows["local_province"]["answer_rate"]) == (
        2, 0.0)
    # one national call still rings: left out of the rate
    assert (rows["national"]["attempts"], rows["national"]["reached"],
            rows["national"]["answer_rate"]) == (3, 1, 0.5)


def test_by_hour_and_by_trunk(dsn: str) -> None:
    hours = {r["hour"]: r for r in report(dsn, "outbound-hourly")}
    assert len(hours) == 24 and hours["10:00"]["attempts"] == 3
    assert hours["09:00"]["attempts"] == 2 and hours["19:00"]["opted_out"] == 1
    assert hours["08:00"]["attempts"] == 0
    trunks = {r["trunk"]: r["attempts"] for r in report(dsn, "outbound-trunks")}
    assert trunks == {"telecom": 3, "unicom": 4}


def test_lateness_against_the_target(dsn: str) -> None:
    rows = {r["campaign"]: r for r in report(dsn, "outbound-lateness",
                                             lateness_targets={"signups": 600})}
    rem, lead = rows["reminders"], rows["signups"]
    # first attempts 30 s, 120 s and 10 s after lesson start − lead time; target 60 s
    assert (rem["jobs"], rem["p50_s"], rem["p90_s"], rem["max_s"], rem["target_s"]) == (
        3, 30.0, 102.0, 120.0, 60.0)
    assert rem["within_target"] == round(2 / 3, 4)
    # leads from the sign-up: 3 and 10 minutes, against the campaign's 10 minutes
    assert (lead["p50_s"], lead["max_s"], lead["within_target"]) == (390.0, 600.0, 1.0)
    assert rows["satisfaction"]["within_target"] is None
    default = {r["campaign"]: r for r in report(dsn, "outbound-lateness")}
    assert default["signups"]["within_target"] == 0.5  # 5 minutes without the site file


def test_cli_reports_outbound_and_all_includes_it(dsn: str) -> None:
    res = CliRunner().invoke(main, ["report", "outbound-callerid", "--dsn", dsn, "--from",
                                    "2026-03-02", "--to", "2026-03-03", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc[0]["report"] == "outbound-callerid"
    assert doc[0]["rows"][0] == {"caller_id_kind": "local_city", "attempts": 2, "reached": 2,
                                 "answer_rate": 1.0, "confirmed": 1, "person": 1,
                                 "opted_out": 0, "no_answer": 0, "line_busy": 0, "failed": 0,
                                 "in_progress": 0}
    every = CliRunner().invoke(main, ["report", "all", "--dsn", dsn, "--from", "2026-03-02",
                                      "--format", "json"])
    assert every.exit_code == 0, every.output
    assert "outbound-lateness" in {r["report"] for r in json.loads(every.stdout)}


def test_all_leaves_outbound_out_without_jobs(pg_cluster: Cluster) -> None:
    empty = fresh_database(pg_cluster, "outbound_report_none")
    res = CliRunner().invoke(main, ["report", "all", "--dsn", empty, "--from", "2026-03-02",
                                    "--format", "json"])
    assert res.exit_code == 0, res.output
    names = {r["report"] for r in json.loads(res.stdout)}
    assert "summary" in names and not any(n.startswith("outbound") for n in names)


def test_top_shows_outbound_next_to_the_queues(dsn: str, tmp_path: Path) -> None:
    from tests.unit.test_wallboard import BOARD, serving

    conf = tmp_path / "conf"
    with serving(conf, {"wallboard": BOARD}):
        res = CliRunner().invoke(main, ["top", "--once", "--conf", str(conf), "--dsn", dsn],
                                 obj={"clock": FixedClock(at(13, 0))})
        assert res.exit_code == 0, res.output
        lines = {line.split()[1]: line.split()[2:] for line in res.output.splitlines()
                 if line.startswith("│ ") and line.split()[1] in (
                     "reminders", "satisfaction", "signups")}
        # dialling now, today's attempts, reached, answer rate
        assert lines["satisfaction"][1:8:2] == ["1", "1", "0", "0.0%"]
        assert lines["reminders"][1:8:2] == ["0", "4", "2", "50.0%"]
        assert "Outbound now" in res.output and "tech" in res.output
        # no store reachable without starting it: the queues alone
        alone = CliRunner().invoke(main, ["top", "--once", "--conf", str(conf)])
        assert alone.exit_code == 0 and "tech" in alone.output
        assert "Outbound now" not in alone.output
