"""The hotline's figures per call (接通率), sites of national queues, the service level of
offered, filters naming nothing, the empty store — on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.clock import FixedClock
from callcenter.reports import Filters, build_report
from callcenter.store import Cluster
from callcenter.store.events import Event, new_event
from tests.fix_postgres import fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.clock]

SH = ZoneInfo("Asia/Shanghai")
DAY = dt.datetime(2026, 11, 24, tzinfo=SH)
EXAMPLE = Path(__file__).parents[2] / "callcenter" / "example" / "site.yaml"
SITE_OF = {"course-bj": "bj-hq", "course-cd": "cd-out", "sales": None}


def at(hms: str) -> dt.datetime:
    h, m, s = map(int, hms.split(":"))
    return DAY + dt.timedelta(hours=h, minutes=m, seconds=s)


def q(kind: str, when: str, call: str, entry: str, queue: str, agent: str | None = None,
      **data: object) -> Event:
    return new_event(kind, at=at(when), call_id=call, queue=queue, agent_id=agent,
                     site=SITE_OF[queue], entry=entry, **data)


def start(call: str, when: str, outcome: str, node: str) -> list[Event]:
    return [new_event("call.start", at=at(when), call_id=call, site=None, number="4008001234",
                      caller="138", caller_name="", trunk="telecom", route="first",
                      flow="main"),
            new_event("ivr.end", at=at(when) + dt.timedelta(seconds=5), call_id=call,
                      flow="main", outcome=outcome, target="", node=node, path="")]


def hotline() -> list[Event]:
    ev = [*start("c1", "09:00:00", "caller_hangup", "menu"),  # gave up in the IVR
          *start("c2", "09:01:00", "voicemail", "closed"),  # closed hours
          *start("c3", "09:02:00", "queue", "course"),  # nobody logged in
          new_event("queue.unstaffed", at=at("09:02:06"), call_id="c3", queue="course-bj",
                    site="bj-hq", caller="138"),
          *start("c4", "09:03:00", "fallback", "menu"),  # the flow broke: the fallback
          # c5: waits 300 s in Beijing, overflows to Chengdu, answered there by 2002
          *start("c5", "10:00:00", "queue", "course"),
          q("queue.enter", "10:00:06", "c5", "e5a", "course-bj", reason="flow"),
          q("queue.overflow", "10:05:06", "c5", "e5a", "course-bj", wait_ms=300000,
            target="queue:course-cd"),
          q("queue.enter", "10:05:06", "c5", "e5b", "course-cd", reason="overflow",
            from_queue="course-bj"),
          q("queue.answer", "10:05:16", "c5", "e5b", "course-cd", "2002", wait_ms=10000,
            ring_ms=2000),
          # national queue: answered by a Chengdu agent, by a Beijing one, abandoned
          q("queue.enter", "11:00:00", "c6", "e6", "sales", reason="flow"),
          q("queue.answer", "11:00:05", "c6", "e6", "sales", "2001", wait_ms=5000, ring_ms=1),
          q("queue.enter", "11:10:00", "c7", "e7", "sales", reason="flow"),
          q("queue.answer", "11:10:25", "c7", "e7", "sales", "1003", wait_ms=25000,
            ring_ms=1),
          q("queue.enter", "11:20:00", "c8", "e8", "sales", reason="flow"),
          q("queue.abandon", "11:20:40", "c8", "e8", "sales", wait_ms=40000, ringing=""),
          # a misdial: a short abandon, left out of the calls as of the entries
          q("queue.enter", "12:00:00", "c9", "e9", "course-bj", reason="flow"),
          q("queue.abandon", "12:00:02", "c9", "e9", "course-bj", wait_ms=2000, ringing="")]
    for agent, site in (("2002", "cd-out"), ("2001", "cd-out"), ("1003", "bj-hq")):
        ev.append(new_event("agent.state", at=at("08:00:00"), agent_id=agent, site=site,
                            state="ready", reason="", prev="logged_out", prev_reason="",
                            since=at("07:00:00").isoformat(), device="8000"))
    return ev


@pytest.fixture(scope="module")
def dsn(pg_cluster: Cluster) -> str:
    dsn = fresh_database(pg_cluster, "report_calls")
    with psycopg.connect(dsn) as conn:
        conn.cursor().executemany(
            "INSERT INTO events (id, at, kind, call_id, queue, agent_id, site, data) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", [e.row() for e in hotline()])
    return dsn


def records(dsn: str, name: str, **kw: object) -> list[dict]:
    f = Filters(start=DAY, end=DAY + dt.timedelta(days=1), default_sl_seconds=20, **kw)  # type: ignore[arg-type]
    with psycopg.connect(dsn) as conn:
        return build_report(conn, name, f).records()


def test_every_call_is_offered_once_whatever_its_path(dsn: str) -> None:
    (s,) = records(dsn, "summary")
    assert s["selection"] == "all"
    assert s["calls"] == 8 and s["calls_answered"] == 3  # c1–c8; c5 once, not twice
    assert s["call_answer_rate"] == 0.375
    assert (s["calls_ivr_hangup"], s["calls_voicemail"], s["calls_unstaffed"],
            s["calls_fallback"], s["calls_abandoned"]) == (1, 1, 1, 1, 1)
    assert s["calls_short_abandoned"] == 1
    # the queue figures beside: entries (c5 offered in both queues), not calls
    assert (s["offered"], s["answered"], s["answer_rate"]) == (5, 3, 0.6)


def test_service_level_of_offered_beside_the_chosen_one(dsn: str) -> None:
    (s,) = records(dsn, "summary")
    assert s["service_level"] == 0.5  # c5b, c6 within 20 s ÷ (3 answered + c8 after T)
    assert s["service_level_offered"] == 0.4  # ÷ 5 offered
    with psycopg.connect(dsn) as conn:
        rep = build_report(conn, "summary", Filters(start=DAY, end=DAY + dt.timedelta(days=1)))
    notes = " ".join(rep.notes)
    assert "service level printed: answered within T ÷ (answered + abandoned after T)" in notes
    assert "SL of offered beside it: answered within T ÷ offered" in notes


def test_a_call_counts_for_the_site_of_the_agent_who_answered(dsn: str) -> None:
    sites = {r["site"]: r for r in records(dsn, "sites")}
    assert set(sites) == {"bj-hq", "cd-out", "(national)"}
    assert (sites["cd-out"]["calls"], sites["cd-out"]["calls_answered"]) == (2, 2)  # c5, c6
    assert (sites["bj-hq"]["calls"], sites["bj-hq"]["calls_answered"]) == (2, 1)  # c3, c7
    assert sites["(national)"]["calls"] == 4  # c1, c2, c4, c8: no site, nobody answered
    # entries: the sales entries answered in Chengdu / Beijing count there
    assert (sites["cd-out"]["offered"], sites["bj-hq"]["offered"]) == (2, 2)
    assert sites["(national)"]["offered"] == 1  # c8
    (cd,) = records(dsn, "summary", site="cd-out")
    assert (cd["selection"], cd["calls"], cd["offered"], cd["answered"]) == (
        "site cd-out", 2, 2, 2)


def test_queue_and_agent_filters_on_calls(dsn: str) -> None:
    (s,) = records(dsn, "summary", queue="course-bj")
    assert (s["calls"], s["calls_answered"], s["calls_unstaffed"]) == (2, 1, 1)  # c3, c5
    (a,) = records(dsn, "summary", agent="2001")
    assert (a["selection"], a["calls"], a["calls_answered"]) == ("agent 2001", 1, 1)


def test_command_names_the_unknown_filter_and_speaks_chinese(dsn: str, tmp_path: Path
                                                             ) -> None:
    evening = {"clock": FixedClock(DAY + dt.timedelta(hours=23))}
    base = ["report", "summary", "--dsn", dsn, "--from", "2026-11-24"]
    for opt, value, known in (("--site", "sh", "bj-hq, cd-out"),
                              ("--queue", "coures-bj", "complaints, course-bj"),
                              ("--agent", "9999", "1001, 1002, 1003")):
        bad = CliRunner().invoke(main, [*base, opt, value, "--site-file", str(EXAMPLE)],
                                 obj=evening)
        assert bad.exit_code == 2, bad.output
        assert f"{opt} '{value}' is not a known" in bad.output and known in bad.output
    no_file = CliRunner().invoke(main, [*base, "--agent", "9999"], obj=evening)
    assert no_file.exit_code == 2 and "known: 1003, 2001, 2002" in no_file.output
    zh = CliRunner().invoke(main, [*base, "sites", "--site-file", str(EXAMPLE), "--html",
                                   str(tmp_path / "r.html")], obj=evening,
                            env={"COLUMNS": "80"})
    assert zh.exit_code == 0, zh.output
    assert "来电接通率" in zh.output and "37.5%" in zh.output and "按职场" in zh.output
    page = (tmp_path / "r.html").read_text()
    assert "来电接通率" in page and 'lang="zh-CN"' in page
    en = CliRunner().invoke(main, [*base, "--lang", "en", "--site-file", str(EXAMPLE)],
                            obj=evening)
    assert "call answer rate" in en.output and "来电接通率" not in en.output


def test_empty_store_says_so(pg_cluster: Cluster, tmp_path: Path) -> None:
    empty = fresh_database(pg_cluster, "report_empty")
    run = CliRunner().invoke(main, ["report", "summary", "--dsn", empty])
    assert run.exit_code == 0 and "no calls yet" in run.output
    assert "offered" not in run.output
    as_json = CliRunner().invoke(main, ["report", "summary", "--dsn", empty, "--format", "json"])
    assert json.loads(as_json.stdout)[0]["rows"][0]["calls"] == 0
    bare = pg_cluster.create_database("t_report_bare", replace=True)  # no tables at all
    for args in (["report", "summary"], ["export", "queue-log", "-o", str(tmp_path / "q")]):
        run = CliRunner().invoke(main, [*args, "--dsn", bare])
        assert run.exit_code == 1 and "no calls yet" in run.output, run.output
        assert isinstance(run.exception, SystemExit)  # a message, not a traceback
    none = CliRunner().invoke(main, ["export", "queue-log", "--dsn", empty])
    assert none.exit_code == 0 and "nothing to export" in none.output
