"""Where reports find the store: the daemon's running cluster or --dsn, never a PostgreSQL
started behind the daemon's back; and `callcenter status` saying why the store is down."""

from __future__ import annotations

import asyncio
import os
import pwd
from pathlib import Path

from click.testing import CliRunner

from callcenter.cli import main
from callcenter.daemon.paths import daemon_paths
from callcenter.daemon.status import store_state
from callcenter.store.database import embedded_cluster
from callcenter.store.recorder import EventRecorder


def test_no_store_under_conf_is_said_and_nothing_is_started(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    cluster = embedded_cluster(daemon_paths(conf).cluster_state())
    for args in (["report", "summary"], ["export", "queue-log"]):
        run = CliRunner().invoke(main, [*args, "--conf", str(conf)], env={"CALLCENTER_DSN": ""})
        assert run.exit_code == 1 and "no call-event store under" in run.output, run.output
    assert not cluster.data.exists()  # no initdb, no server


def test_a_stopped_cluster_is_not_started_by_a_report(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    data = conf / "daemon" / "pg" / "data"  # the daemon's own cluster, stopped
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text("15\n")
    if os.geteuid() == 0:  # as root the cluster is the daemon user's (here: nobody)
        os.chown(data, pwd.getpwnam("nobody").pw_uid, -1)
    cluster = embedded_cluster(daemon_paths(conf).cluster_state())
    assert cluster.data == data
    run = CliRunner().invoke(main, ["report", "summary", "--conf", str(conf)],
                             env={"CALLCENTER_DSN": ""})
    assert run.exit_code == 1, run.output
    assert "is not running — start the daemon" in run.output and "--dsn" in run.output
    assert not (cluster.socket_dir / f".s.PGSQL.{cluster.port}").exists()
    assert not (data / "postmaster.pid").exists()


def test_status_says_why_the_store_is_down(tmp_path: Path) -> None:
    """The pool only says it waited; the status line gives the server's own answer."""
    dsn = f"host={tmp_path / 'nowhere'} port=1 dbname=x user=x"

    async def run() -> dict:
        rec = EventRecorder(tmp_path / "spool", lambda: dsn)
        task = asyncio.create_task(rec.run())
        try:
            await asyncio.sleep(0.3)
            before = store_state(rec.snapshot())
            rec.emit("call.end", call_id="c", duration_ms=1, outcome="")
            for _ in range(200):
                if rec.failures:
                    break
                await asyncio.sleep(0.05)
            return {"before": before, "after": rec.snapshot()}
        finally:
            task.cancel()

    seen = asyncio.run(run())
    assert seen["before"].startswith("not connected yet")
    line = store_state(seen["after"])
    assert line.startswith("DOWN at host=") and "No such file or directory" in line
    assert "couldn't get a connection" not in line
    assert store_state({"database": None, "configured": True, "db_up": False,
                        "last_error": "PostgreSQL did not start: port taken"}) == \
        "DOWN: PostgreSQL did not start: port taken"
    assert store_state({"database": None, "configured": False, "db_up": False,
                        "last_error": ""}).startswith("spool only")
