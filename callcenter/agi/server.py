"""A small FastAGI server on asyncio streams.

Not panoramisk's: its handler spins forever at 100 % CPU when a client sends part of a header
and closes (see docs/daemon.md). Here a header is read with a timeout and a size cap, decoded
with replacement, and a peer that is not one of the configured Asterisk addresses is refused.

The address check cannot tell Asterisk from any other local process, so the request path
must also start with the install's AGI secret (`CC_AGI = agi://host:port/SECRET` in the
rendered dialplan); a session without it is closed before a single byte is sent."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from callcenter.agi.protocol import MAX_HEADER_BYTES, AgiError, parse_header
from callcenter.agi.session import AgiSession
from callcenter.errors import CallcenterError

__all__ = ["AgiServer", "Handler"]

log = logging.getLogger(__name__)

Handler = Callable[[AgiSession, str, list[str]], Awaitable[None]]


class AgiServer:
    """Accepts FastAGI connections and hands each to `handler(session, path, args)`."""

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 4573,
                 allowed: Iterable[str] = ("127.0.0.1",), header_timeout: float = 5.0,
                 command_timeout: float = 60.0, secret: str = "",
                 clock: Callable[[], float] = time.monotonic, log_every: float = 60.0):
        self.handler = handler
        self.host = host
        self.port = port
        self.allowed = frozenset(allowed)
        self.header_timeout = header_timeout
        self.command_timeout = command_timeout
        self.server: asyncio.Server | None = None
        self.sessions: set[asyncio.Task[None]] = set()
        self.secret = secret
        self.clock = clock
        self.log_every = log_every  # seconds between two refusal warnings for one peer
        self.refused = 0
        self.broken = 0
        self.unauthenticated = 0
        self._last_warned: dict[str, float] = {}
        self._unwarned: dict[str, int] = {}

    async def start(self) -> None:
        try:
            self.server = await asyncio.start_server(self._serve, self.host, self.port,
                                                     limit=MAX_HEADER_BYTES, reuse_address=True)
        except OSError as exc:
            raise CallcenterError(f"cannot listen for FastAGI on {self.host}:{self.port}: "
                                  f"{exc.strerror or exc} — is another callcenter daemon "
                                  "running? Stop it, or change asterisk.agi_port") from None

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
            path = self._authenticated(path, peer[0])
            if path is None:
                return
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


    def _authenticated(self, path: str, host: str) -> str | None:
        """The path after the secret, or None (refused) when it does not start with it."""
        if not self.secret:
            return path
        given, _, rest = path.partition("/")
        if hmac.compare_digest(given.encode(), self.secret.encode()):
            return rest
        self.unauthenticated += 1
        now = self.clock()
        last = self._last_warned.get(host)
        if last is not None and now - last < self.log_every:
            self._unwarned[host] = self._unwarned.get(host, 0) + 1
            return None
        self._last_warned[host] = now
        if len(self._last_warned) > 1024:  # many peers: forget the oldest warnings
            self._last_warned.pop(next(iter(self._last_warned)))
        more = self._unwarned.pop(host, 0)
        log.warning("refused a FastAGI session from %s without the AGI secret (not the "
                    "rendered dialplan's CC_AGI; re-render with 'callcenter render' if "
                    "Asterisk's configuration is old)%s", host,
                    f"; {more} more refused since the last warning" if more else "")
        return None


def _arg_order(key: str) -> int:
    tail = key.removeprefix("arg_")
    return int(tail) if tail.isdigit() else 0
