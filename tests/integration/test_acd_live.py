"""The ACD live: SIPp desk phones register and log agents in, SIPp callers queue, the
scheduler picks the agent, the daemon rings the phone; answers, misses, busy, abandons."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from callcenter.sipp import (
    Sipp,
    SippServer,
    dtmf,
    pause,
    register_scenario,
    uac_scenario,
    uas_scenario,
)
from tests.fix_asterisk import RunningAsterisk
from tests.fix_daemon import RunningDaemon, start_daemon, stored_events

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp, pytest.mark.slow]

PHONE_PORTS = {"8001": 15101, "8002": 15102, "8003": 15103}


@pytest.fixture
def acd(daemon: RunningDaemon) -> RunningDaemon:
    """A daemon with nobody logged in (the shared fixture already clears agent state)."""
    return daemon


def secrets_of(asterisk: RunningAsterisk, ext: str) -> tuple[str, str, str]:
    agent = next(a for a in asterisk.site.spec.agents if a.extension == ext)
    return agent.id, asterisk.site.secrets.sip_passwords[agent.id], asterisk.site.secrets.pins[
        agent.id]


def phone_up(asterisk: RunningAsterisk, sipp: Sipp, sipp_server: Callable[..., SippServer],
             ext: str, mode: str, daemon: RunningDaemon,
             login_as: str | None = None) -> SippServer:
    """Register a SIPp desk phone for `ext`, answer calls in `mode`, log its agent in (or
    agent `login_as`: hot-desking)."""
    agent_id, password, pin = secrets_of(asterisk, ext)
    if login_as is not None:
        agent_id, pin = login_as, asterisk.site.secrets.pins[login_as]
    port = PHONE_PORTS[ext]
    reg = sipp.run(register_scenario(ext), service=ext, local_port=port, timeout=15,
                   extra=["-au", ext, "-ap", password])
    assert reg.successful == 1, reg.errors[-800:]
    phone = sipp_server(port, uas_scenario(mode))
    # a contact re-registered at an address that stopped answering keeps its old status
    # until the next qualify: let any qualify already in flight time out (2 s), then ask
    # for a fresh one
    time.sleep(3)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        asterisk.cli(f"pjsip qualify {ext}")
        time.sleep(0.5)
        if re.search(rf"{ext}/sip:\S+\s+\S+\s+Avail", asterisk.cli("pjsip show contacts")):
            break
    steps = [pause(800)] + [dtmf(d, 350) for d in f"{agent_id}#{pin}#"]
    res = sipp.run(uac_scenario(caller_number=ext, steps=steps, auth=True), service="*21",
                   timeout=30, extra=["-au", ext, "-ap", password])
    assert res.successful == 1, res.errors[-800:]
    daemon.wait_for(lambda s: agent(s, agent_id)["state"] != "logged_out", 10,
                    f"{agent_id} logged in")
    return phone


def agent(status: dict, agent_id: str) -> dict:
    return next(a for a in status["agents"] if a["id"] == agent_id)


def caller(sipp: Sipp, keys: str, talk_ms: int, number: str = "01062345678") -> None:
    steps = [pause(1500)] + [dtmf(k, 300) for k in keys] + [pause(talk_ms)]
    sipp.run(uac_scenario(caller_number=number, steps=steps, ending="hangup"),
             service="4008001234", timeout=90)


def callback_requested(sipp: Sipp, daemon: RunningDaemon, number: str,
                       busy_ms: int) -> threading.Thread:
    """The sales agent (1003, logged in) takes a call lasting `busy_ms`; then `number`
    calls sales, waits, hears the offer to be called back after 2 s, presses 1 and is hung
    up on. Returns the busy caller's thread (still talking)."""
    busy = threading.Thread(target=caller, args=(sipp, "1", busy_ms, "01011112222"))
    busy.start()
    daemon.wait_for(lambda s: s["queues"]["stats"]["answered"] == 1, 20, "the agent on a call")
    res = sipp.run(uac_scenario(caller_number=number,
                                steps=[pause(1500), dtmf("1", 4000), dtmf("1", 0)]),
                   service="4008001234", timeout=40)
    assert res.successful == 1, res.errors[-1000:]
    return busy


