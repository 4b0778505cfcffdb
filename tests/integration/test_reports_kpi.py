"""KPIs on a hand-built day of events with hand-computed answers, on a real PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import psycopg
import pytest

from callcenter.clock import FixedClock
from callcenter.reports import Filters, ReportError, build_report
from callcenter.store import Cluster
from callcenter.store.events import new_event
from tests.fix_postgres import fresh_database
from tests.integration.kpi_day import DAY, at, day_database, insert, report, tuesday

pytestmark = [pytest.mark.postgres, pytest.mark.clock]

@pytest.fixture(scope="module")
def day_dsn(pg_cluster: Cluster) -> str:
    return day_database(pg_cluster, "kpi_day")


def test_summary_by_hand(day_dsn: str) -> None:
    (s,) = report(day_dsn, "summary")
    assert s["offered"] == 8  # 9 entries in the window, less the short abandon
    assert s["answered"] == 5 and s["answer_rate"] == 0.625
    assert (s["abandoned"], s["short_abandoned"], s["abandoned_ringing"]) == (1, 1, 1)
    assert s["asa_s"] == 19.0  # (12 + 5 + 8 + 30 + 40) / 5
    assert s["avg_wait_s"] == 57.5  # (12 + 25 + 40 + 5 + 8 + 30 + 300 + 40) / 8
    assert s["max_wait_s"] == 300.0
    assert s["service_level"] == 0.5  # A, E, F within T ÷ (5 answered + B abandoned after T)
    assert s["aht_s"] == 58.0  # (70 + 130 + 20 + 60 + 10) / 5
    assert (s["callbacks_requested"], s["callbacks_completed"]) == (1, 1)
    assert (s["overflowed"], s["transferred"], s["unstaffed"], s["unfinished"]) == (1, 1, 1, 0)


def test_conventions_change_the_figures_and_are_printed(day_dsn: str) -> None:
    with psycopg.connect(day_dsn) as conn:
        rep = build_report(conn, "summary", tuesday(count_short_abandons=True,
                                                    sl_formula="answered"))
    (s,) = rep.records()
    assert s["offered"] == 9 and s["abandoned"] == 2
    assert s["service_level"] == 0.6  # 3 within T ÷ 5 answered
    notes = " ".join(rep.notes)
    assert "answered within T ÷ answered" in notes and "counted as offered" in notes


def test_hourly_and_daily_buckets(day_dsn: str) -> None:
    hours = {r["hour"]: r for r in report(day_dsn, "hourly")}
    assert len(hours) == 24
    assert hours["10:00"]["offered"] == 3 and hours["10:00"]["callbacks_requested"] == 1
    assert hours["10:00"]["callbacks_completed"] == 1  # completed at 11:06, asked at 10:50
    assert hours["11:00"]["offered"] == 0
    assert hours["23:00"]["answered"] == 1  # the call that spans midnight
    assert hours["00:00"]["overflowed"] == 1  # at the window's very start
    assert hours["14:00"]["offered"] == 2  # the transfer is a new entry in tech
    days = {r["weekday"]: r for r in report(day_dsn, "daily")}
    assert days["Tue"]["offered"] == 8 and days["Wed"]["offered"] == 0


def test_queues_agents_trunks_ivr_surveys(day_dsn: str) -> None:
    queues = {r["queue"]: r for r in report(day_dsn, "queues")}
    assert (queues["tech"]["offered"], queues["tech"]["answered"]) == (6, 4)
    assert (queues["sales"]["offered"], queues["sales"]["answered"]) == (2, 1)
    assert queues["tech"]["unstaffed"] == 1
    agents = {r["agent"]: r for r in report(day_dsn, "agents")}
    assert agents["a2"]["handled"] == 3 and agents["a1"]["handled"] == 1
    assert agents["a1"]["missed_rings"] == 1
    assert agents["a1"]["logged_in_min"] == 540.0 and agents["a1"]["paused_min"] == 60.0
    assert agents["a1"]["pause_by_reason"] == "lunch 60.0 min"
    trunks = {(r["trunk"], r["route"], r["direction"]): r for r in report(day_dsn, "trunks")}
    assert trunks[("telecom", "first", "inbound")]["calls"] == 1
    assert trunks[("unicom", "first", "outbound")]["failed"] == 1
    assert trunks[("telecom", "second", "outbound")]["answered"] == 1
    ivr = report(day_dsn, "ivr")
    assert ivr[0] == {"flow": "main", "last_node": "tech", "outcome": "queue", "calls": 2,
                      "share": 0.5}
    assert {"flow": "main", "last_node": "menu", "outcome": "caller_hangup", "calls": 1,
            "share": 0.25} in ivr
    sv = next(r for r in report(day_dsn, "surveys") if r["by"] == "all")
    assert sv["answers"] == 3 and sv["csat"] == 0.6667 and sv["distribution"] == \
        "1:0 2:1 3:0 4:1 5:1"


def test_an_agents_current_state_counts_up_to_now(pg_cluster: Cluster) -> None:
    dsn = fresh_database(pg_cluster, "kpi_open_state")
    now = DAY + dt.timedelta(hours=20)  # the report's "now", injected
    ago = lambda minutes: now - dt.timedelta(minutes=minutes)  # noqa: E731
    insert(dsn, [
        new_event("agent.state", at=ago(120), agent_id="a3", site="bj-hq", state="ready",
                  reason="", prev="logged_out", prev_reason="", since=ago(600).isoformat(),
                  device="8003"),
        new_event("agent.state", at=ago(30), agent_id="a3", site="bj-hq", state="paused",
                  reason="meeting", prev="ready", prev_reason="", since=ago(120).isoformat(),
                  device="8003"),
        new_event("agent.state", at=ago(60), agent_id="a4", site="sh-branch",
                  state="logged_out", reason="", prev="ready", prev_reason="",
                  since=ago(90).isoformat(), device="8004"),
    ])

    def agents(start: dt.datetime, end: dt.datetime, **kw: object) -> dict[str, dict]:
        rows = report(dsn, "agents", Filters(start=start, end=end, now=now, **kw))  # type: ignore[arg-type]
        return {r["agent"]: r for r in rows}

    a = agents(ago(180), now + dt.timedelta(hours=1))
    assert a["a3"]["logged_in_min"] == 120.0  # 90 ready, 30 paused so far
    assert a["a3"]["paused_min"] == 30.0
    assert a["a3"]["pause_by_reason"].startswith("meeting 30.")
    assert a["a4"]["logged_in_min"] == 30.0  # logged out: nothing open
    past = agents(ago(180), ago(60))  # a window already over: the pause began after it
    assert past["a3"]["logged_in_min"] == 60.0 and past["a3"]["paused_min"] == 0.0
    assert set(agents(ago(180), now, site="sh-branch")) == {"a4"}
    assert agents(now + dt.timedelta(hours=1), now + dt.timedelta(hours=2)) == {}


def test_filters(day_dsn: str) -> None:
    (s,) = report(day_dsn, "summary", tuesday(queue="sales"))
    assert (s["offered"], s["answered"], s["callbacks_requested"]) == (2, 1, 1)
    (s,) = report(day_dsn, "summary", tuesday(agent="a2"))
    assert s["answered"] == 3
    (s,) = report(day_dsn, "summary", Filters(start=at("10:00:00"), end=at("10:10:00")))
    assert s["offered"] == 2  # A and B; C entered at 10:10:00, the window's end


def test_bad_requests_are_clear() -> None:
    with pytest.raises(ReportError, match="window is empty"):
        Filters(start=DAY, end=DAY)
    with pytest.raises(ReportError, match="no report named"):
        build_report(None, "weekly", tuesday())


def test_formats(day_dsn: str, tmp_path) -> None:
    from callcenter.reports.output import render_csv, render_html, render_json, render_table

    with psycopg.connect(day_dsn) as conn:
        reps = [build_report(conn, n, tuesday()) for n in ("summary", "hourly")]
    rows = list(csv.DictReader(io.StringIO(render_csv(reps[0]))))
    assert rows[0]["offered"] == "8" and rows[0]["answer_rate"] == "0.625"
    doc = json.loads(render_json(reps))
    assert doc[0]["rows"][0]["answered"] == 5 and doc[0]["notes"]
    text = render_table(reps[1], width=120)
    assert "10:00" in text and "█" in text
    html = render_html(reps, title="Tuesday <b>")
    assert "<svg" in html and "Tuesday &lt;b&gt;" in html and "0.625" not in html
    assert "62.5%" in html and "src=" not in html and "http" not in html


def test_report_command(day_dsn: str, tmp_path) -> None:
    from click.testing import CliRunner

    from callcenter.cli import main
    from tests.fix_asterisk import make_site

    site = make_site(tmp_path / "site")
    # the evening of the day: --from a date with no --to ends with that day, whatever the date
    evening = {"clock": FixedClock(DAY + dt.timedelta(hours=23, minutes=59))}
    run = CliRunner().invoke(main, ["report", "summary", "queues", "--dsn", day_dsn,
                                    "--from", "2026-11-24", "--site-file", str(site),
                                    "--format", "json", "--html", str(tmp_path / "r.html")],
                             obj=evening)
    assert run.exit_code == 0, run.output
    doc = json.loads(run.stdout)
    assert doc[0]["rows"][0]["offered"] == 8 and doc[1]["report"] == "queues"
    assert "按队列" in (tmp_path / "r.html").read_text()  # the site's language: zh
    table = CliRunner().invoke(main, ["report", "hourly", "--dsn", day_dsn, "--from",
                                      "2026-11-24", "--to", "2026-11-25"])
    assert table.exit_code == 0, table.output
    today = CliRunner().invoke(main, ["report", "summary", "--dsn", day_dsn, "--from", "today",
                                      "--format", "json"], obj=evening)
    assert json.loads(today.stdout)[0]["rows"][0]["offered"] == 8
    yesterday = {"clock": FixedClock(DAY + dt.timedelta(days=1, hours=9))}
    run = CliRunner().invoke(main, ["report", "summary", "--dsn", day_dsn, "--from",
                                    "yesterday", "--to", "today", "--format", "json"],
                             obj=yesterday)
    assert json.loads(run.stdout)[0]["rows"][0]["offered"] == 8
    assert table.exit_code == 0 and "█" in table.output and "service level" in table.output
    bad = CliRunner().invoke(main, ["report", "summary", "--dsn", day_dsn, "--from", "soon"])
    assert bad.exit_code == 2 and "not a date" in bad.output
    down = CliRunner().invoke(main, ["report", "summary", "--dsn",
                                     "host=/nonexistent port=1 dbname=x user=x"])
    assert down.exit_code == 1 and "cannot reach the call-event database" in down.output


def test_queue_log_export(day_dsn: str, tmp_path) -> None:
    from click.testing import CliRunner

    from callcenter.cli import main

    out = tmp_path / "queue_log"
    run = CliRunner().invoke(main, ["export", "queue-log", "--dsn", day_dsn, "--from",
                                    "2026-11-24", "--to", "2026-11-25", "-o", str(out)])
    assert run.exit_code == 0, run.output
    lines = out.read_text().splitlines()

    def ts(hms: str) -> str:
        return str(int(at(hms).timestamp()))

    a = [line for line in lines if "|call-A|" in line]
    assert a == [f"{ts('10:00:00')}|call-A|tech|NONE|ENTERQUEUE||138|1",
                 f"{ts('10:00:09')}|call-A|tech|Agent/a1|RINGNOANSWER|4000",
                 f"{ts('10:00:12')}|call-A|tech|Agent/a2|CONNECT|12|call-A|2",
                 f"{ts('10:01:12')}|call-A|tech|Agent/a2|COMPLETECALLER|12|60|1"]
    assert f"{ts('10:05:25')}|call-B|tech|NONE|ABANDON|1|1|25" in lines
    assert f"{ts('14:02:05')}|call-E|sales|Agent/a3|BLINDTRANSFER|tech|queue|5|120|1" in lines
    assert f"{ts('14:02:33')}|call-F|tech|Agent/a2|COMPLETEAGENT|8|20|1" in lines
    assert sum("|call-J|" in line and "ENTERQUEUE" in line for line in lines) == 1
    assert f"{ts('00:05:00')}|call-H|tech|NONE|EXITWITHTIMEOUT|1|1|300" in lines
    assert f"{ts('10:50:40')}|call-D|sales|NONE|EXITWITHKEY|1|1|1|40" in lines
    agent = [line.split("|", 1)[1] for line in lines if "Agent/a1|" in line and "NONE|NONE" in line]
    assert agent == ["NONE|NONE|Agent/a1|ADDMEMBER|", "NONE|NONE|Agent/a1|PAUSEALL|lunch",
                     "NONE|NONE|Agent/a1|UNPAUSEALL|lunch", "NONE|NONE|Agent/a1|REMOVEMEMBER|"]
    assert all(line.count("\n") == 0 for line in lines)
    assert not any("call-I" in line for line in lines)  # outside the window


def test_queue_log_fields_cannot_break_lines() -> None:
    from callcenter.reports.queue_log import _line

    line = _line(DAY, "c|1", "tech", "NONE", "ENTERQUEUE", "", "13|8\nEVIL", 1)
    assert line.count("|") == 7 and "\n" not in line
