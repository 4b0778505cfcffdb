"""`callcenter callerid explain` reads today's presentations from caller_id_usage."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
from click.testing import CliRunner, Result

from callcenter.cli import main
from callcenter.clock import FixedClock
from callcenter.store import Cluster
from tests.fix_postgres import fresh_database

EXAMPLE = Path(__file__).parents[2] / "callcenter" / "example" / "site.yaml"
# 2026-11-24 00:30 in Shanghai is still the 23rd in UTC: "today" is the company's day
CLOCK = FixedClock(dt.datetime(2026, 11, 23, 16, 30, tzinfo=dt.UTC))


def explain_mianyang(dsn: str, conf: Path) -> Result:
    res = CliRunner().invoke(main, ["callerid", "explain", "08161234567", "--site-file",
                                    str(EXAMPLE), "--dsn", dsn, "--conf", str(conf)],
                             obj={"clock": CLOCK})
    assert res.exit_code == 0, res.output
    return res


def test_usage_today_decides_among_equals(pg_cluster: Cluster, tmp_path: Path) -> None:
    dsn = fresh_database(pg_cluster, "callerid_usage")
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO caller_id_usage (day, number, uses) VALUES "
                     "('2026-11-24', '02880002000', 40), ('2026-11-24', '08162000100', 300), "
                     "('2026-11-23', '02880002000', 1)")
    res = explain_mianyang(dsn, tmp_path)
    assert "presents:    02880002000 (local_province)" in res.output
    assert "08162000100 reached its daily cap of 300" in res.output
    assert "used 40 of its daily cap 1000 today" in res.output
    assert "read from the call-event store for 2026-11-24" in res.output


def test_a_store_without_the_table_assumes_zero(pg_cluster: Cluster, tmp_path: Path) -> None:
    dsn = pg_cluster.create_database("t_callerid_empty", replace=True)  # no schema
    res = explain_mianyang(dsn, tmp_path)
    assert "presents:    08162000100 (local_city)" in res.output
    assert "no caller_id_usage table yet" in res.output
