"""Two daemons, two Asterisk nodes, two Kamailio proxies, SIPp carriers and an agent's
phone (issue 13): the leader is killed with SIGKILL while one caller talks to the agent and
two wait. The standby leads within 5 s; the waiting callers come back to it with their first
enqueue time and are answered when the agent is free; SIPp's own counts and the store agree
that no call was lost and none counted twice."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from callcenter.sipp import Sipp, SippServer
from callcenter.sipp.scenarios import pause, register_scenario, uac_scenario, uas_scenario
from tests.fix_asterisk import CARRIER_IPS
from tests.fix_cluster import (
    PROXIES,
    PROXY_SIP,
    STRAIGHT,
    RunningNodes,
    seed_agent,
    start_cluster_daemon,
)
from tests.fix_daemon import RunningDaemon, stored_events, wait_events

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.sipp]

PHONE = "8002"  # agent 1002, skill tech: the straight number's queue
PHONE_PORT = 15312


def carrier_call(tmp_path: Path, tag: str, talk_ms: int, results: dict,
                 number: str = STRAIGHT) -> None:
    """One carrier's call through the first proxy (to the straight-to-queue number unless
    told); it hangs up after `talk_ms` (in the flow, waiting, then talking)."""
    sipp = Sipp(f"{PROXIES[0]}:{PROXY_SIP}", local_ip=CARRIER_IPS["telecom"],
                workdir=tmp_path / tag)
    results[tag] = sipp.run(uac_scenario(caller_number=f"0108800{tag[-1]}000",
                                         steps=[pause(talk_ms)], ending="hangup"),
                            service=number, calls=1, timeout=talk_ms / 1000 + 60)


def test_leader_killed_while_a_caller_talks_and_two_wait(
        nodes: RunningNodes, proxies, cluster_db: str, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    site = nodes.site
    agent = next(a for a in site.spec.agents if a.extension == PHONE)
    seed_agent(cluster_db, agent.id, "ready", PHONE)  # logged in before the daemons start
    reg = Sipp(f"{PROXIES[0]}:{PROXY_SIP}", local_ip="127.0.0.1", workdir=tmp_path / "reg")
    res = reg.run(register_scenario(PHONE, expires=600), service=PHONE,
                  local_port=PHONE_PORT, timeout=15,
                  extra=["-au", PHONE, "-ap", site.secrets.sip_passwords[agent.id]])
    assert res.successful == 1, res.errors[-800:]
    phone = SippServer(PHONE_PORT, scenario=uas_scenario("answer"), local_ip="127.0.0.1",
                       workdir=tmp_path / "phone").start()
    # the nodes learn the phone is reachable at their next probe of it: probe now, or the
    # first caller waits (and hangs up) while the agent is paused "unreachable"
    for node in nodes.dirs:
        nodes.cli(node, f"pjsip qualify {PHONE}")
    time.sleep(1)
    daemons: dict[str, RunningDaemon] = request.getfixturevalue("daemons")
    first, standby = daemons["acd-1"], daemons["acd-2"]
    results: dict = {}
    again: RunningDaemon | None = None
    calls = [threading.Thread(target=carrier_call, args=(tmp_path, "call-a", 25000, results))]
    try:
        for node in nodes.dirs:  # the daemons see the phone reachable too
            nodes.cli(node, f"pjsip qualify {PHONE}")
        first.wait_for(lambda s: any(a["id"] == agent.id and a["state"] == "ready"
                                     for a in s["agents"]), 20, "the agent ready")
        time.sleep(1)
        first.wait_for(lambda s: any(a["id"] == agent.id and a["state"] == "ready"
                                     for a in s["agents"]), 20, "the agent still ready")
        calls[0].start()
        first.wait_for(lambda s: s["queues"]["stats"]["answered"] == 1, 30, "A answered")
        for tag in ("call-b", "call-c"):
            t = threading.Thread(target=carrier_call, args=(tmp_path, tag, 45000, results))
            t.start()
            calls.append(t)
        before = first.wait_for(lambda s: len(s["queues"]["waiting"]) == 3, 30,
                                "two callers waiting beside the one talking")
        term = before["cluster"]["term"]

        first.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        first.proc.wait()
        standby.wait_for(lambda s: s["cluster"]["leading"], 10, "the standby's lead")
        took = time.monotonic() - killed
        print(f"standby led {took:.2f} s after the leader's SIGKILL")
        assert took < 5.0
        doc = standby.wait_for(lambda s: sum(1 for c in s["queues"]["waiting"]
                                             if c["state"] == "waiting") == 2, 30,
                               "the two waiting callers back")
        assert doc["cluster"]["term"] == term + 1
        # A talks on (the old leader answered it); when it hangs up the agent is free and the
        # new leader gives it B; C gives up waiting
        standby.wait_for(lambda s: s["queues"]["stats"]["answered"] >= 1, 60,
                         "a waiting caller answered by the new leader")
        for t in calls:
            t.join(120)
        standby.wait_for(lambda s: not s["queues"]["waiting"], 30, "every caller gone")
        standby.wait_for(lambda s: s["store"]["db_up"] and s["store"]["backlog_bytes"] == 0,
                         20, "events stored")
        # what the killed leader had not sent yet (B's and C's starts, as it may be) waits in
        # its spool on its own machine: it reaches the store when that daemon runs again, now
        # as the standby
        again = start_cluster_daemon(nodes.site, "acd-1", first.conf_dir,
                                     tmp_path / "acd-1-again.log", cluster_db)
        again.wait_for(lambda s: s["store"]["db_up"] and s["store"]["backlog_bytes"] == 0,
                       30, "the dead leader's spool stored")
        assert not again.status()["cluster"]["leading"]
    finally:
        phone.stop()
        for t in calls:
            t.join(5)
        if again is not None:
            again.stop()

    # SIPp's view: every carrier call completed (answered, talked, hung up by the caller)
    assert {tag: r.successful for tag, r in results.items()} == {
        "call-a": 1, "call-b": 1, "call-c": 1}, {t: r.errors[-500:] for t, r in results.items()}
    wait_events(cluster_db, "call.end", 3)
    rows = stored_events(cluster_db)
    assert len({r["id"] for r in rows}) == len(rows), "an event stored twice"
    starts = {r["call_id"] for r in rows if r["kind"] == "call.start"}
    assert len(starts) == 3
    # each call ends once: the new leader records the ends of the calls the dead one began
    # (the talking one from the store, the waiting ones as they come back to their queue)
    ends = [r for r in rows if r["kind"] == "call.end"]
    assert sorted(r["call_id"] for r in ends) == sorted(starts)
    assert all(r["data"]["duration_ms"] >= 5000 for r in ends), ends
    by_entry: dict[str, list[str]] = {}
    for r in rows:
        if r["kind"] == "queue.enter":
            by_entry.setdefault(r["data"]["entry"], []).append(r["data"]["reason"])
    # (the killed leader's own events reach the store when it runs again: after the new
    # leader's, so the store's order is not the order things happened in)
    assert sorted(sorted(v) for v in by_entry.values()) == [["flow"], ["flow", "requeue"],
                                                            ["flow", "requeue"]]
    answers = [r for r in rows if r["kind"] == "queue.answer"]
    assert len({a["data"]["entry"] for a in answers}) == len(answers) >= 2


def test_leader_killed_while_a_caller_is_in_the_menu(
        nodes: RunningNodes, proxies, cluster_db: str, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    """The caller hears the hotline's menu when the leader dies: the node hands the call to
    the standby once it leads, with the caller's place; the flow goes on at the menu (no
    second welcome, no second call.start) and the call ends once in the store."""
    daemons: dict[str, RunningDaemon] = request.getfixturevalue("daemons")
    first, standby = daemons["acd-1"], daemons["acd-2"]
    hotline = next(n.number for n in nodes.site.spec.numbers if n.flow == "main")
    results: dict = {}
    # the caller hangs up 8 s in: while the new leader's menu waits for a key
    call = threading.Thread(target=carrier_call,
                            args=(tmp_path, "ivr-1", 8000, results, hotline))
    call.start()
    try:
        first.wait_for(lambda s: any(f["node"] == "menu" for f in s["flows"]["active"]), 30,
                       "the caller in the menu")
        # its call.start stored (what a killed daemon had not sent yet waits in its spool
        # until that daemon runs again)
        assert wait_events(cluster_db, "call.start", 1, timeout=5)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        standby.wait_for(lambda s: s["cluster"]["leading"], 10, "the standby's lead")
        standby.wait_for(lambda s: "resumes for caller" in standby.log(), 20,
                         "the flow resumed by the new leader")
        call.join(90)
    finally:
        call.join(5)
    assert results["ivr-1"].successful == 1, results["ivr-1"].errors[-500:]
    assert "at main.menu (handed over)" in standby.log()
    [end] = wait_events(cluster_db, "call.end", 1)
    rows = stored_events(cluster_db)
    assert [r["call_id"] for r in rows if r["kind"] == "call.start"] == [end["call_id"]]
    [ivr] = [r for r in rows if r["kind"] == "ivr.end"]  # the dead leader finished nothing
    path = ivr["data"]["path"].split(",")
    assert path[0] == "menu" and "welcome" not in path, ivr["data"]
    assert ivr["data"]["outcome"] == "caller_hangup", ivr["data"]
    assert end["data"]["duration_ms"] >= 6000, end["data"]  # timed from the call's start


def test_a_killed_proxy_leaves_carriers_and_phones_the_other(
        nodes: RunningNodes, proxies, tmp_path: Path) -> None:
    """One Kamailio killed: the carriers' calls to the other address go through, and a phone
    registered through the dead one is still reached through the live one (the location
    table is shared in PostgreSQL)."""
    import os

    site = nodes.site
    agent = next(a for a in site.spec.agents if a.extension == PHONE)
    reg = Sipp(f"{PROXIES[0]}:{PROXY_SIP}", local_ip="127.0.0.1", workdir=tmp_path / "reg")
    res = reg.run(register_scenario(PHONE, expires=600), service=PHONE,
                  local_port=PHONE_PORT, timeout=15,
                  extra=["-au", PHONE, "-ap", site.secrets.sip_passwords[agent.id]])
    assert res.successful == 1, res.errors[-800:]
    os.killpg(proxies[PROXIES[0]].pid, signal.SIGKILL)
    proxies[PROXIES[0]].wait()
    killed = time.monotonic()

    sipp = Sipp(f"{PROXIES[1]}:{PROXY_SIP}", local_ip=CARRIER_IPS["telecom"],
                workdir=tmp_path / "carrier")
    calls = sipp.run(uac_scenario(steps=[pause(1000)], ending="hangup"), service=STRAIGHT,
                     calls=4, rate=4, timeout=40)
    assert calls.successful == 4, calls.errors[-800:]
    print(f"carrier calls through the second proxy: 4 of 4, "
          f"{time.monotonic() - killed:.1f} s after the first proxy died")
    # every node reaches the phone through the live proxy only
    for node in nodes.dirs:
        nodes.cli(node, f"pjsip qualify {PHONE}")
    deadline = time.monotonic() + 10
    while True:
        shown = {node: nodes.cli(node, f"pjsip show contacts {PHONE}") for node in nodes.dirs}
        if all(_avail(text, PROXIES[1]) and not _avail(text, PROXIES[0])
               for text in shown.values()):
            break
        assert time.monotonic() < deadline, shown
        time.sleep(0.5)


def _avail(contacts: str, proxy: str) -> bool:
    return any(proxy in line and "Avail" in line for line in contacts.splitlines())