def lamp(asterisk: RunningAsterisk, agent_id: str, want: str, timeout: float = 5) -> str:
    """The agent's BLF lamp in Asterisk (Custom:agent-ID) once it reads `want`, or the last
    read."""
    deadline = time.monotonic() + timeout
    while True:
        m = re.search(rf"Custom:agent-{agent_id}'\s+State:\s*'(\w+)'",
                      asterisk.cli("devstate list"))
        state = m.group(1) if m else ""
        if state == want or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def test_caller_is_connected_to_the_skilled_agent(asterisk: RunningAsterisk, sipp: Sipp,
                                                  sipp_server, acd: RunningDaemon) -> None:
    phone = phone_up(asterisk, sipp, sipp_server, "8002", "answer", acd)  # agent 1002: tech 8
    assert lamp(asterisk, "1002", "NOT_INUSE") == "NOT_INUSE"  # the lamps follow the agent
    talk = threading.Thread(target=caller, args=(sipp, "3", 9000))  # tech support
    talk.start()
    acd.wait_for(lambda s: agent(s, "1002")["state"] == "on_call", 20, "1002 talking")
    assert lamp(asterisk, "1002", "INUSE") == "INUSE"
    talk.join(60)
    doc = acd.wait_for(lambda s: s["queues"]["stats"]["answered"] >= 1, 20, "an answer")
    assert doc["queues"]["stats"]["offered"] == 1
    deadline = time.monotonic() + 10
    while phone.count("SuccessfulCall") < 1 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert phone.count("SuccessfulCall") == 1
    # the screen pop: the caller name the phone was rung with is exactly the queue's (an
    # unknown caller: no VIP tier, no contact name)
    invites = re.findall(r"^INVITE sip:.*?^From:\s*([^\r\n]*)", phone.messages(), re.M | re.S)
    assert invites and all(f.startswith('"tech" <sip:') for f in invites), invites
    acd.wait_for(lambda s: agent(s, "1002")["state"] == "ready", 15, "ready after wrap-up")
    assert lamp(asterisk, "1002", "NOT_INUSE") == "NOT_INUSE"


def test_a_hot_desking_agent_is_rung_at_the_phone_it_logged_in_at(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, acd: RunningDaemon) -> None:
    """Li Na (1002, tech; her own desk is 8002, not registered) logs in at 8003."""
    desk = phone_up(asterisk, sipp, sipp_server, "8003", "answer", acd, login_as="1002")
    assert agent(acd.status(), "1002")["device"] == "8003"
    caller(sipp, "3", 6000)  # tech support
    doc = acd.wait_for(lambda s: s["queues"]["stats"]["answered"] >= 1, 20, "an answer")
    assert [(o["agent"], o["phone"]) for o in doc["queues"]["offers"]] == [("1002", "8003")]
    deadline = time.monotonic() + 10
    while desk.count("SuccessfulCall") < 1 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert desk.count("SuccessfulCall") == 1
    assert agent(doc, "1002")["reason"] != "unreachable"


def test_no_answer_returns_the_caller_and_the_next_agent_answers(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, acd: RunningDaemon) -> None:
    phone_up(asterisk, sipp, sipp_server, "8001", "noanswer", acd)  # 1001: course 6
    answering = phone_up(asterisk, sipp, sipp_server, "8002", "answer", acd)  # 1002: course 4
    caller(sipp, "2", 14000)  # a Beijing number: course-bj, highest skill first
    doc = acd.wait_for(lambda s: s["queues"]["stats"]["answered"] >= 1, 30, "an answer")
    stats = doc["queues"]["stats"]
    assert stats["no_answer"] >= 1 and stats["offered"] >= 2
    assert agent(doc, "1001")["state"] in ("ready", "ringing")
    deadline = time.monotonic() + 15
    while answering.count("SuccessfulCall") < 1 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert answering.count("SuccessfulCall") == 1


def test_busy_phone_pauses_agent_and_waiting_caller_abandons(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, acd: RunningDaemon) -> None:
    phone_up(asterisk, sipp, sipp_server, "8002", "busy", acd)
    caller(sipp, "3", 5000)
    doc = acd.wait_for(lambda s: s["queues"]["stats"]["abandoned"] >= 1, 30, "an abandon")
    assert agent(doc, "1002")["state"] == "paused"
    assert agent(doc, "1002")["reason"] == "busy"
    assert doc["queues"]["waiting"] == []


def test_empty_queue_sends_callers_to_the_fallback(acd: RunningDaemon, sipp: Sipp) -> None:
    sipp.run(uac_scenario(caller_number="01062345678", steps=[pause(1500), dtmf("3", 0)]),
             service="4008001234", timeout=60)
    doc = acd.wait_for(lambda s: s["queues"]["stats"].get("empty", 0) >= 1, 20, "empty queue")
    assert doc["queues"]["waiting"] == []




