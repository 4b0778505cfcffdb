"""pytest plugin: the real `callcenter run` daemon as a subprocess next to the test Asterisk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from callcenter.daemon.app import status_socket
from callcenter.daemon.status import query_status
from callcenter.errors import CallcenterError

from .fix_asterisk import RunningAsterisk


@dataclass
class RunningDaemon:
    proc: subprocess.Popen[bytes]
    conf_dir: Path
    log_path: Path

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


def start_daemon(asterisk: RunningAsterisk, log_path: Path, at: str = OPEN_AT) -> RunningDaemon:
    sock = status_socket(asterisk.conf_dir)
    sock.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "callcenter", "run", str(asterisk.site.path), "--conf",
             str(asterisk.conf_dir), "--log-level", "DEBUG", "--at", at],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    daemon = RunningDaemon(proc, asterisk.conf_dir, log_path)
    daemon.wait_for(lambda s: s["ami"]["connected"], 20, "an AMI connection")
    return daemon


@pytest.fixture
def daemon(asterisk: RunningAsterisk, tmp_path: Path) -> Iterator[RunningDaemon]:
    """`callcenter run` on the test site, connected to the test Asterisk, nobody logged in."""
    (asterisk.conf_dir / "db" / "agents.json").unlink(missing_ok=True)
    d = start_daemon(asterisk, tmp_path / "daemon.log")
    try:
        yield d
    finally:
        d.stop()
