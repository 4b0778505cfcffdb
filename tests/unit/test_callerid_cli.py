"""`callcenter callerid explain`: region, presented number, trunk and why, for an IT person."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from callcenter.cli import main
from callcenter.clock import FixedClock

EXAMPLE = Path(__file__).parents[2] / "callcenter" / "example" / "site.yaml"
CLOCK = FixedClock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC))


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE.parent, tmp_path, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["outbound"]["agent_site_caller_id"] = ["cd-out"]
    data["outbound"]["region_overrides"] = "regions.csv"
    (tmp_path / "regions.csv").write_text("prefix,province,city\n1990028,四川,成都\n",
                                          encoding="utf-8")
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def explain(site_file: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["callerid", "explain", *args, "--site-file", str(site_file),
               "--conf", str(site_file.parent / "conf")],
        env={"CALLCENTER_DSN": ""}, obj={"clock": CLOCK})


def lines(res: Result) -> dict[str, str]:
    return {k.strip(): v.strip() for k, _, v in
            (line.partition(":") for line in res.output.splitlines() if ":" in line)}


def test_a_chengdu_mobile_is_explained(site_file: Path) -> None:
    res = explain(site_file, "13880801234")
    assert res.exit_code == 0, res.output
    got = lines(res)
    assert got["region"] == "成都, 四川 — from the phonenumbers data"
    assert got["presents"] == "02880002000 (local_city)"
    assert got["trunk"] == "unicom"
    assert "same city" in got["why"]
    # no store under --conf: nothing is started, usage is assumed 0 and that is said
    assert got["usage today"].startswith("assumed 0 for every number (no call-event store")
    assert not (site_file.parent / "conf").exists()


def test_an_override_places_a_new_range(site_file: Path) -> None:
    got = lines(explain(site_file, "+86 199 0028 1234", "--kind", "lead"))
    assert got["region"].startswith("成都, 四川 — from the override CSV")
    assert got["presents"] == "02880002000 (local_city)"
    unknown = lines(explain(site_file, "19912345678"))
    assert unknown["presents"] == "4008001234 (national)"
    assert unknown["trunk"] == "the usual routes of that number"
    assert "unknown region" in unknown["region"]


def test_an_agent_at_a_listed_site_presents_the_sites_number(site_file: Path) -> None:
    got = lines(explain(site_file, "13800138000", "--agent-site", "cd-out"))
    assert got["presents"] == "02880002000 (site)"
    assert "kind of call: agent" in got["number"]
    pooled = lines(explain(site_file, "13800138000", "--agent-site", "bj-hq"))
    assert pooled["presents"] == "01080001000 (local_city)"


@pytest.mark.parametrize("args,message", [
    (["abc"], "'abc' is not a telephone number"),
    (["12"], "is not a telephone number"),
    (["13800138000", "--agent-site", "nowhere"], "no site 'nowhere'"),
    (["13800138000", "--agent-site", "cd-out", "--kind", "lead"], "only an agent's manual"),
    (["13800138000", "--kind", "robocall"], "Invalid value for '--kind'"),
])
def test_bad_input_is_a_usage_error_without_traceback(site_file: Path, args: list[str],
                                                      message: str) -> None:
    res = explain(site_file, *args)
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_a_broken_override_csv_is_located(site_file: Path) -> None:
    (site_file.parent / "regions.csv").write_text("1990028,Atlantis,\n", encoding="utf-8")
    res = explain(site_file, "13800138000")
    assert res.exit_code == 1
    assert "regions.csv:1:2: province: 'Atlantis' is not a Chinese province" in res.output
    assert "Traceback" not in res.output


def test_an_unreachable_store_assumes_zero_and_says_so(site_file: Path) -> None:
    res = CliRunner().invoke(
        main, ["callerid", "explain", "13880801234", "--site-file", str(site_file),
               "--dsn", "host=127.0.0.1 port=1 dbname=none connect_timeout=2"],
        obj={"clock": CLOCK})
    assert res.exit_code == 0, res.output
    assert "assumed 0 for every number (cannot read the call-event store" in res.output
