"""Hostile or broken FastAGI peers: the daemon's loop keeps running, strangers get nothing."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import yaml

from callcenter.agi import AgiHangup, AgiServer, AgiSession

SECRET = "s3cretAGIsecretAGIsecretAGI12345"


def header(script: str) -> bytes:
    return (f"agi_network: yes\nagi_network_script: {script}\n"
            "agi_channel: PJSIP/trunk-00000001\nagi_uniqueid: 1.1\n\n").encode()


class Loop:
    """A ticker coroutine: proves the event loop was never blocked."""

    def __init__(self) -> None:
        self.ticks = 0

    async def run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0.01)


async def serve(handler, **kw) -> AgiServer:
    server = AgiServer(handler, host="127.0.0.1", port=0, header_timeout=0.5,
                       command_timeout=2.0, **kw)
    await server.start()
    assert server.server is not None
    server.port = server.server.sockets[0].getsockname()[1]
    return server


@pytest.mark.security
@pytest.mark.parametrize("answer", [b"520-Invalid command syntax.\n",
                                    b"520-Usage: GET DATA\nmore usage\n",
                                    b"HANGUP\n"])
def test_a_peer_closing_mid_answer_ends_the_session(answer: bytes) -> None:
    """'520-' then EOF used to spin the usage-text loop forever at 98 % CPU."""
    outcome: list[str] = []

    async def handler(session: AgiSession, path: str, args: list[str]) -> None:
        try:
            await session.command("GET DATA", "beep", 1000, 1)
            outcome.append("answered")
        except AgiHangup:
            outcome.append("hangup")

    async def go() -> None:
        server = await serve(handler)
        loop, clock = Loop(), asyncio.get_running_loop().time
        ticker = asyncio.create_task(loop.run())
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(header("flow/main"))
        await reader.readline()  # the daemon's command
        started = clock()
        writer.write(answer)
        await writer.drain()
        writer.close()
        while not outcome and clock() - started < 3:
            await asyncio.sleep(0.02)
        elapsed = clock() - started
        before = loop.ticks
        await asyncio.sleep(0.2)
        assert loop.ticks - before >= 5, "the event loop is starved"
        assert elapsed < 1.0
        assert not server.sessions
        ticker.cancel()
        await server.stop()

    asyncio.run(go())
    assert outcome == ["hangup"]


@pytest.mark.security
def test_a_partial_header_then_close_is_dropped_promptly() -> None:
    async def handler(session: AgiSession, path: str, args: list[str]) -> None:
        raise AssertionError("no session for half a header")

    async def go() -> None:
        server = await serve(handler)
        loop, clock = Loop(), asyncio.get_running_loop().time
        ticker = asyncio.create_task(loop.run())
        started = clock()
        for _ in range(50):
            _, w = await asyncio.open_connection("127.0.0.1", server.port)
            w.write(b"agi_network: yes\nagi_network_scr")
            await w.drain()
            w.close()
        while server.broken < 50 and clock() - started < 3:
            await asyncio.sleep(0.02)
        assert server.broken == 50
        assert clock() - started < 1.5
        before = loop.ticks
        await asyncio.sleep(0.2)
        assert loop.ticks - before >= 5, "the event loop is starved"
        ticker.cancel()
        await server.stop()

    asyncio.run(go())


@pytest.mark.security
def test_a_silent_peer_times_out_and_others_are_served() -> None:
    """A peer that stops answering a command costs its session only, within the timeout."""
    served: list[str] = []

    async def handler(session: AgiSession, path: str, args: list[str]) -> None:
        try:
            await session.command("ANSWER", timeout=0.3)
            served.append("ok")
        except Exception as exc:
            served.append(type(exc).__name__)

    async def go() -> None:
        server = await serve(handler)
        r, w = await asyncio.open_connection("127.0.0.1", server.port)
        w.write(header("flow/main"))
        await r.readline()  # and then never answer
        r2, w2 = await asyncio.open_connection("127.0.0.1", server.port)
        w2.write(header("flow/main"))
        assert (await asyncio.wait_for(r2.readline(), 2)).startswith(b"ANSWER")
        w2.write(b"200 result=0\n")
        await asyncio.sleep(0.6)
        w.close()
        w2.close()
        await server.stop()

    asyncio.run(go())
    assert sorted(served) == ["AgiError", "ok"]


@pytest.mark.security
def test_sessions_without_the_secret_get_nothing(caplog: pytest.LogCaptureFixture) -> None:
    paths: list[str] = []
    now = [1000.0]

    async def handler(session: AgiSession, path: str, args: list[str]) -> None:
        paths.append(path)
        await session.command("ANSWER")

    async def attempt(server: AgiServer, script: str) -> bytes:
        r, w = await asyncio.open_connection("127.0.0.1", server.port)
        w.write(header(script))
        await w.drain()
        try:
            line = await asyncio.wait_for(r.readline(), 2)
            if line:
                w.write(b"200 result=0\n")
                await w.drain()
            return line
        finally:
            w.close()

    async def go() -> list[bytes]:
        server = await serve(handler, secret=SECRET, clock=lambda: now[0], log_every=60)
        forged = []
        for script in ("flow/main", "feature/login", f"{SECRET[:-1]}x/flow/main",
                       f"{SECRET}x/flow/main", "/flow/main", ""):
            forged.append(await attempt(server, script))
        now[0] += 61  # the next refusal after the rate-limit window is logged again
        forged.append(await attempt(server, "feature/login"))
        good = await attempt(server, f"{SECRET}/feature/login")
        assert server.unauthenticated == 7
        await server.stop()
        return [*forged, good]

    with caplog.at_level(logging.WARNING, logger="callcenter.agi.server"):
        replies = asyncio.run(go())
    assert replies[:-1] == [b""] * 7  # not even a command: nothing to probe
    assert replies[-1].startswith(b"ANSWER")
    assert paths == ["feature/login"]  # the secret is not part of the route
    warnings = [m for m in (r.getMessage() for r in caplog.records)
                if "without the AGI secret" in m]
    assert len(warnings) == 2  # once per peer per minute, not once per attempt
    assert "5 more refused" in warnings[1]
    assert SECRET not in caplog.text


def test_each_install_gets_its_own_agi_secret_in_the_dialplan(tmp_path: Path) -> None:
    from callcenter.render import render_files
    from callcenter.site import load_site
    from tests.fix_asterisk import make_site

    one = load_site(make_site(tmp_path / "one"), env={})
    two = load_site(make_site(tmp_path / "two"), env={})
    assert len(one.secrets.agi_secret) == 32 and one.secrets.agi_secret.isalnum()
    assert one.secrets.agi_secret != two.secrets.agi_secret
    text = render_files(one, tmp_path / "out")["extensions.conf"]
    assert f"CC_AGI = agi://127.0.0.1:14573/{one.secrets.agi_secret}\n" in text
    # a secrets file from before the AGI secret still gets a stable, unguessable one
    secrets = tmp_path / "one" / "secrets.yaml"
    data = yaml.safe_load(secrets.read_text())
    del data["agi_secret"]
    secrets.write_text(yaml.safe_dump(data))
    old = load_site(tmp_path / "one" / "site.yaml", env={})
    assert old.secrets.agi_secret == load_site(tmp_path / "one" / "site.yaml",
                                               env={}).secrets.agi_secret
    assert len(old.secrets.agi_secret) == 32 and old.secrets.agi_secret not in secrets.read_text()
    assert load_site(tmp_path / "one" / "site.yaml",
                     env={"CALLCENTER_AGI_SECRET": "ov3rride"}).secrets.agi_secret == "ov3rride"


def test_a_taken_agi_port_is_a_clear_error_not_a_traceback() -> None:
    import socket

    from callcenter.agi.server import AgiServer
    from callcenter.errors import CallcenterError

    async def go() -> str:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]

            async def handler(*_: object) -> None:
                return None

            server = AgiServer(handler, host="127.0.0.1", port=port)
            try:
                await server.start()
            except CallcenterError as exc:
                return str(exc)
            await server.stop()
            return ""

    assert "cannot listen for FastAGI on 127.0.0.1" in asyncio.run(go())
