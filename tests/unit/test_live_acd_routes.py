"""The live ACD sending callers elsewhere and watching phones, on a scripted Asterisk
(tests/fix_acdscript.py): overflow, callbacks, transfers, reachability, a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from panoramisk.message import Message

from callcenter.agents import AgentBook
from tests.fix_acdscript import AcdHarness, settle

UID = "1767600000.1"


async def test_overflow_after_max_wait_keeps_the_enqueue_time(acd: AcdHarness) -> None:
    acd.ticking()
    acd.book.login("1002", "8002")  # course 4 at bj-hq: staffs course-bj
    await acd.answered("1767600000.9", "course-bj", "1002")  # and is busy
    agi, task = await acd.queued(UID, "course-bj")
    enqueued = agi.variables["CC_ENQUEUED"]
    await asyncio.sleep(299)
    assert not task.done()
    await asyncio.sleep(2)  # course-bj: max_wait_seconds 300, then queue:course-cd
    overflow = acd.of("queue.overflow")
    assert [(e.queue, e.data["target"]) for e in overflow] == [("course-bj",
                                                               "queue:course-cd")]
    assert 300_000 <= overflow[0].data["wait_ms"] <= 301_000
    assert agi.variables["CC_QUEUE"] == "course-cd"
    assert agi.variables["CC_ENQUEUED"] == enqueued
    enter = acd.of("queue.enter")[-1]
    assert (enter.queue, enter.data["reason"], enter.data["from_queue"]) == (
        "course-cd", "overflow", "course-bj")
    acd.book.login("2002", "8102")  # course 8 at cd-out: takes it at once
    await task
    assert agi.variables["CC_AGENT_EXT"] == "8102"
    assert acd.of("queue.offer")[-1].call_id == UID


async def test_pressing_1_after_the_offer_asks_for_a_callback(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    await acd.answered("1767600000.9", "sales", "1003")
    agi, task = await acd.queued(UID, "sales", CC_NUMBER="95123")
    await agi.seen("STREAM FILE", "beep", "1D")  # sales: the offer after 60 s
    # waits of 30 s: to the first announcement, then to the offer
    assert [c.args for c in agi.sent if c.name == "WAIT FOR DIGIT"] == [("30000",)] * 2
    agi.press("1")
    await task
    assert agi.variables["CC_NEXT"] == "hangup"
    request = acd.of("queue.callback_request")
    assert [(e.call_id, e.data["number"], e.data["wait_ms"]) for e in request] == [
        (UID, "95123", 60000)]
    assert acd.service.calls.get(UID).callback


async def callback_waiting(acd: AcdHarness) -> None:
    """Caller UID asked to be called back while agent 1003 talked to someone else."""
    acd.book.login("1003", "8003")
    await acd.answered("1767600000.9", "sales", "1003")
    agi, task = await acd.queued(UID, "sales", CC_NUMBER="95123")
    await agi.seen("STREAM FILE", "beep", "1D")
    agi.press("1")
    await task
    agi.hang_up(eof=True)


def originated(action: dict[str, str]) -> list[Message]:
    """Asterisk's answer to an async Originate the agent's phone took."""
    return [Message({"Response": "Success", "ActionID": action["ActionID"]}),
            Message({"Event": "OriginateResponse", "ActionID": action["ActionID"],
                     "Response": "Success"})]


async def test_a_callback_rings_the_agent_then_reports_the_customer(acd: AcdHarness) -> None:
    await callback_waiting(acd)
    acd.ami.script("Originate", originated)
    acd.event("Hangup", Uniqueid="1767600000.9")  # 1003 wraps up 15 s, then is free
    await asyncio.sleep(16)
    [originate] = [a for a in acd.ami.actions if a["Action"] == "Originate"]
    assert (originate["Channel"], originate["Context"], originate["Exten"]) == (
        "PJSIP/8003", "cc-callback", "13800138000")
    assert f"CC_CALLBACK_ID={UID}" in originate["Variable"].split(",")
    # a Beijing mobile sees the Beijing pool number, carried by its own carrier; the second
    # route shows the national number
    assert {"CC_PRESENT=01080001000", "CC_FIRST=telecom", "CC_SECOND=unicom",
            "CC_PRESENT2=4008001234"} <= set(originate["Variable"].split(","))
    assert acd.state("1003") == ("on_call", "")
    acd.event("UserEvent", UserEvent="CallcenterCallback", Id=UID, Status="ANSWER")
    [result] = acd.of("queue.callback_result")
    assert (result.agent_id, result.data["result"], result.data["attempt"]) == (
        "1003", "completed", 1)
    assert acd.state("1003") == ("wrap_up", "")
    assert acd.service.calls.get(UID) is None


async def test_a_customer_not_answering_is_called_again_later(acd: AcdHarness) -> None:
    await callback_waiting(acd)
    acd.ami.script("Originate", originated, originated)
    acd.event("Hangup", Uniqueid="1767600000.9")
    await asyncio.sleep(16)
    acd.event("UserEvent", UserEvent="CallcenterCallback", Id=UID, Status="NOANSWER")
    assert acd.of("queue.callback_result")[0].data["result"] == "retry"
    await asyncio.sleep(119)  # sales: callback_retry_seconds 120 (and wrap-up 15)
    assert len([a for a in acd.ami.actions if a["Action"] == "Originate"]) == 1
    await asyncio.sleep(2)
    second = [a for a in acd.ami.actions if a["Action"] == "Originate"][1]
    assert second["ActionID"] == f"cb-{UID}-r1-2"
    assert acd.of("queue.offer")[-1].call_id == UID  # the events keep the caller's id


async def test_a_transfer_keeps_priority_and_the_first_enqueue_time(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")  # sales
    acd.book.login("1002", "8002")  # tech
    await acd.answered("1767600000.8", "tech", "1002")  # 1002 is busy
    await asyncio.sleep(1)
    agi = await acd.answered(UID, "sales", "1003", priority=3)
    first, label = agi.variables["CC_ENQUEUED"], agi.variables["CC_LABEL"]
    await asyncio.sleep(9)
    _, other = await acd.queued("1767600000.7", "tech", priority=3)  # waits for 1002
    await asyncio.sleep(10)
    moved = await agi.next_session()  # the agent's blind transfer: AGI(transfer-queue/tech)
    task = acd.start(acd.service.transfer(moved.session, "tech"))
    await settle()
    transfer = acd.of("queue.transfer")[0]
    assert (transfer.agent_id, transfer.data["to_queue"]) == ("1003", "tech")
    assert acd.state("1003") == ("wrap_up", "")
    assert (moved.variables["CC_QUEUE"], moved.variables["CC_PRIORITY"]) == ("tech", "3")
    assert moved.variables["CC_ENQUEUED"] == first
    acd.event("Hangup", Uniqueid="1767600000.8")  # 1002 ends its call: wrap-up 30 s
    await asyncio.sleep(31)
    assert task.done() and not other.done()  # the older place goes first
    assert moved.variables["CC_AGENT_EXT"] == "8002"
    # the same screen pop, naming the queue the caller now waits in
    assert (label, moved.variables["CC_LABEL"]) == ("sales", "tech")


async def test_a_consultative_transfer_ends_the_first_agents_part(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    await acd.answered(UID, "sales", "1003")
    acd.event("AttendedTransfer", Result="Fail", TransfereeUniqueid=UID)
    assert acd.state("1003") == ("on_call", "")  # a consultation that did not complete
    acd.event("AttendedTransfer", Result="Success", TransfereeUniqueid=UID,
              OrigTransfererUniqueid="1767600000.99")
    (transfer,) = acd.of("queue.transfer")
    assert (transfer.agent_id, transfer.data["consulted"]) == ("1003", True)
    assert acd.state("1003") == ("wrap_up", "")
    assert UID not in acd.service.calls


async def test_an_unreachable_phone_pauses_its_agent_until_it_is_back(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    acd.event("ContactStatus", AOR="8003", ContactStatus="Unreachable")
    assert acd.state("1003") == ("paused", "unreachable")
    assert acd.service.unreachable_queues() == ["sales"]
    agi, task = await acd.queued(UID, "sales")
    await task
    assert agi.variables["CC_NEXT"] == "fallback"  # nobody left to ring
    acd.event("ContactStatus", AOR="8003", ContactStatus="Reachable")
    assert acd.state("1003") == ("ready", "")
    acd.book.pause("1003", "lunch")
    acd.event("ContactStatus", AOR="8003", ContactStatus="Reachable")
    assert acd.state("1003") == ("paused", "lunch")  # an agent's own pause stays


async def test_a_hot_desking_agent_is_paused_by_the_phone_it_logged_in_at(
        acd: AcdHarness) -> None:
    acd.book.login("1003", "8001")  # 1003 works at 1001's desk today
    acd.event("ContactStatus", AOR="8003", ContactStatus="Unreachable")  # its own desk
    assert acd.state("1003") == ("ready", "")
    acd.event("ContactStatus", AOR="8001", ContactStatus="Unreachable")
    assert acd.state("1003") == ("paused", "unreachable")
    acd.event("DeviceStateChange", Device="PJSIP/8001", State="NOT_INUSE")
    assert acd.state("1003") == ("ready", "")


async def test_a_phone_in_use_again_lifts_an_unreachable_pause(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    acd.event("ContactStatus", AOR="8003", ContactStatus="Removed")
    assert acd.state("1003") == ("paused", "unreachable")
    acd.event("DeviceStateChange", Device="PJSIP/8003", State="NOT_INUSE")
    assert acd.state("1003") == ("ready", "")


def channels(*phones: str) -> list[Message]:
    """Asterisk's CoreShowChannels answer: one live channel on each phone."""
    return [Message({"Event": "CoreShowChannel", "Channel": f"PJSIP/{p}-0000000{n}",
                     "Uniqueid": f"1767599000.{n}", "ChannelStateDesc": "Up"})
            for n, p in enumerate(phones)] + [Message({"Event": "CoreShowChannelsComplete"})]


