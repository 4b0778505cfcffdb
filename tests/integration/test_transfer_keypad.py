"""Transfers from the agent's keypad, live: the agent's SIPp phone presses ## (blind) or *2
(consultative) and the target as SIP INFO during the call (docs/transfers.md)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from callcenter.sipp import Sipp, SippServer, dtmf, pause
from callcenter.sipp.scenarios import uas_keys_scenario
from tests.fix_asterisk import RunningAsterisk
from tests.fix_daemon import RunningDaemon, stored_events
from tests.integration.test_acd_live import agent, caller, phone_up

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp, pytest.mark.slow]

VIP = "13800138000"  # priority 2 in the example site's contacts


def keys(sequence: str, first_after_ms: int = 1500) -> list:
    """Wait after answering, then press `sequence` 300 ms apart (inside the features'
    1 s digit timeout, so ## is one feature code); no pause after the last key."""
    return [pause(first_after_ms)] + [dtmf(k, 300) for k in sequence[:-1]] + [
        dtmf(sequence[-1], 0)]


def keypad_phone(sipp_server: Callable[..., SippServer], scenario: str):
    """A sipp_server factory for phone_up that starts `scenario` whatever mode it is given."""
    return lambda port, _mode_scenario: sipp_server(port, scenario)


def bridges(asterisk: RunningAsterisk) -> dict[str, str]:
    """Channel name -> bridge id (core show channels concise: the 13th field)."""
    out = {}
    for line in asterisk.cli("core show channels concise").splitlines():
        fields = line.split("!")
        if len(fields) > 12 and fields[12]:
            out[fields[0]] = fields[12]
    return out


def connected(asterisk: RunningAsterisk, a: str, b: str) -> bool:
    """A channel named a… talks to one named b…: in one bridge, or through a Local pair
    (;1 in a's bridge, ;2 in b's) that Asterisk has not optimised away."""
    where = bridges(asterisk)
    a_bridges = {br for ch, br in where.items() if ch.startswith(a)}
    b_bridges = {br for ch, br in where.items() if ch.startswith(b)}
    if a_bridges & b_bridges:
        return True
    return any(ch.startswith("Local/") and ch.endswith(";1") and br in a_bridges
               and where.get(ch[:-1] + "2") in b_bridges for ch, br in where.items())


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"never saw {what}")


def assert_kept_the_place(doc: dict) -> None:
    """Tech support (1002) had the VIP caller first; course-bj's 1001 got it next with the
    first enqueue time and priority 2 (CC_ENQUEUED, CC_PRIORITY survived the transfer)."""
    first, second = doc["queues"]["offers"][:2]
    assert (first["agent"], first["queue"], first["priority"]) == ("1002", "tech", 2)
    assert (second["agent"], second["queue"]) == ("1001", "course-bj")
    assert second["enqueued_ms"] == first["enqueued_ms"]  # nobody queues twice
    assert second["priority"] == 2


def transferred_call(asterisk: RunningAsterisk, sipp: Sipp, sipp_server,
                     daemon: RunningDaemon, scenario: str, talk_ms: int):
    """8002 (tech, 1002) with `scenario` and 8001 (course 6 > 1002's 4) logged in; a VIP
    caller for tech support; returns once course-bj's agent answered the handed-on call:
    (8002's phone, 8001's phone, the caller's thread, the daemon's status)."""
    tech = phone_up(asterisk, sipp, keypad_phone(sipp_server, scenario), "8002", "answer",
                    daemon)
    course = phone_up(asterisk, sipp, sipp_server, "8001", "answer", daemon)
    t = threading.Thread(target=caller, args=(sipp, "3", talk_ms, VIP))
    t.start()
    try:
        doc = daemon.wait_for(lambda s: s["queues"]["stats"]["answered"] == 2, 30,
                              "course-bj answering the handed-on caller")
        assert_kept_the_place(doc)
    except BaseException:
        t.join(60)
        raise
    return tech, course, t, doc


def test_blind_transfer_from_the_keypad_keeps_the_wait_and_priority(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, daemon: RunningDaemon) -> None:
    """Tech support (1002) presses ## 802: the VIP caller waits in course-bj with the first
    enqueue time and priority 2 and 1001 takes it; 1002 goes to wrap-up at once."""
    tech, _, t, doc = transferred_call(asterisk, sipp, sipp_server, daemon,
                                       uas_keys_scenario(keys("##802")), 16000)
    try:
        assert doc["queues"]["stats"]["transferred"] == 1
        # the transferring agent's call ended with the transfer, not with the caller's
        assert agent(doc, "1002")["state"] in ("wrap_up", "ready")
        wait_until(lambda: connected(asterisk, "PJSIP/trunk-", "PJSIP/8001-"), 10,
                   "the caller talking to 8001")
        # Asterisk hung up the transferer (BYE): the phone's call ended as it should
        wait_until(lambda: tech.count("SuccessfulCall") == 1, 10, "8002's call ending")
    finally:
        t.join(60)
    daemon.wait_for(lambda s: s["store"]["db_up"] and s["store"]["backlog_bytes"] == 0, 20,
                    "events stored")
    [xfer] = stored_events(daemon.dsn, "queue.transfer")
    assert (xfer["data"]["to_queue"], xfer["agent_id"]) == ("course-bj", "1002")
    enters = stored_events(daemon.dsn, "queue.enter")
    assert [(e["queue"], e["data"]["reason"]) for e in enters] == [
        ("tech", "flow"), ("course-bj", "transfer")]
    assert enters[1]["data"]["enqueued_at"] == enters[0]["data"]["enqueued_at"]
    assert enters[1]["data"]["priority"] == 2
    assert any(w["agent_id"] == "1002" for w in stored_events(daemon.dsn, "queue.wrapup"))


def test_consultative_transfer_to_a_queue_hands_over_after_talking(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, daemon: RunningDaemon) -> None:
    """Tech support (1002) presses *2 802, talks to the course agent (1001) the ACD picks
    for that leg with the caller's first enqueue time, then hangs up: caller and 1001 talk."""
    # 1001 answers the consultation leg (a Local channel that inherited the caller's place)
    _, course, t, _ = transferred_call(asterisk, sipp, sipp_server, daemon,
                                       uas_keys_scenario(keys("*2802"), hangup_after_ms=6000),
                                       22000)
    try:
        # while they talk the caller is on hold, bridged with nobody
        assert not connected(asterisk, "PJSIP/trunk-", "PJSIP/8001-")
        wait_until(lambda: connected(asterisk, "PJSIP/trunk-", "PJSIP/8001-"), 15,
                   "the caller handed over to 8001 when 8002 hung up")
        assert not any(ch.startswith("PJSIP/8002-") for ch in bridges(asterisk))
    finally:
        t.join(60)
    # the caller hung up: 8001's call ends, and neither agent is left on a call
    wait_until(lambda: course.count("SuccessfulCall") == 1, 10, "8001's call ending")
    daemon.wait_for(lambda s: all(agent(s, a)["state"] in ("wrap_up", "ready")
                                  for a in ("1001", "1002")), 15, "both agents off the call")
