"""The queue-entry fold on a real PostgreSQL: replays, incremental and grouped folds give the
same rows, and a fold waits for an insert still open."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from callcenter.reports.projection import refresh
from callcenter.store import Cluster
from callcenter.store.events import new_event
from tests.fix_postgres import fresh_database
from tests.integration.kpi_day import at, day_database, day_of_events, insert, report

pytestmark = [pytest.mark.postgres, pytest.mark.clock]


@pytest.fixture(scope="module")
def day_dsn(pg_cluster: Cluster) -> str:
    return day_database(pg_cluster, "kpi_day_fold")


def test_replays_and_incremental_folds_change_nothing(pg_cluster: Cluster,
                                                      day_dsn: str) -> None:
    events = day_of_events()
    dsn = fresh_database(pg_cluster, "kpi_incremental")
    insert(dsn, events[:20])
    first = report(dsn, "summary")
    insert(dsn, events[10:])  # an overlapping replay: ids already stored are skipped
    insert(dsn, events)
    assert report(dsn, "summary") == report(day_dsn, "summary") != first
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == len(events)


@pytest.mark.parametrize("per_entry", [True, False], ids=["per-entry", "grouped"])
def test_both_ways_of_folding_give_the_same_rows(pg_cluster: Cluster, per_entry: bool) -> None:
    events = day_of_events()
    dsn = fresh_database(pg_cluster, f"kpi_fold_{per_entry}")
    with psycopg.connect(dsn) as conn:
        for part in (events[:15], events[10:30], events):  # overlapping, entries split
            insert(dsn, part)
            assert refresh(conn, per_entry=per_entry) > 0
        stepwise = conn.execute("SELECT * FROM queue_entries ORDER BY entry").fetchall()
        conn.execute("DELETE FROM queue_entries")
        conn.execute("DELETE FROM projections")
        conn.commit()
        refresh(conn, per_entry=not per_entry)
        at_once = conn.execute("SELECT * FROM queue_entries ORDER BY entry").fetchall()
    assert len(stepwise) == 10 and stepwise == at_once


def test_fold_waits_for_an_insert_still_open(pg_cluster: Cluster) -> None:
    """A batch that took its seq first but commits last is still folded."""
    dsn = fresh_database(pg_cluster, "kpi_open_writer")
    slow, quick = (new_event("queue.enter", at=at(t), call_id=f"call-{e}", queue="tech",
                             site="bj-hq", entry=e, reason="flow")
                   for e, t in (("slow", "10:00:00"), ("quick", "10:00:05")))
    sql = ("INSERT INTO events (id, at, kind, call_id, queue, agent_id, site, data) "
           "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
    with psycopg.connect(dsn) as writer:
        writer.execute(sql, slow.row())  # open: seq taken, not yet visible
        insert(dsn, [quick])  # a later seq, committed first
        with ThreadPoolExecutor(1) as pool:
            folded = pool.submit(report, dsn, "summary")
            time.sleep(0.5)
            assert not folded.done()  # the fold waits for the open insert
            writer.commit()
            (s,) = folded.result(timeout=10)
    assert s["offered"] == 2
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM queue_entries").fetchone()[0] == 2