async def test_a_restart_relearns_which_agents_are_on_a_call(acd: AcdHarness,
                                                               tmp_path: Path) -> None:
    path = tmp_path / "agents.json"
    acd.restart(AgentBook([a.id for a in acd.site.spec.agents], path, clock=acd.clock))
    talking, idle = "1003", "2001"
    acd.book.login(talking, "8003")
    await asyncio.sleep(1)
    acd.book.login(idle, "8101")
    await acd.answered("1767600000.9", "sales", talking)
    acd.book.ringing(idle)  # a second call rang it as the daemon stopped
    acd.restart(AgentBook([a.id for a in acd.site.spec.agents], path, clock=acd.clock))
    assert acd.state(talking) == acd.state(idle) == ("on_call", "")  # believed, until AMI
    acd.ami.script("CoreShowChannels", lambda _: channels(acd.agent_phone(talking)))
    await acd.channels.resync()
    assert acd.state(talking) == ("on_call", "")
    assert acd.state(idle) == ("ready", "")  # no channel on its phone
    agi, task = await acd.queued(UID, "sales")
    await task
    assert agi.variables["CC_AGENT_EXT"] == acd.agent_phone(idle)
    acd.event("Hangup", Uniqueid="1767599000.0")  # the call from before the restart ends
    assert acd.state(talking) == ("ready", "")


async def test_an_hour_of_waiting_takes_no_real_time(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    await acd.answered("1767600000.9", "sales", "1003")
    agi, task = await acd.queued(UID, "sales")  # no tick: max_wait never comes
    started = time.perf_counter()
    await asyncio.sleep(3600)
    assert time.perf_counter() - started < 2.0  # no real sleep anywhere in the wait loop
    # not one a second: one until the next announcement (every 60 s), 30 s at most
    assert 118 <= agi.count("WAIT FOR DIGIT") <= 122
    assert not task.done()
