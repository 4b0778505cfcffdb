"""The post-call survey in the daemon, on a scripted Asterisk (tests/fix_acdscript.py): the
agent hangs up first, the agent's part ends and the queue's survey flow runs with every
answer attributed to that call's agent, queue and site; survey-first queues (press 1 while
waiting). The example site: tech has `survey: survey`, complaints also `survey_ask_first`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from callcenter.acd.live.announce import invite_to_survey
from callcenter.daemon.flowcalls import FlowCalls
from callcenter.store.events import Event
from tests.fix_acdscript import AcdHarness, ScriptedAgi

UID = "1767600000.1"
OTHER = "1767600000.9"


async def agent_hangs_up(acd: AcdHarness, agi: ScriptedAgi, tmp_path: Path,
                         get_data: str = "200 result=5") -> ScriptedAgi:
    """The dialplan's AGI(survey) after Dial returned ANSWER; the caller keys `get_data`."""
    flows = FlowCalls(acd.site, tmp_path, queues=acd.service, recorder=acd.recorder)
    after = await agi.next_session()
    after.replies["GET DATA"] = get_data
    await flows.after_agent_hangup(after.session)
    return after


def survey_events(acd: AcdHarness) -> list[Event]:
    return [e for e in acd.events if e.kind.startswith("survey.")]


async def test_the_agent_hangs_up_first_and_the_caller_rates_that_agent(
        acd: AcdHarness, tmp_path: Path) -> None:
    acd.book.login("1002", "8002")  # Li Na, tech 8
    agi = await acd.answered(UID, "tech", "1002")
    after = await agent_hangs_up(acd, agi, tmp_path)
    assert after.variables["CC_NEXT"] == "hangup"  # whatever the flow did, the call ends
    [complete] = acd.of("queue.complete")
    assert (complete.agent_id, complete.data["by"]) == ("1002", "agent")
    entry = acd.of("queue.enter")[0].data["entry"]
    start, answer, end = survey_events(acd)
    assert [start.kind, answer.kind, end.kind] == ["survey.start", "survey.answer",
                                                   "survey.end"]
    for e in (start, answer, end):  # attribution: the call, its agent, queue and site
        assert (e.call_id, e.agent_id, e.queue, e.site, e.data["entry"]) == (
            UID, "1002", "tech", "bj-hq", entry)
    assert answer.data | {"entry": ""} == {
        "flow": "survey", "question": "satisfaction", "score": 5, "scale": 5,
        "outcome": "answered", "attempt": 1, "entry": ""}
    assert start.data["opted_in"] is None  # tech does not ask first
    assert (end.data["outcome"], end.data["answers"]) == ("completed", 1)
    assert acd.state("1002")[0] == "wrap_up"  # the agent's part ended as any call's does


async def test_silence_and_wrong_keys_are_recorded_apart_from_scores(
        acd: AcdHarness, tmp_path: Path) -> None:
    acd.book.login("1002", "8002")
    agi = await acd.answered(UID, "tech", "1002")
    await agent_hangs_up(acd, agi, tmp_path, get_data="200 result= (timeout)")
    await asyncio.sleep(31)  # tech's wrap-up: then the same agent takes a second call
    agi2 = await acd.answered("1767600000.2", "tech", "1002")
    await agent_hangs_up(acd, agi2, tmp_path, get_data="200 result=7")
    answers = [(e.call_id, e.data["score"], e.data["outcome"], e.data["attempt"])
               for e in acd.of("survey.answer")]
    assert answers == [(UID, None, "timeout", 1), (UID, None, "timeout", 2),
                       ("1767600000.2", None, "invalid", 1),
                       ("1767600000.2", None, "invalid", 2)]
    assert [e.data["answers"] for e in acd.of("survey.end")] == [0, 0]


