"""Agents log in, pause, unpause and log out from a desk phone's keypad (SIPp as the phone)."""

from __future__ import annotations

import pytest

from callcenter.sipp import Sipp, dtmf, pause, uac_scenario
from tests.fix_asterisk import RunningAsterisk
from tests.fix_daemon import RunningDaemon

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]


def keypad(sipp: Sipp, asterisk: RunningAsterisk, extension: str, code: str,
           digits: str, ending: str = "wait_bye") -> None:
    agent = next(a for a in asterisk.site.spec.agents if a.extension == extension)
    steps = [pause(800)] + [dtmf(d, 350) for d in digits] + [pause(300)]
    result = sipp.run(uac_scenario(caller_number=extension, caller_name="desk phone",
                                   steps=steps, auth=True, ending=ending),
                      service=code, timeout=40,
                      extra=["-au", extension, "-ap",
                             asterisk.site.secrets.sip_passwords[agent.id]])
    assert result.successful == 1, result.errors[-2000:]



def test_login_pause_unpause_logout_from_the_keypad(asterisk: RunningAsterisk, sipp: Sipp,
                                                     daemon: RunningDaemon) -> None:
    pin = asterisk.site.secrets.pins["1002"]
    # hot-desking: agent 1002 logs in at agent 1001's usual phone (8001)
    keypad(sipp, asterisk, "8001", "*21", f"1002#{pin}#")
    rec = daemon.wait_for(lambda s: agent_in(s, "1002")["state"] == "ready", 10,
                          "agent 1002 ready")
    assert agent_in(rec, "1002")["device"] == "8001"
    assert "Idle" in asterisk.cli("core show hint agent-1002")

    keypad(sipp, asterisk, "8001", "*23", "2")
    daemon.wait_for(lambda s: agent_in(s, "1002")["state"] == "paused"
                    and agent_in(s, "1002")["reason"] == "lunch", 10, "paused for lunch")
    assert "Hold" in asterisk.cli("core show hint agent-1002")

    keypad(sipp, asterisk, "8001", "*24", "")
    daemon.wait_for(lambda s: agent_in(s, "1002")["state"] == "ready", 10, "ready again")

    keypad(sipp, asterisk, "8001", "*22", "")
    daemon.wait_for(lambda s: agent_in(s, "1002")["state"] == "logged_out", 10, "logged out")
    assert "Unavailable" in asterisk.cli("core show hint agent-1002")


def test_wrong_pin_does_not_log_in(asterisk: RunningAsterisk, sipp: Sipp,
                                   daemon: RunningDaemon) -> None:
    pin = asterisk.site.secrets.pins["1003"]
    wrong = "0" * len(pin) if pin != "0" * len(pin) else "1" * len(pin)
    keypad(sipp, asterisk, "8003", "*21", f"1003#{wrong}#", ending="hangup")
    doc = daemon.wait_for(lambda s: "failed login at 8003" in daemon.log(), 10,
                          "the failed login logged")
    assert agent_in(doc, "1003")["state"] == "logged_out"


def test_agent_state_survives_a_daemon_restart(asterisk: RunningAsterisk, sipp: Sipp,
                                               daemon: RunningDaemon, tmp_path) -> None:
    from tests.fix_daemon import start_daemon

    pin = asterisk.site.secrets.pins["2001"]
    keypad(sipp, asterisk, "8101", "*21", f"2001#{pin}#")
    daemon.wait_for(lambda s: agent_in(s, "2001")["state"] == "ready", 10, "2001 ready")
    daemon.stop()
    again = start_daemon(asterisk, tmp_path / "again.log", dsn=daemon.dsn)
    try:
        rec = agent_in(again.status(), "2001")
        assert (rec["state"], rec["device"]) == ("ready", "8101")
    finally:
        again.stop()


def agent_in(status: dict, agent_id: str) -> dict:
    return next(a for a in status["agents"] if a["id"] == agent_id)
