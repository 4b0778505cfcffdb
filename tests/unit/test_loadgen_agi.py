"""The load generator's FastAGI side (scripts/loadgen_agi.py) understands what the daemon's
AgiSession sends: a benchmark whose simulated Asterisk ignores a command measures nothing
(an MSet it did not apply left every offer unseen and the fill never ended)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

from loadgen_agi import AgiCounters, AgiLink  # noqa: E402
from loadgen_ami import SimChannel, SimNode  # noqa: E402

from callcenter.agi.protocol import parse_header  # noqa: E402
from callcenter.agi.session import AgiSession  # noqa: E402

PAIRS = [("CC_AGENT_EXT", "1001"), ("CC_LABEL", "Sales Beijing"), ("CC_NEXT", "connect"),
         ("CC_ODD", "a,b")]


async def _run() -> tuple[SimChannel, list[tuple[str, str]], AgiCounters]:
    async def daemon_side(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env = parse_header(await reader.readuntil(b"\n\n"))
        await AgiSession(reader, writer, env, timeout=5).set_variables(PAIRS)
        writer.close()

    server = await asyncio.start_server(daemon_side, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    node, counters, seen = SimNode("node-1"), AgiCounters(), []
    ch = SimChannel("1.1", "PJSIP/trunk-00000001", caller="13900000000", exten="400")
    node.add(ch)
    link = AgiLink(node, ch, counters, host="127.0.0.1", port=port,
                   on_set=lambda n, v: seen.append((n, v)))
    async with server:
        assert await asyncio.wait_for(link.run("secret/flow/main"), 10)
    return ch, seen, counters


def test_the_daemons_variables_reach_the_simulated_channel() -> None:
    ch, seen, counters = asyncio.run(_run())
    assert {k: ch.vars.get(k) for k, _ in PAIRS} == dict(PAIRS)
    assert sorted(seen) == sorted(PAIRS)  # the generator sees CC_NEXT=connect: an offer
    # the plain ones in one MSet, the one with a comma alone
    assert counters.by_command == {"EXEC": 1, "SET VARIABLE": 1}
