"""Toll fraud, live: desk phones and callbacks reach the carrier only for allowed numbers
(real Asterisk, daemon, SIPp phones and SIPp carriers)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from callcenter.sipp import Sipp, SippServer, dtmf, pause, uac_scenario
from tests.fix_asterisk import CARRIER_PORTS, RunningAsterisk
from tests.fix_daemon import RunningDaemon

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp, pytest.mark.security]


def _phone(sipp: Sipp, asterisk: RunningAsterisk, extension: str, service: str,
           steps: list, ending: str = "wait_bye") -> None:
    agent = next(a for a in asterisk.site.spec.agents if a.extension == extension)
    sipp.run(uac_scenario(caller_number=extension, caller_name="desk phone", steps=steps,
                          auth=True, ending=ending),
             service=service, timeout=40,
             extra=["-au", extension, "-ap", asterisk.site.secrets.sip_passwords[agent.id]])


def _dials(asterisk: RunningAsterisk, carriers: list[SippServer]) -> tuple[int, int]:
    """(dials towards a trunk in Asterisk's log, calls the carriers answered)."""
    time.sleep(2.5)  # SIPp writes its statistics once a second
    return (asterisk.log().count("callcenter: dial "),
            sum(c.count("SuccessfulCall") for c in carriers))


def test_desk_phone_dials_only_allowed_numbers(asterisk: RunningAsterisk, sipp: Sipp,
                                               daemon: RunningDaemon,
                                               sipp_server: Callable[..., SippServer]) -> None:
    carriers = [sipp_server(CARRIER_PORTS["telecom"]), sipp_server(CARRIER_PORTS["unicom"])]
    # no agent logged in at 8002: nothing leaves, not even a mobile number
    before, _ = _dials(asterisk, carriers)
    _phone(sipp, asterisk, "8002", "13800138000", [pause(1500)], ending="hangup")
    assert _dials(asterisk, carriers) == (before, 0)
    assert "no agent logged in" in daemon.log()

    pin = asterisk.site.secrets.pins["1001"]
    _phone(sipp, asterisk, "8001", "*21", [pause(800)] + [dtmf(d, 350) for d in
                                                          f"1001#{pin}#"] + [pause(300)])
    daemon.wait_for(lambda s: any(a["id"] == "1001" and a["state"] == "ready"
                                  for a in s["agents"]), 10, "agent 1001 ready")
    for number in ("00441234567", "16812345"):  # international, premium 声讯
        _phone(sipp, asterisk, "8001", number, [pause(1500)], ending="hangup")
    assert _dials(asterisk, carriers) == (before, 0)
    log = daemon.log()
    assert "dial refused (agent): 00441**4567" in log and "168***45" in log

    _phone(sipp, asterisk, "8001", "13800138000", [pause(1500)], ending="hangup")
    dials, answered = _dials(asterisk, carriers)
    assert dials == before + 1 and answered == 1


def test_callback_to_an_international_caller_never_reaches_the_carrier(
        asterisk: RunningAsterisk, sipp: Sipp, daemon: RunningDaemon,
        sipp_server: Callable[..., SippServer]) -> None:
    """A caller presenting 00441234567 asks for a callback while the only sales agent is
    busy; when the agent frees up the callback is refused and the agent takes calls again."""
    from tests.integration.test_acd_live import agent, callback_requested, phone_up

    carriers = [sipp_server(CARRIER_PORTS["telecom"]), sipp_server(CARRIER_PORTS["unicom"])]
    phone_up(asterisk, sipp, sipp_server, "8003", "answer", daemon)  # 1003: sales
    before, _ = _dials(asterisk, carriers)
    callback_requested(sipp, daemon, "00441234567", 6000).join(60)
    daemon.wait_for(lambda s: "dial refused (callback): 00441**4567" in daemon.log(), 30,
                    "the callback refused")
    daemon.wait_for(lambda s: agent(s, "1003")["state"] == "ready", 15, "1003 ready again")
    dials, answered = _dials(asterisk, carriers)
    assert (dials, answered) == (before, 0)
    assert not daemon.status()["queues"]["callbacks"]  # no attempt was ever made
