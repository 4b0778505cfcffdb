"""The live ACD's rules for one caller and the agents it may reach, on a scripted Asterisk
(tests/fix_acdscript.py): the offer, rings that fail, answer and hang-up, wrap-up, abandon,
a queue nobody staffs."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.agi import AgiHangup
from tests.fix_acdscript import AcdHarness, settle

UID = "1767600000.1"


def states(acd: AcdHarness, agent: str) -> list[str]:
    """Every state `agent` enters from now on (the book's listener)."""
    seen: list[str] = []
    acd.book.listeners.append(lambda rec: rec.agent_id == agent and seen.append(rec.state))
    return seen


async def test_a_caller_is_offered_to_the_longest_idle_ready_agent(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")  # sales 7, ready since 08:00:00
    await asyncio.sleep(5)
    acd.book.login("2001", "8101")  # sales 8, the better skill, but idle for less time
    agi, task = await acd.queued(UID, "sales", caller="13800138000", contact="Zhang San",
                                 vip=2)
    await task
    assert agi.set_variables()[-3:] == [("CC_AGENT_EXT", "8003"), ("CC_RING_SECONDS", "15"),
                                        ("CC_NEXT", "connect")]
    assert agi.variables["CC_LABEL"] == "VIP2 Zhang San sales"
    assert agi.variables["CC_QUEUE"] == "sales"
    # an agent was free: no hold music (and no round trips for it); the caller's place and
    # the offer in one MSet
    assert agi.count("SET MUSIC") == 0
    assert [c.name for c in agi.sent] == ["EXEC"]
    assert [name for name, _ in agi.set_variables()].count("CC_NEXT") == 1
    assert agi.variables["CC_ENQUEUED"] == str(acd.now_ms())
    assert acd.state("1003") == ("ringing", "")
    assert acd.state("2001") == ("ready", "")
    assert acd.kinds() == ["queue.enter", "queue.offer"]
    assert acd.of("queue.offer")[0].agent_id == "1003"


async def test_the_caller_hears_music_and_waits_until_an_agent_is_free(
        acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    await acd.answered("1767600000.9", "sales", "1003")  # 1003 is busy: sales is staffed
    agi, task = await acd.queued(UID, "sales")
    await asyncio.sleep(29)
    assert not task.done()
    # after the caller's place is kept in channel variables (SET VARIABLE, EXEC MSet)
    assert next(c for c in agi.sent if c.name not in ("SET VARIABLE", "EXEC")) == (
        "SET MUSIC", ("on", "default"))
    # one wait until the first announcement (30 s), not one a second
    assert [c.args for c in agi.sent if c.name == "WAIT FOR DIGIT"] == [("30000",)]
    acd.event("Hangup", Uniqueid="1767600000.9")  # the first call ends; wrap-up 15 s
    await asyncio.sleep(15)
    await settle()
    assert task.done()  # at once when the agent is ready: the daemon ended the wait
    assert [a for a in acd.ami.actions if a["Action"] == "PlayDTMF"] == [
        {"Action": "PlayDTMF", "Channel": agi.session.channel, "Digit": "D",
         "Receive": "yes"}]
    assert acd.service.snapshot()["stats"]["offer_to_ring_ms_max"] == 0.0
    assert agi.variables["CC_NEXT"] == "connect"
    # music on, and left on for the dialplan to end as the agent rings (cc-after-flow)
    assert [c.args for c in agi.sent if c.name == "SET MUSIC"][-1] == ("on", "default")
    assert acd.of("queue.offer")[-1].data["attempt"] == 1


async def test_an_unanswered_ring_keeps_the_callers_place_and_frees_the_agent(
        acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    agi, task = await acd.queued(UID, "sales")
    await task
    _behind, behind_task = await acd.queued("1767600000.2", "sales")  # waits behind
    seen = states(acd, "1003")
    again = await agi.next_session()  # the dialplan's AGI(offer/NOANSWER)
    await acd.service.offer_result(again.session, "NOANSWER")
    assert seen == ["ready", "ringing"]  # free again, then the same caller is offered
    assert again.variables["CC_NEXT"] == "connect"
    assert again.variables["CC_AGENT_EXT"] == "8003"
    assert again.variables["CC_ENQUEUED"] == agi.variables["CC_ENQUEUED"]
    assert acd.service.by_agent["1003"] == UID
    assert not behind_task.done()
    miss = acd.of("queue.ringnoanswer")
    assert [(e.agent_id, e.data["status"]) for e in miss] == [("1003", "no_answer")]
    assert [e.data["attempt"] for e in acd.of("queue.offer") if e.call_id == UID] == [1, 2]


async def test_three_misses_in_a_row_pause_the_agent_missed(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    agi, task = await acd.queued(UID, "sales")
    await task
    for _ in range(3):
        agi = await agi.next_session()
        task = acd.start(acd.service.offer_result(agi.session, "NOANSWER"))
        await settle()
    assert acd.state("1003") == ("paused", "missed")
    assert not task.done()  # the caller waits on, in its place
    assert acd.service.scheduler.call_status(UID).position == 1
    assert len(acd.of("queue.ringnoanswer")) == 3


async def test_the_agent_book_counts_unanswered_rings(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    agi, task = await acd.queued(UID, "sales")
    await task
    again = await agi.next_session()
    acd.start(acd.service.offer_result(again.session, "NOANSWER"))
    await settle()
    assert acd.book.get("1003").misses == 1


@pytest.mark.parametrize(("status", "reason"), [("BUSY", "busy"),
                                                ("CHANUNAVAIL", "unreachable"),
                                                ("CONGESTION", "unreachable")])
async def test_a_phone_busy_or_unreachable_pauses_its_agent(acd: AcdHarness, status: str,
                                                            reason: str) -> None:
    acd.book.login("1003", "8003")
    acd.book.login("2001", "8101")
    agi, task = await acd.queued(UID, "sales")
    await task
    first = acd.service.by_agent and next(iter(acd.service.by_agent))
    other = {"1003": "2001", "2001": "1003"}[first]
    again = await agi.next_session()
    await acd.service.offer_result(again.session, status)
    assert acd.state(first) == ("paused", reason)
    assert acd.service.by_agent == {other: UID}  # offered at once to the other agent
    assert acd.of("queue.ringnoanswer")[0].data["status"] == reason


async def test_answer_then_hang_up_completes_wraps_up_then_readies(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    _, task = await acd.queued(UID, "sales")
    await task
    await asyncio.sleep(4)  # four seconds of ringing
    acd.event("DialEnd", Uniqueid=UID, DialStatus="ANSWER")
    assert acd.state("1003") == ("on_call", "")
    await asyncio.sleep(60)
    acd.event("Hangup", Uniqueid=UID)
    assert acd.kinds() == ["queue.enter", "queue.offer", "queue.answer", "queue.complete"]
    answer, complete = acd.of("queue.answer")[0], acd.of("queue.complete")[0]
    assert (answer.data["ring_ms"], answer.data["wait_ms"]) == (4000, 4000)
    assert (complete.data["by"], complete.data["talk_ms"]) == ("caller", 60000)
    assert acd.state("1003") == ("wrap_up", "")
    await asyncio.sleep(14.9)
    assert acd.state("1003") == ("wrap_up", "")
    await asyncio.sleep(0.2)  # sales: wrap_up_seconds 15
    assert acd.state("1003") == ("ready", "")
    assert acd.of("queue.wrapup")[0].data["wrap_ms"] == 15000


async def test_the_agent_hanging_up_first_ends_the_call_by_agent(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    agi = await acd.answered(UID, "sales", "1003")
    after = await agi.next_session()  # the dialplan's AGI(offer/ANSWER): the caller is here
    await acd.service.offer_result(after.session, "ANSWER")
    assert after.variables["CC_NEXT"] == "hangup"
    assert acd.of("queue.complete")[0].data["by"] == "agent"
    acd.event("Hangup", Uniqueid=UID)  # the caller's channel goes: nothing more to record
    assert acd.kinds().count("queue.complete") == 1


async def test_a_caller_hanging_up_while_waiting_abandons(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    await acd.answered("1767600000.9", "sales", "1003")
    agi, task = await acd.queued(UID, "sales")
    await asyncio.sleep(30)
    agi.hang_up()
    with pytest.raises(AgiHangup):
        await task
    abandon = acd.of("queue.abandon")
    assert [(e.call_id, e.data["wait_ms"], e.data["ringing"]) for e in abandon] == [
        (UID, 30000, "")]
    assert UID not in acd.service.calls
    assert acd.service.snapshot()["queues"]["sales"]["waiting"] == 0


async def test_a_caller_hanging_up_while_ringing_frees_the_agent(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    _, task = await acd.queued(UID, "sales")
    await task
    acd.event("Hangup", Uniqueid=UID)
    assert acd.of("queue.abandon")[0].data["ringing"] == "1003"
    assert acd.state("1003") == ("ready", "")
    assert acd.service.by_agent == {}


async def test_a_queue_nobody_staffs_sends_the_caller_to_the_fallback(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    acd.book.pause("1003", "lunch")  # the only sales agent, paused: nobody to answer
    agi, task = await acd.queued(UID, "sales")
    await task
    assert agi.sent == [("SET VARIABLE", ("CC_NEXT", "fallback"))]
    assert acd.kinds() == ["queue.unstaffed"]
    assert acd.of("queue.unstaffed")[0].queue == "sales"


async def test_a_hot_desking_agent_is_rung_at_the_phone_it_logged_in_at(
        acd: AcdHarness) -> None:
    acd.book.login("2002", "8103")  # Chen Jing (extension 8102) sits at Yang Min's desk
    agi, task = await acd.queued(UID, "course-cd")
    await task
    assert agi.variables["CC_NEXT"] == "connect"
    assert agi.variables["CC_AGENT_EXT"] == "8103"


async def test_a_given_screen_pop_is_cleaned_before_it_reaches_the_dialplan(
        acd: AcdHarness) -> None:
    """A lead's name (from the HTTP API) becomes the label: quotes, brackets and ${…} never
    reach CALLERID(name)."""
    acd.book.login("1003", "8003")
    agi = await acd.caller(UID, "13800138000")
    task = acd.start(acd.service.wait(agi.session, queue="sales", priority=8,
                                      caller="13800138000", reason="lead",
                                      label='新线索 李"<sip:x>${SHELL(id)}'))
    await settle()
    await task
    assert agi.variables["CC_NEXT"] == "connect"
    assert agi.variables["CC_LABEL"] == "新线索 李sipxSHELLid"