def test_daemon_killed_while_a_caller_waits_does_not_lose_the_caller(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, acd: RunningDaemon,
        tmp_path: Path) -> None:
    import signal

    phone_up(asterisk, sipp, sipp_server, "8001", "busy", acd)  # 1001 will be paused "busy"
    t = threading.Thread(target=caller, args=(sipp, "2", 40000))
    t.start()
    acd.wait_for(lambda s: agent(s, "1001")["reason"] == "busy"
                 and len(s["queues"]["waiting"]) == 1, 30, "a caller waiting")
    acd.proc.send_signal(signal.SIGKILL)
    acd.proc.wait()
    time.sleep(2)
    again = start_daemon(asterisk, tmp_path / "again.log", dsn=acd.dsn)
    try:
        again.wait_for(lambda s: len(s["queues"]["waiting"]) == 1, 20, "the caller back")
        assert "queued caller back after a daemon restart" in again.log()
        phone_up(asterisk, sipp, sipp_server, "8002", "answer", again)
        again.wait_for(lambda s: s["queues"]["stats"]["answered"] == 1, 20, "answered")
        # the store: one call, one queue entry continued across the restart, one answer
        again.wait_for(lambda s: s["store"]["db_up"] and s["store"]["backlog_bytes"] == 0,
                       20, "events stored")
        rows = stored_events(acd.dsn)
        starts = [r for r in rows if r["kind"] == "call.start"]
        enters = [r for r in rows if r["kind"] == "queue.enter"]
        answers = [r for r in rows if r["kind"] == "queue.answer"]
        assert len(starts) == 1 and len(answers) == 1
        assert [e["data"]["reason"] for e in enters] == ["flow", "requeue"]
        assert len({e["data"]["entry"] for e in enters + answers}) == 1
        assert len({r["id"] for r in rows}) == len(rows)
    finally:
        t.join(60)
        again.stop()


def test_vip_caller_overtakes(asterisk: RunningAsterisk, sipp: Sipp, sipp_server,
                              acd: RunningDaemon) -> None:

    phone = phone_up(asterisk, sipp, sipp_server, "8002", "answer", acd)  # 1002 alone: tech
    busy = threading.Thread(target=caller, args=(sipp, "3", 12000, "01011112222"))
    busy.start()
    acd.wait_for(lambda s: s["queues"]["stats"]["answered"] == 1, 20, "the agent on a call")
    normal = threading.Thread(target=caller, args=(sipp, "3", 25000, "01033334444"))
    normal.start()
    time.sleep(3)
    vip = threading.Thread(target=caller, args=(sipp, "3", 25000, "13800138000"))  # VIP 2
    vip.start()
    doc = acd.wait_for(lambda s: len(s["queues"]["offers"]) >= 2, 40, "a second offer")
    second = doc["queues"]["offers"][1]
    assert (second["caller"], second["priority"]) == ("13800138000", 2)
    for t in (busy, normal, vip):
        t.join(60)
    # the VIP's screen pop: tier, the contact's name (cut to the phone's 40 characters), queue
    froms = re.findall(r"^INVITE sip:.*?^From:\s*\"([^\"]*)\"", phone.messages(), re.M | re.S)
    assert froms[1] == "VIP2 Zhao Lei parent of Zhao Xiaoming te", froms


def test_agent_missing_three_rings_is_paused_missed(asterisk: RunningAsterisk, sipp: Sipp,
                                                    sipp_server, acd: RunningDaemon) -> None:
    phone_up(asterisk, sipp, sipp_server, "8001", "noanswer", acd)  # 1001 alone on course-bj
    caller(sipp, "2", 16000)
    doc = acd.wait_for(lambda s: agent(s, "1001")["state"] == "paused", 30, "paused")
    assert agent(doc, "1001")["reason"] == "missed"
    assert agent(doc, "1001")["misses"] == 3  # `callcenter status` shows the real count
    assert doc["queues"]["stats"]["no_answer"] == 3
    assert [o["agent"] for o in doc["queues"]["offers"]] == ["1001"] * 3


def test_transfer_to_another_queue_keeps_the_waiting_time(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, acd: RunningDaemon) -> None:
    """Tech support (1002) passes the caller to course service; 1001 takes it there."""
    import asyncio

    phone_up(asterisk, sipp, sipp_server, "8002", "answer", acd)  # tech
    phone_up(asterisk, sipp, sipp_server, "8001", "answer", acd)  # course 6 > 1002's 4
    t = threading.Thread(target=caller, args=(sipp, "3", 16000))
    t.start()
    doc = acd.wait_for(lambda s: s["queues"]["stats"]["answered"] == 1, 20, "tech answers")
    agent_channel = next(c["name"] for c in doc["channels"] if c["name"].startswith(
        "PJSIP/8002-"))

    async def blind_transfer() -> None:  # what the phone's transfer key (##) does
        manager = await asterisk.ami()
        try:
            reply = await asyncio.wait_for(manager.send_action({
                "Action": "BlindTransfer", "Channel": agent_channel, "Exten": "*8802",
                "Context": "cc-agents"}), 10)
            assert reply.Response == "Success", reply
        finally:
            manager.close()

    asyncio.run(blind_transfer())
    doc = acd.wait_for(lambda s: s["queues"]["stats"]["answered"] == 2, 20, "course answers")
    first, second = doc["queues"]["offers"][:2]
    assert (first["agent"], first["queue"]) == ("1002", "tech")
    assert (second["agent"], second["queue"]) == ("1001", "course-bj")
    assert second["enqueued_ms"] == first["enqueued_ms"]  # nobody queues twice
    assert doc["queues"]["stats"]["transferred"] == 1
    t.join(60)


