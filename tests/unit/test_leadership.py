"""A daemon of several takes calls only while it leads (callcenter/daemon/leadership.py):
FastAGI opens on the lead and closes on its loss, the heartbeat's globals carry the term, a
gated task runs only while leading, and a leader that cannot listen gives the lead back."""

from __future__ import annotations

import asyncio

from callcenter.daemon.leadership import Leadership
from callcenter.errors import CallcenterError


class Lease:
    def __init__(self) -> None:
        self.leading, self.term, self.released = False, 0, 0
        self.on_lead = self.on_lose = None

    async def release(self) -> None:
        self.leading = False
        self.released += 1


class Agi:
    host, port = "127.0.0.41", 14673

    def __init__(self, fail: bool = False) -> None:
        self.fail, self.listening = fail, False

    async def start(self) -> None:
        if self.fail:
            raise CallcenterError("cannot listen for FastAGI")
        self.listening = True

    async def stop(self) -> None:
        self.listening = False


def test_agi_and_gated_tasks_follow_the_lead() -> None:
    async def main() -> None:
        lease, agi = Lease(), Agi()
        lead = Leadership("acd-1", lease, agi, "agi://127.0.0.41:14673/s")
        runs: list[str] = []

        async def dial() -> None:
            runs.append("start")
            try:
                await asyncio.sleep(3600)
            finally:
                runs.append("stop")

        gated = asyncio.ensure_future(lead.gated(dial)())
        await asyncio.sleep(0.01)
        assert runs == [] and not lead.leading
        lease.leading, lease.term = True, 7
        await lease.on_lead(7)
        await asyncio.sleep(0.01)
        assert agi.listening and lead.leading and runs == ["start"]
        assert lead.globals() == {"CC_AGI": "agi://127.0.0.41:14673/s", "CC_TERM": "7"}
        lease.leading = False
        await lease.on_lose(7, "another daemon holds the lease")
        await asyncio.sleep(0.01)
        assert not agi.listening and not lead.leading and runs == ["start", "stop"]
        gated.cancel()

    asyncio.run(main())


def test_a_leader_that_cannot_listen_gives_the_lead_back() -> None:
    async def main() -> None:
        lease = Lease()
        lead = Leadership("acd-1", lease, Agi(fail=True), "agi://x")
        lease.leading, lease.term = True, 3
        await lease.on_lead(3)
        assert lease.released == 1 and not lead.leading

    asyncio.run(main())
