"""Records end to end: SIPp callers through the real Asterisk and daemon into a real
PostgreSQL, with the database stopped and the daemon killed in the middle; afterwards the
store holds every call exactly once and the report counts what SIPp did."""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import threading
import urllib.request
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.sipp import Sipp, pause, uac_scenario
from callcenter.store import Cluster
from tests.fix_asterisk import METRICS_PORT, RunningAsterisk
from tests.fix_daemon import CLOSED_AT, start_daemon, stored_events
from tests.fix_postgres import fresh_database
from tests.integration.test_acd_live import agent, phone_up

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp, pytest.mark.postgres, pytest.mark.slow]



def call(sipp: Sipp, keys: str, talk_ms: int, results: list, number: str) -> None:
    from callcenter.sipp import dtmf

    steps = [pause(1500)] + [dtmf(k, 300) for k in keys] + [pause(talk_ms)]
    res = sipp.run(uac_scenario(caller_number=number, steps=steps, ending="hangup"),
                   service="4008001234", timeout=90)
    results.append(res.successful)


def test_every_call_recorded_once_through_outage_and_kill(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, own_cluster: Cluster,
        tmp_path: Path) -> None:
    from callcenter.daemon.paths import daemon_paths

    daemon_paths(asterisk.conf_dir).agents.unlink(missing_ok=True)
    shutil.rmtree(daemon_paths(asterisk.conf_dir).spool, ignore_errors=True)
    dsn = fresh_database(own_cluster, "records_e2e")
    started = dt.datetime.now(dt.UTC)
    d = start_daemon(asterisk, tmp_path / "d1.log", dsn=dsn)
    results: list[int] = []
    again = None
    try:
        phone = phone_up(asterisk, sipp, sipp_server, "8002", "answer", d)  # 1002: tech
        # 1. answered, with the database up
        call(sipp, "3", 5000, results, "01062345601")
        d.wait_for(lambda s: s["store"]["stored"] > 0 and s["store"]["backlog_bytes"] == 0,
                   20, "first events stored")
        # the live figures: the wallboard and Prometheus say the same
        board = d.status()["wallboard"]["queues"]["tech"]
        assert board["offered"] == 1 and board["answered"] == 1 and board["waiting"] == 0
        assert board["answer_rate"] == 1.0
        with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics") as resp:
            metrics = resp.read().decode()
        assert 'callcenter_queue_answered_today{queue="tech"} 1.0' in metrics
        assert "callcenter_store_up 1.0" in metrics
        top = CliRunner().invoke(main, ["top", "--once", "--conf", str(asterisk.conf_dir)])
        assert top.exit_code == 0 and "Li Na" in top.output and "on_call" not in top.output
        # 2. the database goes away: an answered call and a caller who gives up behind it
        own_cluster.stop()
        long_call = threading.Thread(target=call, args=(sipp, "3", 14000, results,
                                                        "01062345602"))
        long_call.start()
        d.wait_for(lambda s: agent(s, "1002")["state"] == "on_call", 30, "agent talking")
        call(sipp, "3", 8000, results, "01062345603")  # waits ~7 s, hangs up: an abandon
        d.wait_for(lambda s: s["queues"]["stats"]["abandoned"] >= 1, 20, "the abandon")
        doc = d.status()
        assert not doc["store"]["db_up"] and doc["store"]["backlog_bytes"] > 0
        # 3. the daemon is killed while the long call is still talking
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        long_call.join(60)
        # 4. the database comes back; a new daemon (the site now closed) takes two callers
        own_cluster.start()
        again = start_daemon(asterisk, tmp_path / "d2.log", at=CLOSED_AT, dsn=dsn)
        for n in (4, 5):
            call(sipp, "", 4000, results, f"0106234560{n}")
        again.wait_for(lambda s: s["store"]["db_up"] and s["store"]["backlog_bytes"] == 0
                       and s["flows"]["counts"].get("voicemail", 0) + s["flows"]["counts"].get(
                           "caller_hangup", 0) >= 2, 40, "everything stored")
    finally:
        if again is not None:
            again.stop()
        if d.proc.poll() is None:
            d.stop()
    assert results == [1] * 5  # SIPp: five calls, all completed
    assert phone.count("SuccessfulCall") >= 2
    rows = stored_events(dsn)
    assert len({r["id"] for r in rows}) == len(rows)  # no event twice
    starts = [r for r in rows if r["kind"] == "call.start"]
    assert sorted(r["data"]["caller"] for r in starts) == [f"0106234560{n}"
                                                          for n in range(1, 6)]
    assert len({r["call_id"] for r in starts}) == 5  # every call exactly once
    kinds = [r["kind"] for r in rows]
    assert kinds.count("queue.enter") == 3
    assert kinds.count("queue.answer") == 2 and kinds.count("queue.abandon") == 1
    ends = [r["data"]["outcome"] for r in rows if r["kind"] == "ivr.end"]
    assert len(ends) == 5 and ends.count("queue") == 3
    # spooled during the outage: stored late, in order
    late = [r for r in rows if r["stored_at"] - r["at"] > dt.timedelta(seconds=3)]
    assert late, "nothing waited in the spool during the outage"
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    _check_report(dsn, started, answered_by_phone=phone.count("SuccessfulCall"))


def _check_report(dsn: str, started: dt.datetime, answered_by_phone: int) -> None:
    """The reports count what SIPp did: 3 callers queued (the phone answered 2, one gave
    up), 2 reached the closed branch."""
    from callcenter.reports import Filters, build_report

    window = Filters(start=started - dt.timedelta(minutes=1),
                     end=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    with psycopg.connect(dsn) as conn:
        (s,) = build_report(conn, "summary", window).records()
        ivr = build_report(conn, "ivr", window).records()
        agents = {r["agent"]: r for r in build_report(conn, "agents", window).records()}
    assert s["offered"] == 3 and s["abandoned"] == 1
    assert s["answered"] == answered_by_phone == 2
    assert sum(r["calls"] for r in ivr) == 5
    assert sum(r["calls"] for r in ivr if r["last_node"] == "closed") == 2
    assert agents["1002"]["handled"] == 2