def test_callback_keeps_the_place_and_rings_the_agent_first(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, acd: RunningDaemon) -> None:
    """A waiting caller presses 1 for a call back and hangs up; when the agent is free the
    agent's phone rings first, then the customer is dialled through the number's routes."""

    from tests.fix_asterisk import CARRIER_PORTS

    customer = sipp_server(CARRIER_PORTS["telecom"], uas_scenario("answer",
                                                                  hangup_after_ms=2000))
    phone_up(asterisk, sipp, sipp_server, "8003", "answer", acd)  # 1003 alone sells
    busy = callback_requested(sipp, acd, "13912345678", 12000)
    doc = acd.wait_for(lambda s: s["queues"]["callbacks"], 60, "a callback result")
    result = doc["queues"]["callbacks"][0]
    assert (result["caller"], result["result"]) == ("13912345678", "completed")
    offers = doc["queues"]["offers"]
    assert offers[1]["callback"] is True and offers[1]["agent"] == "1003"
    assert customer.count("SuccessfulCall") >= 1 or customer.count("IncomingCall") >= 1
    busy.join(60)


def test_overflow_after_max_wait_goes_to_voicemail(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, acd: RunningDaemon) -> None:
    """Complaints (max wait 6 s in the test site) overflow to voicemail:complaints."""
    phone_up(asterisk, sipp, sipp_server, "8001", "busy", acd)  # 1001, alone on complaints
    res = sipp.run(uac_scenario(caller_number="01055556666",
                                steps=[pause(1500), dtmf("9", 12000), dtmf("#", 0)]),
                   service="4008001234", timeout=60)
    assert res.successful == 1, res.errors[-1000:]
    doc = acd.status()
    assert doc["queues"]["overflows"][-1]["target"] == "voicemail:complaints"
    assert list((asterisk.conf_dir / "voicemail" / "complaints").glob("*.wav"))


def agi_commands_since(asterisk: RunningAsterisk, offset: int) -> list[str]:
    """The AGI commands Asterisk received (`agi set debug on`) since log offset `offset`."""
    return re.findall(r"AGI Rx << (.*)", asterisk.log()[offset:])


def test_a_waiting_caller_costs_no_command_a_second_and_a_freed_agent_gets_it_at_once(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, acd: RunningDaemon) -> None:
    """Li Na (1002, alone on tech) talks to one caller while a second waits. Asterisk gets
    no AGI command a second from the waiting session; when she is free again (after the
    call's wrap-up), the daemon ends the caller's wait (PlayDTMF Receive, digit D) and
    rings her at once."""
    phone = phone_up(asterisk, sipp, sipp_server, "8002", "answer", acd)
    busy = threading.Thread(target=caller, args=(sipp, "3", 16000, "01011112222"))
    busy.start()
    waiting = None
    try:
        acd.wait_for(lambda s: s["queues"]["stats"]["answered"] == 1, 20, "1002 on a call")
        waiting = threading.Thread(target=caller, args=(sipp, "3", 25000))
        waiting.start()
        acd.wait_for(lambda s: len(s["queues"]["waiting"]) == 2, 20, "a caller waiting")
        asterisk.cli("agi set debug on")
        time.sleep(1)  # the waiting session's first commands (music, the wait) are sent
        start = len(asterisk.log())
        time.sleep(4)
        during = agi_commands_since(asterisk, start)
        # before: one WAIT FOR DIGIT 1000 a second; now: the one 30 s wait already under way
        assert during == [], during
        doc = acd.wait_for(lambda s: s["queues"]["stats"]["offered"] >= 2, 30, "an offer")
        stats = doc["queues"]["stats"]
        assert stats["offer_to_ring_ms_max"] is not None
        assert stats["offer_to_ring_ms_max"] < 500, stats
        # the wait Asterisk ended was ended by the daemon's digit D (68), not its timeout
        # (Asterisk's logger writes the line a moment later)
        deadline = time.monotonic() + 5
        while ("result=68" not in (tail := asterisk.log()[start:])
               and time.monotonic() < deadline):
            time.sleep(0.2)
        woken = [line for line in tail.splitlines() if "AGI Tx >> 200 result=" in line]
        assert any(line.endswith("result=68") for line in woken), woken
        deadline = time.monotonic() + 10
        while phone.count("SuccessfulCall") < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert phone.count("SuccessfulCall") == 2
    finally:
        asterisk.cli("agi set debug off")
        busy.join(60)
        if waiting is not None:
            waiting.join(60)
