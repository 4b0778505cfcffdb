"""`callcenter campaign import`'s file rules (through the API's request rules) and the
commands' usage errors, without a database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.cli.campaign_csv import CampaignFileError, read_jobs, row_key
from callcenter.clock import FixedClock
from callcenter.site import load_site_file

pytestmark = pytest.mark.clock

SITE = Path(__file__).parents[2] / "callcenter" / "example" / "site.yaml"
NOW = FixedClock(dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC))  # 10:00 in Beijing
REMINDERS = ("number,lesson_id,lesson_start,student,course\n"
             "13812345678,L-1,2026-03-02T19:30:00+08:00,王小明,英语课\n"
             "+862887654321,L-2,2026-03-02T20:00:00+08:00,李华,数学课\n")


def read(tmp_path: Path, campaign: str, text: str, encoding: str = "utf-8"):
    spec = load_site_file(SITE)
    f = tmp_path / f"{campaign}.csv"
    f.write_bytes(text.encode(encoding))
    return f, read_jobs(f, campaign, spec.outbound.campaigns[campaign], spec, NOW)


def test_reminder_rows_become_jobs_by_the_api_rules(tmp_path: Path) -> None:
    _, jobs = read(tmp_path, "reminders", REMINDERS)
    (line1, first), (line2, second) = jobs
    start = dt.datetime.fromisoformat("2026-03-02T19:30:00+08:00")
    assert (line1, line2) == (2, 3)
    assert (first.kind, first.campaign, first.number, first.external_id) == (
        "reminder", "reminders", "13812345678", "L-1")
    # the example template rings 20 minutes ahead, never after the start, 2 retries
    assert (first.not_before, first.deadline) == (start - dt.timedelta(minutes=20), start)
    assert first.max_attempts == 3 and first.variables["student"] == "王小明"
    assert second.number == "02887654321"
    assert first.idempotency_key != second.idempotency_key


def test_the_key_is_the_rows_content_not_its_layout(tmp_path: Path) -> None:
    _, jobs = read(tmp_path, "reminders", REMINDERS)
    moved = ("course, student ,lesson_start,lesson_id,number\r\n"
             "英语课, 王小明 ,2026-03-02T19:30:00+08:00,L-1,13812345678\r\n")
    _, again = read(tmp_path, "reminders", moved)
    assert again[0][1].idempotency_key == jobs[0][1].idempotency_key
    row = {"number": "13812345678", "name": "x"}
    assert row_key("signups", row) != row_key("satisfaction", row)
    assert row_key("signups", row) != row_key("signups", {**row, "name": "y"})


def test_every_bad_row_is_named_and_nothing_is_returned(tmp_path: Path) -> None:
    bad = ("number,lesson_id,lesson_start,student,course,template\n"
           "13812345678,L-1,2026-03-02T19:30:00+08:00,王小明,英语课,\n"
           "12345,L-2,2026-03-02T19:30:00+08:00,王小明,英语课,\n"
           "13812345679,L-3,2026-03-02 19:30,王小明,英语课,\n"
           "13812345670,L-4,2026-03-01T19:30:00+08:00,王小明,英语课,\n"
           "13812345671,L-5,2026-03-02T19:30:00+08:00,,英语课,\n"
           "13812345672,L-1,2026-03-02T19:45:00+08:00,李华,英语课,\n"
           "13812345673,L-6,2026-03-02T19:30:00+08:00,李华,英语课,nosuch\n"
           "4001234567,L-7,2026-03-02T19:30:00+08:00,李华,英语课,,extra\n")
    with pytest.raises(CampaignFileError) as err:
        read(tmp_path, "reminders", bad)
    text = str(err.value)
    f = tmp_path / "reminders.csv"
    assert f"{f}:2:" not in text  # the good row
    assert f"{f}:3: number: '12345' is not a phone number" in text
    assert f"{f}:4: lesson_start:" in text and "2025-12-03T19:30:00+08:00" in text
    assert f"{f}:5: lesson_start: the lesson started at 2026-03-01T19:30:00+08:00" in text
    assert f"{f}:6: student: empty" in text
    assert f"{f}:7: lesson_id: 'L-1' is already on line 2" in text
    assert f"{f}:8: template: 'nosuch' is not a voice template" in text
    assert f"{f}:9: -: more cells than columns" in text
    assert "7 problems" in text and "nothing was imported" in text


def test_the_header_must_fit_the_campaign_kind(tmp_path: Path) -> None:
    with pytest.raises(CampaignFileError, match=r"reminders.csv:1: no column lesson_start"
                       r".*number,lesson_id,lesson_start,student,course\[,template\]"):
        read(tmp_path, "reminders", "number,lesson_id,student,course\n1,2,3,4\n")
    with pytest.raises(CampaignFileError, match=r"signups.csv:1: unknown column vip"):
        read(tmp_path, "signups", "number,name,vip\n13812345678,李女士,1\n")
    with pytest.raises(CampaignFileError, match="no rows after the header"):
        read(tmp_path, "satisfaction", "number\n")


def test_leads_and_surveys_are_due_now(tmp_path: Path) -> None:
    _, leads = read(tmp_path, "signups", "number,name,source,interest\n"
                    "13812345678,李女士,官网,少儿英语\n", encoding="gb18030")
    lead = leads[0][1]
    assert (lead.kind, lead.not_before, lead.variables["name"]) == ("lead", NOW.now(),
                                                                    "李女士")
    _, surveys = read(tmp_path, "satisfaction", "number,name\n13812345678,王先生\n"
                      "13912345678,\n")
    assert [j.kind for _, j in surveys] == ["survey", "survey"]
    assert surveys[0][1].deadline > surveys[0][1].not_before == NOW.now()
    assert surveys[1][1].variables == {}


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), obj={"clock": NOW})


def test_an_unknown_campaign_is_a_usage_error(tmp_path: Path) -> None:
    res = invoke("campaign", "pause", "nosuch", "--site-file", str(SITE), "--conf",
                 str(tmp_path))
    assert res.exit_code == 2
    assert "'nosuch' is not a campaign" in res.output and "reminders, satisfaction" in (
        res.output)
    assert invoke("campaign", "list").exit_code == 2  # --site-file is required


def test_readers_never_start_the_store(tmp_path: Path) -> None:
    for args in (["list"], ["show", "reminders"], ["results", "reminders"]):
        res = invoke("campaign", *args, "--site-file", str(SITE), "--conf", str(tmp_path))
        assert res.exit_code == 1, res.output
        assert "no call-event store under" in res.output
        assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []  # no cluster was made


def test_dry_run_checks_the_file_only(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text(REMINDERS, encoding="utf-8")
    res = invoke("campaign", "import", "reminders", str(f), "--dry-run", "--site-file",
                 str(SITE), "--conf", str(tmp_path / "none"))
    assert res.exit_code == 0 and "2 rows good; nothing written" in res.output
