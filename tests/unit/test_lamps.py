"""The desk phones' lamps (callcenter/daemon/lamps.py): a Setvar per agent whose state
changed, the changes of a moment in one write, and at each AMI connect every agent's lamp,
pipelined rather than one round trip after another."""

from __future__ import annotations

import asyncio

from callcenter.agents.state import AgentBook
from callcenter.daemon.lamps import FLUSH_SECONDS, WINDOW, AgentLamps
from callcenter.store.recorder import NullRecorder
from tests.fix_acdscript import AcdHarness
from tests.scripted_asterisk import FakeAmi


class SlowAmi(FakeAmi):
    """Each action takes 10 ms of the virtual clock; counts how many are in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = self.most = 0

    async def action(self, action, **kw):
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return await super().action(action, **kw)


async def test_every_lamp_at_a_connect_pipelined(acd: AcdHarness) -> None:
    ids = [f"a{i}" for i in range(1000)]
    book = AgentBook(ids, clock=acd.clock)
    book.login("a7", "8007")
    ami = SlowAmi()
    lamps = AgentLamps(book, ami, NullRecorder(), acd.site.spec)
    started = acd.loop.time()
    await lamps.publish_all()
    took = acd.loop.time() - started
    states = {a["Variable"]: a["Value"] for a in ami.actions}
    assert len(ami.actions) == len(states) == 1000
    assert states["DEVICE_STATE(Custom:agent-a7)"] == "NOT_INUSE"
    assert states["DEVICE_STATE(Custom:agent-a8)"] == "UNAVAILABLE"
    assert ami.most == WINDOW
    assert took < 0.1  # 1,000 round trips of 10 ms, 200 at a time: 50 ms, not 10 s


async def test_a_change_lights_the_agents_lamp(acd: AcdHarness) -> None:
    book = AgentBook(["a1"], clock=acd.clock)
    ami = FakeAmi()
    AgentLamps(book, ami, NullRecorder(), acd.site.spec)
    book.login("a1", "8001")
    await asyncio.sleep(FLUSH_SECONDS / 2)
    assert ami.actions == []  # other changes of the moment may share the write
    await asyncio.sleep(FLUSH_SECONDS)
    assert ami.writes == [[{"Action": "Setvar", "Variable": "DEVICE_STATE(Custom:agent-a1)",
                            "Value": "NOT_INUSE"}]]


async def test_the_changes_of_a_moment_share_one_write(acd: AcdHarness) -> None:
    book = AgentBook(["a1", "a2"], clock=acd.clock)
    ami = FakeAmi()
    AgentLamps(book, ami, NullRecorder(), acd.site.spec)
    book.login("a1", "8001")
    book.login("a2", "8002")
    book.pause("a1", "lunch")  # a1's lamp shows its latest state, once
    await asyncio.sleep(FLUSH_SECONDS * 2)
    assert ami.writes == [[
        {"Action": "Setvar", "Variable": "DEVICE_STATE(Custom:agent-a1)", "Value": "ONHOLD"},
        {"Action": "Setvar", "Variable": "DEVICE_STATE(Custom:agent-a2)",
         "Value": "NOT_INUSE"}]]


async def test_changes_while_disconnected_wait_for_the_connect(acd: AcdHarness) -> None:
    book = AgentBook(["a1"], clock=acd.clock)
    ami = FakeAmi()
    ami.connected.clear()
    lamps = AgentLamps(book, ami, NullRecorder(), acd.site.spec)
    book.login("a1", "8001")
    await asyncio.sleep(FLUSH_SECONDS * 2)
    assert ami.actions == []
    ami.connected.set()
    await lamps.publish_all()  # what the connect runs
    assert ami.actions[-1]["Value"] == "NOT_INUSE"