async def test_no_survey_without_a_survey_flow_or_an_agent_the_acd_knows(
        acd: AcdHarness, tmp_path: Path) -> None:
    acd.book.login("1003", "8003")  # sales: no survey
    agi = await acd.answered(UID, "sales", "1003")
    after = await agent_hangs_up(acd, agi, tmp_path)
    assert after.variables["CC_NEXT"] == "hangup"
    assert acd.of("queue.complete")[0].data["by"] == "agent"
    # a call the ACD does not hold (the daemon restarted during the conversation)
    stranger = await acd.caller("1767600000.5")
    flows = FlowCalls(acd.site, tmp_path, queues=acd.service, recorder=acd.recorder)
    await flows.after_agent_hangup(stranger.session)
    assert stranger.variables["CC_NEXT"] == "hangup"
    assert survey_events(acd) == [] and stranger.count("GET DATA") == 0


async def test_a_caller_who_hangs_up_first_leaves_nothing_to_survey(
        acd: AcdHarness) -> None:
    """Dial ends the caller's channel: the dialplan runs no AGI(survey); the Hangup ends
    the agent's part and the call book forgets the call."""
    acd.book.login("1002", "8002")
    await acd.answered(UID, "tech", "1002")
    acd.event("Hangup", Uniqueid=UID)
    assert acd.of("queue.complete")[0].data["by"] == "caller"
    assert acd.service.calls.get(UID) is None


async def test_a_survey_first_queue_surveys_only_callers_who_pressed_1(
        acd: AcdHarness, tmp_path: Path) -> None:
    acd.book.login("1001", "8001")  # complaints 9, busy with another caller
    await acd.answered(OTHER, "complaints", "1001")
    agi, task = await acd.queued(UID, "complaints")
    await asyncio.sleep(3)
    assert agi.variables["CC_SURVEY"] == "asked"  # heard the question once
    agi.press("1")
    await asyncio.sleep(2)
    assert agi.variables["CC_SURVEY"] == "yes"
    [optin] = acd.of("survey.optin")
    assert (optin.call_id, optin.queue) == (UID, "complaints")
    acd.event("Hangup", Uniqueid=OTHER)  # the first caller (never asked) hangs up first
    await asyncio.sleep(61)  # complaints' wrap-up is 60 s
    await task
    acd.event("DialEnd", Uniqueid=UID, DialStatus="ANSWER")
    await agent_hangs_up(acd, agi, tmp_path, get_data="200 result=4")
    start = acd.of("survey.start")
    assert [(e.call_id, e.agent_id, e.data["opted_in"]) for e in start] == [
        (UID, "1001", True)]
    assert [e.data["score"] for e in acd.of("survey.answer")] == [4]


async def test_a_survey_first_caller_who_did_not_press_1_is_not_surveyed(
        acd: AcdHarness, tmp_path: Path) -> None:
    acd.book.login("1001", "8001")
    agi = await acd.answered(UID, "complaints", "1001")
    assert agi.variables["CC_SURVEY"] == "asked"
    after = await agent_hangs_up(acd, agi, tmp_path)
    assert after.variables["CC_NEXT"] == "hangup" and after.count("GET DATA") == 0
    assert survey_events(acd) == []


async def test_a_key_during_the_question_opts_in_and_the_question_is_asked_once(
        acd: AcdHarness) -> None:
    agi = await acd.caller(UID)
    agi.replies["STREAM FILE"] = "200 result=49 endpos=1000"  # 1 during the prompt
    assert await invite_to_survey(agi.session, Path("/nonexistent"), "default") == "pressed"
    assert agi.variables["CC_SURVEY"] == "yes"
    again = await agi.next_session()  # back in a queue: overflow, a missed ring
    assert await invite_to_survey(again.session, Path("/nonexistent"), "default") == ""
    asked = await acd.caller("1767600000.3", CC_SURVEY="asked")
    assert await invite_to_survey(asked.session, Path("/nonexistent"), "default") == "asked"
    assert again.count("STREAM FILE") == asked.count("STREAM FILE") == 0
