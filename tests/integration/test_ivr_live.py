"""The example flow run live: real Asterisk, the real daemon, SIPp callers pressing keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.sipp import Sipp, dtmf, pause, uac_scenario
from tests.fix_asterisk import RunningAsterisk
from tests.fix_daemon import CLOSED_AT, RunningDaemon, start_daemon

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]


def call(sipp: Sipp, *, caller: str = "13900139000", name: str = "caller", steps=(),
         ending: str = "wait_bye", number: str = "4008001234", timeout: int = 60) -> None:
    result = sipp.run(uac_scenario(caller_number=caller, caller_name=name, steps=list(steps),
                                   ending=ending), service=number, timeout=timeout)
    assert result.successful == 1, result.errors[-1500:]


def finished(daemon: RunningDaemon, n: int = 1) -> list[dict]:
    doc = daemon.wait_for(lambda s: len(s["flows"]["finished"]) >= n, 20,
                          f"{n} finished flow(s)")
    return doc["flows"]["finished"]


def test_pressing_0_then_1_reaches_the_beijing_campus(daemon: RunningDaemon, sipp: Sipp,
                                                      asterisk: RunningAsterisk) -> None:
    call(sipp, steps=[pause(1500), dtmf("0", 1500), dtmf("1", 300)])
    flow = finished(daemon)[-1]
    assert flow["outcome"] == "queue" and flow["target"] == "course-bj"
    assert flow["path"].split(",")[-3:] == ["menu", "city", "campus-bj"]
    # no agent is logged in for the queue: the caller gets the static fallback
    assert "flow ended with 'fallback': fallback" in asterisk.log()


def test_region_is_derived_from_the_callers_number(daemon: RunningDaemon, sipp: Sipp) -> None:
    call(sipp, caller="02866661234", steps=[pause(1500), dtmf("2", 300)])
    flow = finished(daemon)[-1]
    assert (flow["outcome"], flow["target"]) == ("queue", "course-cd")
    assert "city" not in flow["path"].split(",")


def test_caller_pressing_nothing_takes_the_timeout_path(daemon: RunningDaemon,
                                                        sipp: Sipp) -> None:
    call(sipp, timeout=60)
    flow = finished(daemon)[-1]
    path = flow["path"].split(",")
    assert path[path.index("menu") + 1] == "course"  # menu's on_timeout
    assert (flow["outcome"], flow["target"]) == ("queue", "course-bj")  # city menu's on_fail


def test_caller_hanging_up_mid_menu_is_recorded(daemon: RunningDaemon, sipp: Sipp) -> None:
    # 3.5 s: past the welcome on a slow machine, well inside the menu's 5 s wait
    call(sipp, steps=[pause(3500)], ending="hangup")
    flow = finished(daemon)[-1]
    assert flow["outcome"] == "caller_hangup"
    assert flow["node"] in ("menu", "city")


def test_out_of_hours_calls_take_the_closed_branch(asterisk: RunningAsterisk, sipp: Sipp,
                                                   tmp_path: Path) -> None:
    daemon = start_daemon(asterisk, tmp_path / "closed.log", at=CLOSED_AT)
    try:
        # the prompts are not built here, so the beep starts about 2 s into the call: a key
        # during the beep ends RECORD FILE before it writes anything
        call(sipp, steps=[pause(4500), dtmf("#", 0)], timeout=60)
        flow = finished(daemon)[-1]
        assert (flow["outcome"], flow["target"]) == ("voicemail", "general")
        assert "closed" in flow["path"].split(",")
        assert list((asterisk.conf_dir / "voicemail" / "general").glob("*.wav"))
    finally:
        daemon.stop()


@pytest.mark.parametrize("name,number", [
    ('evil" <sip:x>; EXEC System "touch /tmp/cc-pwned', "13900139000"),
    ("${SHELL(touch /tmp/cc-pwned)}", "13900139000"),
    ("HANGUP\\nEXEC System touch /tmp/cc-pwned", "1390EXEC-System-0139"),
])
def test_hostile_caller_ids_do_not_reach_agi_unescaped(daemon: RunningDaemon, sipp: Sipp,
                                                       asterisk: RunningAsterisk, name: str,
                                                       number: str) -> None:
    Path("/tmp/cc-pwned").unlink(missing_ok=True)
    sipp.run(uac_scenario(caller_number=number, caller_name=name,
                          steps=[pause(1500), dtmf("1", 300)]), service="4008001234",
             timeout=40)
    flow = finished(daemon)[-1]
    assert flow["outcome"] in ("queue", "caller_hangup", "fallback")
    assert set(flow["caller"]) <= set("+0123456789")
    assert not Path("/tmp/cc-pwned").exists()
    assert "System(" not in asterisk.log()


def test_next_call_works_after_asterisk_restart(daemon: RunningDaemon, sipp: Sipp,
                                                asterisk: RunningAsterisk) -> None:

    before = daemon.status()["ami"]["connects"]
    asterisk.restart()
    up = daemon.wait_for(lambda s: s["ami"]["connects"] > before and s["ami"]["connected"],
                         40, "reconnect")
    # the restarted Asterisk learns the daemon is alive from its next heartbeat
    daemon.wait_for(lambda s: s["tasks"]["heartbeats"] > up["tasks"]["heartbeats"], 10,
                    "a heartbeat after the reconnect")
    n = len(daemon.status()["flows"]["finished"])
    call(sipp, caller="02866661234", steps=[pause(1500), dtmf("3", 300)])
    flow = finished(daemon, n + 1)[-1]
    assert (flow["outcome"], flow["target"]) == ("queue", "tech")
