"""pytest plugin: the real `callcenter run` daemon as a subprocess next to the test Asterisk."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from callcenter.daemon.app import status_socket
from callcenter.daemon.paths import daemon_paths
from callcenter.daemon.status import query_status
from callcenter.errors import CallcenterError
from callcenter.store import Cluster

from .fix_asterisk import RunningAsterisk
from .fix_postgres import fresh_database


@dataclass
class RunningDaemon:
    proc: subprocess.Popen[bytes]
    conf_dir: Path
    log_path: Path
    dsn: str = ""

    def status(self) -> dict:
        return query_status(status_socket(self.conf_dir))

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, predicate, timeout: float = 15, what: str = "condition") -> dict:
        deadline = time.monotonic() + timeout
        last: dict = {}
        while time.monotonic() < deadline:
            try:
                last = self.status()
                if predicate(last):
                    return last
            except CallcenterError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"daemon never reached {what}; last status {last}\n{self.log()}")

    def connected_or_stopped(self, timeout: float, what: str) -> None:
        """Wait for the AMI connection; stop the daemon if it never comes (a fixture that
        fails while starting never reaches its teardown: the daemon would hold the ports)."""
        try:
            self.wait_for(lambda s: s["ami"]["connected"], timeout, what)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


# the flows' clock in tests: a Tuesday evening, when every site is open
OPEN_AT = "2026-11-24 20:05"
CLOSED_AT = "2026-11-24 23:30"


def start_daemon(asterisk: RunningAsterisk, log_path: Path, at: str = OPEN_AT,
                 dsn: str = "") -> RunningDaemon:
    """The daemon records into `dsn`; without one it keeps events in its spool only."""
    sock = status_socket(asterisk.conf_dir)
    sock.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    store = ["--dsn", dsn] if dsn else ["--no-store"]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "callcenter", "run", str(asterisk.site.path), "--conf",
             str(asterisk.conf_dir), "--log-level", "DEBUG", "--at", at, *store],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    daemon = RunningDaemon(proc, asterisk.conf_dir, log_path, dsn)
    daemon.connected_or_stopped(20, "an AMI connection")
    return daemon




def stored_events(dsn: str, kind: str | None = None) -> list[dict]:
    """The events in the store, in storage order."""
    from psycopg.rows import dict_row

    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM events WHERE %(k)s::text IS NULL OR kind = %(k)s "
                            "ORDER BY seq", {"k": kind}).fetchall()


def wait_events(dsn: str, kind: str, at_least: int = 1, timeout: float = 20) -> list[dict]:
    """The stored events of one kind once there are `at_least` of them: the daemon stores its
    events from its spool in batches, a moment after the state they describe."""
    deadline = time.monotonic() + timeout
    rows = stored_events(dsn, kind)
    while len(rows) < at_least and time.monotonic() < deadline:
        time.sleep(0.2)
        rows = stored_events(dsn, kind)
    return rows


@pytest.fixture
def daemon(asterisk: RunningAsterisk, tmp_path: Path, pg_cluster: Cluster,
           request: pytest.FixtureRequest) -> Iterator[RunningDaemon]:
    """`callcenter run` on the test site, connected to the test Asterisk, nobody logged in,
    recording into a fresh database of its own."""
    paths = daemon_paths(asterisk.conf_dir)
    paths.agents.unlink(missing_ok=True)
    shutil.rmtree(paths.spool, ignore_errors=True)
    dsn = fresh_database(pg_cluster, request.node.name)
    d = start_daemon(asterisk, tmp_path / "daemon.log", dsn=dsn)
    try:
        yield d
    finally:
        d.stop()
