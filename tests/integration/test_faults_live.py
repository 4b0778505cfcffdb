"""Agent and call state through faults, live: a failed callback retry, a daemon killed while
an agent talks, a phone that stops answering OPTIONS. Real Asterisk, daemon and SIPp."""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from callcenter.asterisk import start, stop
from callcenter.render import render_site
from callcenter.sipp import Sipp, uas_scenario
from callcenter.site import load_site
from tests.fix_asterisk import CARRIER_PORTS, RunningAsterisk, make_site
from tests.fix_daemon import RunningDaemon, start_daemon, stored_events, wait_events
from tests.integration.test_acd_live import PHONE_PORTS, agent, caller, phone_up

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp, pytest.mark.slow,
              pytest.mark.security]

RETRY_SECONDS = 3
QUALIFY_SECONDS = 3


@pytest.fixture(scope="module")
def asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAsterisk]:
    """The test site with a short callback retry and a quick qualify of agents' phones."""
    path = make_site(tmp_path_factory.mktemp("faults-site"))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["queues"]["sales"]["callback_retry_seconds"] = RETRY_SECONDS
    data["asterisk"]["phone_qualify_seconds"] = QUALIFY_SECONDS
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    site = load_site(path)
    conf_dir = tmp_path_factory.mktemp("faults-asterisk")
    render_site(site, conf_dir)
    assert f"qualify_frequency = {QUALIFY_SECONDS}" in (conf_dir / "pjsip.conf").read_text()
    start(conf_dir, timeout=90)
    try:
        yield RunningAsterisk(site, conf_dir)
    finally:
        stop(conf_dir)


def test_failed_callback_retry_leaves_the_agent_taking_calls(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, daemon: RunningDaemon) -> None:
    """Both carrier routes reject the customer: the callback is retried (same agent, after
    callback_retry_seconds) and fails; the agent is then offered the next inbound call."""
    for port in CARRIER_PORTS.values():
        sipp_server(port, uas_scenario("busy"))
    phone = phone_up(asterisk, sipp, sipp_server, "8003", "answer", daemon)  # 1003: sales
    busy = threading.Thread(target=caller, args=(sipp, "1", 6000, "01011112222"))
    busy.start()
    daemon.wait_for(lambda s: s["queues"]["stats"]["answered"] == 1, 20, "the agent busy")
    res = sipp.run(uac_scenario_press_1(), service="4008001234", timeout=40)
    assert res.successful == 1, res.errors[-1000:]
    busy.join(60)
    doc = daemon.wait_for(lambda s: any(c["result"] == "failed"
                                        for c in s["queues"]["callbacks"]),
                          90, "the callback failed after its retries")
    results = [(c["attempt"], c["result"]) for c in doc["queues"]["callbacks"]]
    assert results == [(1, "retry"), (2, "retry"), (3, "failed")]
    assert [o["agent"] for o in doc["queues"]["offers"] if o.get("callback")] == ["1003"] * 3
    daemon.wait_for(lambda s: agent(s, "1003")["state"] == "ready", 15, "1003 ready")
    answered = phone.count("SuccessfulCall")
    caller(sipp, "1", 3000, "01033334444")
    doc = daemon.wait_for(lambda s: s["queues"]["stats"]["answered"] >= 5, 20,
                          "the next inbound call answered")
    assert doc["queues"]["offers"][-1]["agent"] == "1003"
    assert not doc["queues"]["offers"][-1].get("callback")
    deadline = time.monotonic() + 15  # SIPp writes its counts every few seconds
    while phone.count("SuccessfulCall") <= answered and time.monotonic() < deadline:
        time.sleep(0.3)
    assert phone.count("SuccessfulCall") > answered


def uac_scenario_press_1() -> str:
    from callcenter.sipp import dtmf, pause, uac_scenario

    return uac_scenario(caller_number="13912345678",
                        steps=[pause(1500), dtmf("1", 4000), dtmf("1", 0)])


def test_agent_talking_through_a_daemon_crash_is_not_rung_again(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, daemon: RunningDaemon,
        tmp_path: Path) -> None:
    phone_up(asterisk, sipp, sipp_server, "8003", "answer", daemon)
    first = threading.Thread(target=caller, args=(sipp, "1", 22000, "01011112222"))
    first.start()
    daemon.wait_for(lambda s: agent(s, "1003")["state"] == "on_call", 20, "1003 talking")
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait()
    again = start_daemon(asterisk, tmp_path / "again.log", dsn=daemon.dsn)
    # the second caller stays on the line until well after the first call ends
    second = threading.Thread(target=caller, args=(sipp, "1", 30000, "01033334444"))
    try:
        again.wait_for(lambda s: agent(s, "1003")["state"] == "on_call", 15,
                       "1003 re-learnt as on a call")
        second.start()
        doc = again.wait_for(lambda s: len(s["queues"]["waiting"]) == 1, 20,
                             "the second caller waiting")
        assert doc["queues"]["offers"] == []  # the talking agent was not rung
        first.join(60)
        doc = again.wait_for(lambda s: s["queues"]["stats"]["answered"] == 1, 30,
                             "the second caller answered after the first call ended")
        assert [o["agent"] for o in doc["queues"]["offers"]] == ["1003"]
        assert "agent 1003's call ended: ready" in again.log()
        # the first call, started by the killed run, ends once in the store: the new run
        # took it on (callspans.resume_call_ends)
        [start] = [e for e in stored_events(daemon.dsn, "call.start")
                   if str(e["data"].get("caller", "")).endswith("1011112222")]
        ends = [e for e in wait_events(daemon.dsn, "call.end", 1)
                if e["call_id"] == start["call_id"]]
        assert len(ends) == 1, ends
        assert ends[0]["data"]["duration_ms"] >= 20000  # timed from the call's start
        assert "1 calls in progress at the start" in again.log()
    finally:
        first.join(60)
        if second.is_alive():
            second.join(90)
        again.stop()


def test_unreachable_phone_pauses_its_agent_until_it_answers_again(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, daemon: RunningDaemon) -> None:
    phone = phone_up(asterisk, sipp, sipp_server, "8002", "answer", daemon)  # 1002
    phone.stop()  # nothing answers OPTIONS at the phone's address any more
    doc = daemon.wait_for(lambda s: agent(s, "1002")["reason"] == "unreachable", 30,
                          "1002 paused as unreachable")
    assert agent(doc, "1002")["state"] == "paused"
    assert any("tech" in a and "unreachable" in a for a in doc["alarms"])
    assert any(a["reason"] == "unreachable" for a in doc["wallboard"]["agents"])
    assert "ALARM: queue tech" in daemon.log()
    sipp_server(PHONE_PORTS["8002"], uas_scenario("answer"))  # the phone is back (-aa)
    doc = daemon.wait_for(lambda s: agent(s, "1002")["state"] == "ready", 30,
                          "1002 ready again by itself")
    assert not any("tech" in a for a in doc["alarms"])
    assert re.search(r"1002's phone 8002 is reachable again", daemon.log())
