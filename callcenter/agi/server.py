"""A small FastAGI server on asyncio streams.

Not panoramisk's: its handler spins forever at 100 % CPU when a client sends part of a header
and closes (see docs/daemon.md). Here a header is read with a timeout and a size cap, decoded
with replacement, and a peer that is not one of the configured Asterisk addresses is refused."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from callcenter.agi.protocol import MAX_HEADER_BYTES, AgiError, parse_header
from callcenter.agi.session import AgiSession

__all__ = ["AgiServer", "Handler"]

log = logging.getLogger(__name__)

Handler = Callable[[AgiSession, str, list[str]], Awaitable[None]]


class AgiServer:
    """Accepts FastAGI connections and hands each to `handler(session, path, args)`."""

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 4573,
                 allowed: Iterable[str] = ("127.0.0.1",), header_timeout: float = 5.0,
                 command_timeout: float = 60.0):
        self.handler = handler
        self.host = host
        self.port = port
        self.allowed = frozenset(allowed)
        self.header_timeout = header_timeout
        self.command_timeout = command_timeout
        self.server: asyncio.Server | None = None
        self.sessions: set[asyncio.Task[None]] = set()
        self.refused = 0
        self.broken = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, self.host, self.port,
                                                 limit=MAX_HEADER_BYTES, reuse_address=True)

    async def stop(self, grace: float = 2.0) -> None:
        """Stop listening; give running sessions `grace` seconds, then cut them (their calls
        continue in Asterisk's dialplan after the AGI step)."""
        if self.server:
            self.server.close()
            await self.server.wait_closed()
        if self.sessions:
            _, pending = await asyncio.wait(self.sessions, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.sessions.add(task)
        peer = writer.get_extra_info("peername")
        try:
            if not peer or peer[0] not in self.allowed:
                self.refused += 1
                log.warning("refused FastAGI connection from %s (not an Asterisk address "
                            "listed under asterisk.addresses)", peer)
                return
            try:
                raw = await asyncio.wait_for(reader.readuntil(b"\n\n"), self.header_timeout)
                env = parse_header(raw)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                    AgiError, ConnectionError) as exc:
                self.broken += 1
                log.warning("dropped a FastAGI connection from %s with a broken header: %s",
                            peer, type(exc).__name__)
                return
            path = urlsplit("agi://asterisk/" + env.get("network_script", "")).path.strip("/")
            args = [env[k] for k in sorted(env, key=_arg_order) if k.startswith("arg_")]
            session = AgiSession(reader, writer, env, timeout=self.command_timeout)
            await self.handler(session, path, args)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("FastAGI session failed")
        finally:
            self.sessions.discard(task)
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()


def _arg_order(key: str) -> int:
    tail = key.removeprefix("arg_")
    return int(tail) if tail.isdigit() else 0
