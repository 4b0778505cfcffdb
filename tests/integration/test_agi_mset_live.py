"""AgiSession.set_variables against the real Asterisk: values sent in one EXEC MSet and
values sent alone read back exactly as given (GET VARIABLE)."""

from __future__ import annotations

import asyncio
import time

import pytest

from callcenter.agi import AgiServer, AgiSession
from callcenter.contract import Next, Var
from tests.fix_asterisk import AGI_PORT, RunningAsterisk

pytestmark = pytest.mark.asterisk

PAIRS = [("CC_T_QUEUE", "sales"), ("CC_T_LABEL", "VIP 张三 sales"),
         ("CC_T_EPOCH", "1796307051.198"), ("CC_T_EMPTY", ""), ("CC_T_COMMA", "a,b|c"),
         ("CC_T_QUOTE", 'say "hi" (now)'), ("CC_T_DOLLAR", "${SHELL(id)}"),
         ("CC_T_PAD", " padded "), ("CC_T_EQ", "x=y")]


def test_set_variables_reach_the_channel_exactly(asterisk: RunningAsterisk) -> None:
    seen: dict[str, str | None] = {}
    commands: list[str] = []
    done = asyncio.Event()

    async def handler(session: AgiSession, path: str, args: list[str]) -> None:
        sent = session.command

        async def spy(name: str, *a: str | int, **kw: object):  # which commands went
            commands.append(name)
            return await sent(name, *a, **kw)

        session.command = spy  # type: ignore[method-assign]
        try:
            await session.set_variables(PAIRS)
            for name, _ in PAIRS:
                seen[name] = await session.get_variable(name)
            await session.set_variable(Var.NEXT, Next.HANGUP)
        finally:
            done.set()

    async def main() -> None:
        server = AgiServer(handler, host="127.0.0.1", port=AGI_PORT)
        await server.start()
        try:
            # the dialplan sends calls to the daemon only while its heartbeat is fresh
            await asyncio.to_thread(asterisk.cli,
                                    f"dialplan set global {Var.ALIVE} {int(time.time())}")
            number = asterisk.site.spec.numbers[0].number
            await asyncio.to_thread(asterisk.cli, f"channel originate Local/{number}@"
                                    "cc-inbound/n application Wait 5")
            await asyncio.wait_for(done.wait(), 20)
        finally:
            await server.stop()
            await asyncio.to_thread(asterisk.cli, f"dialplan set global {Var.ALIVE} 0")

    asyncio.run(main())
    # the three plain values in one MSet, after the six that MSet's parser would read
    assert commands[:7] == ["SET VARIABLE"] * 6 + ["EXEC"]
    assert seen == dict(PAIRS)
