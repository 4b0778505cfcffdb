"""The live ACD on a scripted Asterisk: overflow to another site's queue with the same skills
(`site:NAME`) keeping the first enqueue time, and a call's end after its agent logged out."""

from __future__ import annotations

import asyncio

import pytest

from tests.fix_acdscript import AcdHarness

UID = "1767600000.7"
BUSY = "1767600000.8"
TO_CD = {"course-bj": {"overflow": "site:cd-out", "max_wait_seconds": 30,
                       "expand_after_seconds": None}}


@pytest.mark.acd_site(queues=TO_CD)
async def test_site_overflow_moves_the_call_to_that_sites_queue_with_the_same_skills(
        acd: AcdHarness) -> None:
    acd.book.login("1001", "8001")  # course 6 at bj-hq: course-bj's only staff here
    await acd.answered(BUSY, "course-bj", "1001", caller="13900000001")  # and busy
    acd.book.login("2002", "8102")  # course 8 at cd-out: not course-bj staff
    acd.ticking()
    agi, task = await acd.queued(UID, "course-bj", priority=1)
    entered = acd.now_ms()
    await asyncio.sleep(29)
    assert not task.done()  # a Chengdu agent is free, but course-bj is Beijing's
    await asyncio.wait_for(task, 5)
    (over,) = acd.of("queue.overflow")
    assert (over.queue, over.data["target"]) == ("course-bj", "site:cd-out")
    enter = [e for e in acd.of("queue.enter") if e.call_id == UID]
    assert [(e.queue, e.data["reason"], e.data["from_queue"]) for e in enter] == [
        ("course-bj", "flow", ""), ("course-cd", "overflow", "course-bj")]
    # the same place in time: the first enqueue time travels with the call
    assert enter[0].data["enqueued_at"] == enter[1].data["enqueued_at"]
    assert agi.variables["CC_ENQUEUED"] == str(entered)
    assert agi.variables["CC_QUEUE"] == "course-cd"
    assert (agi.variables["CC_NEXT"], agi.variables["CC_AGENT_EXT"]) == ("connect", "8102")
    assert acd.state("2002") == ("ringing", "")


@pytest.mark.acd_site(queues={"course-bj": {"overflow": "site:cd-out", "max_wait_seconds": 30,
                                            "expand_after_seconds": None,
                                            "skills": {"course": 4}}})
async def test_site_overflow_without_a_matching_queue_takes_the_fallback(
        acd: AcdHarness) -> None:
    acd.book.login("1001", "8001")
    await acd.answered(BUSY, "course-bj", "1001", caller="13900000001")
    acd.ticking()
    agi, task = await acd.queued(UID, "course-bj")
    await asyncio.wait_for(task, 40)
    assert agi.variables["CC_NEXT"] == "fallback"  # cd-out asks course 3, not 4
    assert [e.queue for e in acd.of("queue.enter") if e.call_id == UID] == ["course-bj"]


@pytest.mark.acd_site(queues={"sales": {"wrap_up_seconds": 0}})
async def test_an_agent_who_logs_out_mid_call_stays_logged_out(acd: AcdHarness) -> None:
    acd.book.login("1003", "8003")
    await acd.answered(UID, "sales", "1003")
    acd.book.logout("1003")  # *22 from the desk phone while talking
    acd.event("Hangup", Uniqueid=UID)
    await asyncio.sleep(60)  # past any wrap-up
    assert acd.state("1003") == ("logged_out", "")
