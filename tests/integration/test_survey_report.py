"""`callcenter report surveys` on hand-built survey events with hand-computed answers, on a
real PostgreSQL: CSAT as the share of the top two scores, participation, timeouts and wrong
keys apart, per day, agent, queue and site."""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.reports import Filters
from callcenter.store import Cluster
from callcenter.store.events import Event, new_event
from tests.fix_postgres import fresh_database
from tests.integration.kpi_day import DAY, at, insert, report

pytestmark = [pytest.mark.postgres, pytest.mark.clock]

# call -> (agent, queue, site, day offset, the tries: a score, "timeout" or "invalid")
CALLS = {
    "c1": ("a1", "tech", "bj-hq", 0, [5]),
    "c2": ("a1", "tech", "bj-hq", 0, ["timeout", 4]),
    "c3": ("a2", "tech", "bj-hq", 0, ["invalid", "invalid"]),
    "c4": ("a2", "complaints", "bj-hq", 0, [2]),
    "c5": ("a1", "course-cd", "cd-out", 1, [3]),
    "c6": ("a2", "course-cd", "cd-out", 1, []),  # hung up at the question
}


def survey_day() -> list[Event]:
    ev = []
    for n, (call, (agent, queue, site, day, tries)) in enumerate(CALLS.items()):
        cols = {"call_id": call, "agent_id": agent, "queue": queue, "site": site}
        ev.append(new_event("survey.start", at=at(f"1{n}:00:00", day), flow="survey",
                            entry=f"e-{call}", opted_in=None, **cols))
        for i, got in enumerate(tries):
            scored = isinstance(got, int)
            ev.append(new_event("survey.answer", at=at(f"1{n}:00:1{i}", day), flow="survey",
                                question="satisfaction", score=got if scored else None,
                                scale=5, outcome="answered" if scored else got,
                                attempt=i + 1, entry=f"e-{call}", **cols))
    # a dialler survey call from before `outcome` was recorded: no start, no agent
    ev.append(new_event("survey.answer", at=at("18:00:00"), call_id="d1", flow="csat",
                        question="satisfaction", score=5, scale=5))
    # outside the window: not counted
    ev.append(new_event("survey.answer", at=DAY - dt.timedelta(minutes=1), call_id="x",
                        flow="survey", question="satisfaction", score=1, scale=5))
    return ev


@pytest.fixture(scope="module")
def dsn(pg_cluster: Cluster) -> str:
    dsn = fresh_database(pg_cluster, "survey_report")
    insert(dsn, survey_day())
    return dsn


def two_days(**kw: object) -> Filters:
    return Filters(start=DAY, end=DAY + dt.timedelta(days=2), **kw)  # type: ignore[arg-type]


def rows(dsn: str, **kw: object) -> dict[tuple[str, str], dict]:
    return {(r["by"], r["group"]): r for r in report(dsn, "surveys", two_days(**kw))}


def figures(row: dict) -> tuple:
    return (row["surveyed"], row["participated"], row["participation"], row["answers"],
            row["csat"], row["timeouts"], row["wrong_keys"])


def test_csat_is_the_top_two_share_and_participation_counts_calls(dsn: str) -> None:
    by = rows(dsn)
    total = by[("all", "-")]
    # 7 calls heard it; c1 c2 c4 c5 d1 answered; scores 5 4 2 3 5: 4 and 5 are the top two
    assert figures(total) == (7, 5, 0.7143, 5, 0.6, 1, 2)
    assert total["distribution"] == "1:0 2:1 3:1 4:1 5:2"
    assert total["question"] == "satisfaction"


def test_per_agent_queue_site_and_day(dsn: str) -> None:
    by = rows(dsn)
    assert figures(by[("agent", "a1")]) == (3, 3, 1.0, 3, 0.6667, 1, 0)
    assert figures(by[("agent", "a2")]) == (3, 1, 0.3333, 1, 0.0, 0, 2)
    assert figures(by[("agent", "-")]) == (1, 1, 1.0, 1, 1.0, 0, 0)  # the dialler's call
    assert figures(by[("queue", "tech")]) == (3, 2, 0.6667, 2, 1.0, 1, 2)
    assert figures(by[("site", "cd-out")]) == (2, 1, 0.5, 1, 0.0, 0, 0)
    assert figures(by[("day", "2026-11-24")]) == (5, 4, 0.8, 4, 0.75, 1, 2)
    assert figures(by[("day", "2026-11-25")]) == (2, 1, 0.5, 1, 0.0, 0, 0)
    order = [k[0] for k in by]
    assert order == sorted(order, key=["all", "day", "agent", "queue", "site"].index)


def test_filters_select_the_surveyed_calls(dsn: str) -> None:
    by = rows(dsn, queue="tech")
    assert figures(by[("all", "-")]) == (3, 2, 0.6667, 2, 1.0, 1, 2)
    assert set(by) == {("all", "-"), ("day", "2026-11-24"), ("agent", "a1"),
                       ("agent", "a2"), ("queue", "tech"), ("site", "bj-hq")}
    by = rows(dsn, agent="a2")
    assert figures(by[("all", "-")]) == (3, 1, 0.3333, 1, 0.0, 0, 2)
