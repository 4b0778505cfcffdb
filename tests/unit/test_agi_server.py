"""Our FastAGI server against misbehaving clients: early disconnects, floods, strangers."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from callcenter.agi import AgiServer, AgiSession, quote
from callcenter.agi.protocol import AgiError, parse_header, parse_response

HEADER = (b"agi_network: yes\nagi_network_script: flow/main\nagi_request: agi://x/flow/main\n"
          b"agi_channel: PJSIP/trunk-00000001\nagi_uniqueid: 1.1\n"
          b"agi_callerid: 13800138000\nagi_calleridname: \xff\xfe bad utf8\n"
          b"agi_arg_1: 4008001234\n\n")


def test_quote_keeps_every_argument_one_argument() -> None:
    assert quote('say "hi"') == '"say \\"hi\\""'
    assert quote("a\nEXEC System rm") == '"aEXEC System rm"'
    assert quote("back\\slash") == '"back\\\\slash"'
    assert quote("${SHELL(id)}") == '"${SHELL(id)}"'  # AGI arguments are not expanded


def test_parse_header_survives_bad_utf8() -> None:
    env = parse_header(HEADER)
    assert env["channel"] == "PJSIP/trunk-00000001"
    assert "bad utf8" in env["calleridname"]
    with pytest.raises(AgiError):
        parse_header(b"GET / HTTP/1.0\n\n")


def test_parse_response() -> None:
    r = parse_response("200 result=1 (timeout) endpos=8000")
    assert (r.code, r.result, r.data, r.extra) == (200, "1", "timeout", "endpos=8000")
    assert parse_response("200 result=-1").value == -1
    assert parse_response("200 result=0123#").result == "0123#"
    with pytest.raises(AgiError):
        parse_response("garbage")


async def _serve(handler, **kw) -> AgiServer:
    server = AgiServer(handler, host="127.0.0.1", port=0, header_timeout=0.5, **kw)
    await server.start()
    assert server.server is not None
    server.port = server.server.sockets[0].getsockname()[1]
    return server


def test_early_disconnect_does_not_freeze_the_loop() -> None:
    """A client sending half a header and closing must not block other coroutines
    (panoramisk's FastAGI server spins at 100 % CPU here)."""
    calls: list[str] = []

    async def handler(session: AgiSession, path: str, args: list[str]) -> None:
        calls.append(path)

    async def go() -> None:
        server = await _serve(handler)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        t = asyncio.create_task(ticker())
        for _ in range(20):
            _, w = await asyncio.open_connection("127.0.0.1", server.port)
            w.write(b"agi_network: yes\nagi_chan")
            await w.drain()
            w.close()
        # a silent client that never sends anything is cut after the header timeout
        r2, w2 = await asyncio.open_connection("127.0.0.1", server.port)
        start = time.monotonic()
        assert await asyncio.wait_for(r2.read(), 3) == b""
        assert time.monotonic() - start < 2
        w2.close()
        # an oversized header is refused, not buffered forever
        r3, w3 = await asyncio.open_connection("127.0.0.1", server.port)
        w3.write(b"agi_x: " + b"a" * 70000)
        try:
            await w3.drain()
            assert await asyncio.wait_for(r3.read(), 3) == b""
        except ConnectionResetError:
            pass
        w3.close()
        # and a well-formed request still gets served
        _, w4 = await asyncio.open_connection("127.0.0.1", server.port)
        w4.write(HEADER)
        await w4.drain()
        await asyncio.sleep(0.2)
        w4.close()
        t.cancel()
        await server.stop()
        assert ticks > 30
        assert calls == ["flow/main"]
        assert server.broken >= 21

    asyncio.run(go())


def test_stranger_is_refused() -> None:
    async def handler(session: AgiSession, path: str, args: list[str]) -> None:
        raise AssertionError("must not be called")

    async def go() -> None:
        server = await _serve(handler, allowed=("192.0.2.1",))
        r, w = await asyncio.open_connection("127.0.0.1", server.port)
        w.write(HEADER)
        await w.drain()
        # closed with our header unread, the kernel may reset: that is also a refusal
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(r.read(), 3) == b""
        await server.stop()
        assert server.refused == 1

    asyncio.run(go())


def test_session_commands_hangup_and_args() -> None:
    seen: dict[str, object] = {}

    async def handler(session: AgiSession, path: str, args: list[str]) -> None:
        seen["args"] = args
        seen["var"] = await session.get_variable("CC_X")
        try:
            await session.command("STREAM FILE", "welcome", "")
        except Exception as exc:
            seen["exc"] = type(exc).__name__

    async def go() -> None:
        server = await _serve(handler)
        r, w = await asyncio.open_connection("127.0.0.1", server.port)
        w.write(HEADER)
        await w.drain()
        line = await r.readline()
        assert line == b'GET VARIABLE "CC_X"\n'
        w.write(b"200 result=1 (hello world)\n")
        await w.drain()
        line = await r.readline()
        assert line == b'STREAM FILE "welcome" ""\n'
        w.write(b"HANGUP\n200 result=-1 endpos=0\n")
        await w.drain()
        await asyncio.sleep(0.2)
        w.close()
        await server.stop()

    asyncio.run(go())
    assert seen == {"args": ["4008001234"], "var": "hello world", "exc": "AgiHangup"}
