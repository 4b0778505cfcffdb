"""The real daemon next to the real Asterisk: AMI link, status, restarts, SIGTERM, AGI abuse."""

from __future__ import annotations

import socket
import time

import pytest

from callcenter.asterisk.launcher import pid_of
from tests.fix_asterisk import AGI_PORT, RunningAsterisk
from tests.fix_daemon import RunningDaemon

pytestmark = pytest.mark.asterisk


def test_status_reports_the_ami_link_and_live_channels(daemon: RunningDaemon) -> None:
    doc = daemon.status()
    assert doc["ami"]["connected"] is True
    assert doc["ami"]["resyncs"] >= 1
    assert doc["agi"]["port"] == AGI_PORT
    assert isinstance(doc["channels"], list)
    assert doc["event_loop"] == "uvloop"  # the daemon's loop (daemon/loop.py)


def test_daemon_survives_asterisk_restart_and_resyncs(daemon: RunningDaemon,
                                                      asterisk: RunningAsterisk) -> None:
    before = daemon.status()["ami"]["connects"]
    asterisk.restart()
    doc = daemon.wait_for(lambda s: s["ami"]["connects"] > before and s["ami"]["connected"],
                          40, "a reconnect after the Asterisk restart")
    assert doc["ami"]["resyncs"] >= 2
    assert pid_of(asterisk.conf_dir) is not None


def test_half_open_agi_clients_do_not_freeze_the_daemon(daemon: RunningDaemon) -> None:
    for _ in range(30):
        s = socket.create_connection(("127.0.0.1", AGI_PORT))
        s.sendall(b"agi_network: yes\nagi_channel: PJSIP/x\n")
        s.close()
    start = time.monotonic()
    doc = daemon.status()
    assert time.monotonic() - start < 1.0
    doc = daemon.wait_for(lambda s: s["agi"]["broken"] >= 30, 10, "30 broken sessions counted")
    assert doc["ami"]["connected"]


def test_sigterm_stops_cleanly(daemon: RunningDaemon) -> None:
    assert daemon.stop() == 0
    assert "stopped" in daemon.log()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", AGI_PORT), timeout=1).close()


def test_json_status_over_the_cli(daemon: RunningDaemon) -> None:
    from click.testing import CliRunner

    from callcenter.cli import main

    res = CliRunner().invoke(main, ["status", "--conf", str(daemon.conf_dir)])
    assert res.exit_code == 0, res.output
    assert "AMI: connected" in res.output


