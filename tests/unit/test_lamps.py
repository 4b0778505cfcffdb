"""The desk phones' lamps (callcenter/daemon/lamps.py): one Setvar per agent change, and at
each AMI connect every agent's lamp, pipelined rather than one round trip after another."""

from __future__ import annotations

import asyncio

from callcenter.agents.state import AgentBook
from callcenter.daemon.lamps import WINDOW, AgentLamps
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
    await asyncio.sleep(0.01)
    assert ami.actions == [{"Action": "Setvar", "Variable": "DEVICE_STATE(Custom:agent-a1)",
                            "Value": "NOT_INUSE"}]
