"""A hung daemon costs a caller seconds, not silence; strangers on the AGI port get nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time

import pytest

from callcenter.sipp import Sipp, pause, uac_scenario
from tests.fix_asterisk import AGI_PORT, RunningAsterisk
from tests.fix_daemon import RunningDaemon

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]

NUMBER = "4008001234"


def raw_agi(script: str) -> bytes:
    """What the daemon says to a FastAGI client asking for `script`."""
    with socket.create_connection(("127.0.0.1", AGI_PORT), timeout=5) as s:
        s.sendall(f"agi_network: yes\nagi_network_script: {script}\n"
                  "agi_channel: PJSIP/8001-00000001\nagi_uniqueid: 9.9\n\n".encode())
        s.settimeout(3)
        try:
            return s.recv(4096)
        except TimeoutError:
            return b"(silence)"


@pytest.mark.security
def test_a_local_client_without_the_agi_secret_gets_nothing(daemon: RunningDaemon,
                                                            asterisk: RunningAsterisk) -> None:
    replies = [raw_agi(script) for script in ("feature/login", "flow/main", "offer/ANSWER")]
    assert replies == [b""] * 3  # closed at once: no prompt, nothing to guess a PIN against
    doc = daemon.wait_for(lambda s: s["agi"]["unauthenticated"] >= 3, 5, "3 refusals")
    assert doc["ami"]["connected"]
    assert daemon.log().count("without the AGI secret") == 1  # rate-limited per peer
    # the dialplan's path (with the secret) is served: the login prompt comes back
    assert raw_agi(f"{asterisk.site.secrets.agi_secret}/feature/login").startswith(b"GET DATA")


def fallback_within(asterisk: RunningAsterisk, sipp: Sipp) -> float:
    """Place one call; seconds until the dialplan reported the static fallback (or inf)."""
    seen: list[float] = []

    async def go() -> None:
        loop = asyncio.get_running_loop()
        manager = await asterisk.ami()
        manager.register_event("UserEvent", lambda m, msg: seen.append(loop.time())
                               if msg.get("UserEvent") == "CallcenterFallback" else None)
        try:
            started = loop.time()
            call = asyncio.create_task(asyncio.to_thread(
                sipp.run, uac_scenario(caller_number="13800138000"), service=NUMBER,
                timeout=40))
            while not seen and loop.time() - started < 10:
                await asyncio.sleep(0.05)
            seen[:] = [t - started for t in seen]
            await call
        finally:
            manager.close()

    asyncio.run(go())
    return seen[0] if seen else float("inf")


@pytest.mark.security
def test_a_stopped_daemon_sends_new_calls_to_the_fallback(daemon: RunningDaemon,
                                                          asterisk: RunningAsterisk,
                                                          sipp: Sipp) -> None:
    daemon.wait_for(lambda s: s["tasks"]["heartbeats"] >= 2, 10, "heartbeats")
    os.kill(daemon.proc.pid, signal.SIGSTOP)
    try:
        time.sleep(4)  # the heartbeat goes stale (3 s); the kernel still accepts connects
        with socket.create_connection(("127.0.0.1", AGI_PORT), timeout=2):
            pass  # proof: a port that accepts is no sign of a live daemon
        took = fallback_within(asterisk, sipp)
        print(f"fallback {took:.2f} s after the call was placed")
        assert took < 5, f"the caller waited {took:.1f} s for the fallback"
    finally:
        os.kill(daemon.proc.pid, signal.SIGCONT)
    before = len(daemon.status()["flows"]["finished"])
    beats = daemon.status()["tasks"]["heartbeats"]
    daemon.wait_for(lambda s: s["tasks"]["heartbeats"] >= beats + 2, 10, "heartbeats again")
    result = sipp.run(uac_scenario(caller_number="13900139000", steps=[pause(3000)],
                                   ending="hangup"), service=NUMBER, timeout=30)
    assert result.successful == 1, result.errors[-1500:]
    doc = daemon.wait_for(lambda s: len(s["flows"]["finished"]) > before, 15,
                          "the next call served by the flow")
    assert doc["flows"]["finished"][-1]["outcome"] == "caller_hangup"


def forged_login(secret: str, agent: str, pin: str, phone: str = "8001") -> list[str]:
    """Play Asterisk on the AGI port for one *21 call typing `agent`/`pin` at every prompt;
    return the commands the daemon sent."""
    sent: list[str] = []
    with socket.create_connection(("127.0.0.1", AGI_PORT), timeout=5) as s:
        s.sendall(f"agi_network: yes\nagi_network_script: {secret}/feature/login\n"
                  f"agi_channel: PJSIP/{phone}-0000abcd\nagi_uniqueid: 7.{phone}\n\n".encode())
        reader = s.makefile("rb")
        while line := reader.readline().decode().strip():
            sent.append(line)
            if line.startswith("GET DATA"):
                digits = agent if "agent-user" in line else pin
                s.sendall(f"200 result={digits}\n".encode())
            else:
                s.sendall(b"200 result=0\n")
    return sent


@pytest.mark.security
def test_wrong_pins_lock_the_agent_until_unlocked(daemon: RunningDaemon,
                                                  asterisk: RunningAsterisk) -> None:
    from click.testing import CliRunner

    from callcenter.cli import main

    secret = asterisk.site.secrets.agi_secret
    pin = asterisk.site.secrets.pins["1001"]
    wrong = "1" * len(pin) if pin != "1" * len(pin) else "2" * len(pin)
    forged_login(secret, "1001", wrong, "8001")
    forged_login(secret, "1001", wrong, "8002")  # the 5th wrong PIN locks agent 1001
    doc = daemon.wait_for(lambda s: s["logins_locked"], 5, "a login lock")
    assert [(x["scope"], x["name"]) for x in doc["logins_locked"]] == [("agent", "1001")]
    refused = forged_login(secret, "1001", pin, "8003")  # the right PIN, but locked
    assert refused[-2:] == ['STREAM FILE "beeperr" ""', "HANGUP"]
    assert next(a for a in daemon.status()["agents"] if a["id"] == "1001")["state"] == \
        "logged_out"
    res = CliRunner().invoke(main, ["agent", "unlock", "1001", "--conf",
                                    str(daemon.conf_dir)])
    assert res.exit_code == 0 and "agent 1001: unlocked" in res.output, res.output
    assert daemon.status()["logins_locked"] == []
    forged_login(secret, "1001", pin, "8003")
    daemon.wait_for(lambda s: next(a for a in s["agents"] if a["id"] == "1001")["state"]
                    == "ready", 5, "agent 1001 logged in after the unlock")
    assert "login locked for agent 1001 after 5 wrong PINs" in daemon.log()
