"""A waiting caller's long WAIT FOR DIGIT, ended by the daemon (AMI PlayDTMF Receive) the
moment the scheduler decides; on a scripted Asterisk (tests/fix_acdscript.py)."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.acd.live.waiting import wait_seconds
from callcenter.acd.live.wake import CAP_MS, POLL_MS, RETRY_SECONDS
from tests.fix_acdscript import AcdHarness, settle

UID = "1767600000.1"
QUIET = {"sales": {"announce": {"first_after": 0, "every": 0},
                   "callback_offer_after_seconds": None}}


def waits(agi) -> list[tuple[str, ...]]:
    return [c.args for c in agi.sent if c.name == "WAIT FOR DIGIT"]


def wakes(acd: AcdHarness) -> list[dict[str, str]]:
    return [a for a in acd.ami.actions if a["Action"] == "PlayDTMF"]


async def busy_sales(acd: AcdHarness) -> None:
    """1003 logged in and talking: sales is staffed, a new caller waits."""
    acd.book.login("1003", "8003")
    await acd.answered("1767600000.9", "sales", "1003")


def test_the_wait_lasts_until_the_next_timed_thing() -> None:
    assert wait_seconds(100.0, [], CAP_MS) == 30.0
    assert wait_seconds(100.0, [112.5, 160.0], CAP_MS) == 12.5
    assert wait_seconds(100.0, [99.0], CAP_MS) == 0.001  # overdue: a 1 ms wait, then it
    assert wait_seconds(100.0, [112.5], POLL_MS) == 1.0


@pytest.mark.acd_site(queues=QUIET)
async def test_a_waiting_caller_costs_one_command_per_30_seconds(acd: AcdHarness) -> None:
    await busy_sales(acd)
    agi, task = await acd.queued(UID, "sales")
    music = agi.sent.index(("SET MUSIC", ("on", "default")))
    await asyncio.sleep(599)
    assert not task.done()
    # ten minutes: twenty 30 s waits, nothing else
    assert agi.sent[music + 1:] == [("WAIT FOR DIGIT", ("30000",))] * 20
    assert wakes(acd) == []


@pytest.mark.acd_site(queues=QUIET)
async def test_a_freed_agent_ends_the_wait_at_once(acd: AcdHarness) -> None:
    await busy_sales(acd)
    agi, task = await acd.queued(UID, "sales")
    await asyncio.sleep(7)
    acd.event("Hangup", Uniqueid="1767600000.9")
    acd.book.ready("1003")  # wrap-up skipped: free now
    await settle()
    assert task.done()
    assert agi.variables["CC_NEXT"] == "connect"
    assert waits(agi) == [("30000",)]  # the first wait, cut short 23 s early
    assert wakes(acd) == [{"Action": "PlayDTMF", "Channel": agi.session.channel,
                           "Digit": "D", "Receive": "yes"}]
    assert acd.service.snapshot()["stats"]["offer_to_ring_ms_p99"] == 0.0


@pytest.mark.acd_site(queues=QUIET)
async def test_a_wake_asterisk_dropped_is_sent_again(acd: AcdHarness) -> None:
    """A frame that reaches the channel just before Asterisk reads the WAIT FOR DIGIT is
    read and dropped by the AGI loop: the daemon sends the digit again."""
    await busy_sales(acd)
    agi, task = await acd.queued(UID, "sales")
    family = acd.ami.channels.pop(agi.session.channel)  # the first digit goes nowhere
    acd.event("Hangup", Uniqueid="1767600000.9")
    acd.book.ready("1003")
    await settle()
    assert not task.done() and len(wakes(acd)) == 1
    acd.ami.channels[agi.session.channel] = family
    await asyncio.sleep(RETRY_SECONDS)
    await settle()
    assert task.done() and len(wakes(acd)) == 2
    await asyncio.sleep(5)
    assert len(wakes(acd)) == 2  # nothing more once the wait ended


@pytest.mark.acd_site(queues=QUIET)
async def test_without_ami_the_caller_is_polled_once_a_second(acd: AcdHarness) -> None:
    acd.ami.connected.clear()
    await busy_sales(acd)
    agi, task = await acd.queued(UID, "sales")
    await asyncio.sleep(10.5)
    assert set(waits(agi)) == {("1000",)} and 10 <= len(waits(agi)) <= 11
    acd.event("Hangup", Uniqueid="1767600000.9")
    acd.book.ready("1003")
    await asyncio.sleep(1)
    assert task.done() and wakes(acd) == []


@pytest.mark.acd_site(queues={"sales": {"announce": {"first_after": 0, "every": 0},
                                        "callback_offer_after_seconds": 45}})
async def test_the_wait_ends_for_the_callback_offer_and_1_still_asks(acd: AcdHarness) -> None:
    await busy_sales(acd)
    agi, task = await acd.queued(UID, "sales", CC_NUMBER="95123")
    await agi.seen("STREAM FILE", "beep", "1D")
    assert waits(agi) == [("30000",), ("15000",)]
    agi.press("1")  # the caller's own key, in the long wait after the offer
    await task
    assert agi.variables["CC_NEXT"] == "hangup"
    assert acd.service.calls.get(UID).callback


async def test_a_hang_up_during_the_long_wait_is_an_abandon(acd: AcdHarness) -> None:
    await busy_sales(acd)
    agi, task = await acd.queued(UID, "sales")
    await asyncio.sleep(12)
    agi.hang_up()
    await settle()
    assert task.done()
    assert acd.kinds()[-1] == "queue.abandon"
    assert UID not in acd.service.calls
