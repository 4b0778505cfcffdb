"""The post-call survey live: a SIPp caller reaches tech support (the example's tech queue has
`survey: survey`), the agent's SIPp phone answers; when the AGENT hangs up first the caller
stays on the line, hears the survey and presses a score, stored with that agent's id, the
queue and the site; when the caller hangs up first no survey runs (docs/surveys.md)."""

from __future__ import annotations

import pytest

from callcenter.sipp import Sipp, dtmf, pause, uac_scenario, uas_scenario
from tests.fix_asterisk import RunningAsterisk
from tests.fix_daemon import RunningDaemon, stored_events
from tests.integration.test_acd_live import phone_up

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp, pytest.mark.slow]


def stored(daemon: RunningDaemon) -> None:
    daemon.wait_for(lambda s: s["store"]["db_up"] and s["store"]["backlog_bytes"] == 0, 20,
                    "events stored")


def test_the_agent_hangs_up_first_and_the_caller_rates_that_agent(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, daemon: RunningDaemon) -> None:
    # Li Na's phone (1002, tech 8) answers and hangs up 3 s later
    phone_up(asterisk, sipp, lambda port, _mode: sipp_server(
        port, uas_scenario("answer", hangup_after_ms=3000)), "8002", "answer", daemon)
    # tech support (3); the conversation ends about 5 s in; 4 about 9.5 s in, inside the
    # survey question's 6 s (and its retry); the survey flow hangs up (wait_bye)
    res = sipp.run(uac_scenario(caller_number="01062345678",
                                steps=[pause(1500), dtmf("3", 8000), dtmf("4", 0)],
                                ending="wait_bye", bye_timeout_ms=30000),
                   service="4008001234", timeout=60)
    assert res.successful == 1, res.errors[-1000:]
    daemon.wait_for(lambda s: s["flows"]["surveys"].get("completed") == 1, 15,
                    "the survey completed")
    stored(daemon)
    [start] = stored_events(daemon.dsn, "call.start")
    [enter] = stored_events(daemon.dsn, "queue.enter")
    [complete] = stored_events(daemon.dsn, "queue.complete")
    assert (complete["agent_id"], complete["data"]["by"]) == ("1002", "agent")
    answers = stored_events(daemon.dsn, "survey.answer")
    scored = [a for a in answers if a["data"]["score"] is not None]
    assert len(scored) == 1, answers
    [answer] = scored
    assert (answer["agent_id"], answer["queue"], answer["site"]) == ("1002", "tech", "bj-hq")
    assert answer["data"]["score"] == 4 and answer["data"]["question"] == "satisfaction"
    assert answer["call_id"] == start["call_id"]  # the surveyed call, not a new one
    assert answer["data"]["entry"] == enter["data"]["entry"]
    [end] = stored_events(daemon.dsn, "survey.end")
    assert (end["data"]["outcome"], end["data"]["answers"]) == ("completed", 1)


def test_a_caller_who_hangs_up_first_gets_no_survey(
        asterisk: RunningAsterisk, sipp: Sipp, sipp_server, daemon: RunningDaemon) -> None:
    phone_up(asterisk, sipp, sipp_server, "8002", "answer", daemon)
    res = sipp.run(uac_scenario(caller_number="01062345678",
                                steps=[pause(1500), dtmf("3", 300), pause(5000)],
                                ending="hangup"),
                   service="4008001234", timeout=60)
    assert res.successful == 1, res.errors[-1000:]
    daemon.wait_for(lambda s: s["queues"]["stats"]["answered"] == 1
                    and not s["queues"]["waiting"], 15, "the call over")
    stored(daemon)
    [complete] = stored_events(daemon.dsn, "queue.complete")
    assert (complete["agent_id"], complete["data"]["by"]) == ("1002", "caller")
    assert [e for e in stored_events(daemon.dsn) if e["kind"].startswith("survey.")] == []
    assert daemon.status()["flows"]["surveys"] == {}
