"""One FastAGI session: send commands, read responses, notice the caller hanging up."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable

from callcenter.agi.protocol import AgiError, AgiResponse, parse_response, quote
from callcenter.errors import CallerHangup

__all__ = ["AgiHangup", "AgiSession"]

log = logging.getLogger(__name__)

# what MSet passes through unchanged: no separator, quote, bracket, escape or `$` its
# argument parser reads, no space at either end (values a caller chose seldom qualify)
_MSET_VALUE = re.compile(r"[\w.:+@/#*-](?:[\w .:+@/#*-]*[\w.:+@/#*-])?")
_MSET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class AgiHangup(CallerHangup):
    """The channel hung up (the caller left) while the daemon was still talking to it."""


class AgiSession:
    """Commands over one FastAGI connection. `env` holds the request's agi_* variables."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 env: dict[str, str], *, timeout: float = 30.0):
        self.reader = reader
        self.writer = writer
        self.env = env
        self.timeout = timeout
        self.hung_up = False

    @property
    def channel(self) -> str:
        return self.env.get("channel", "")

    @property
    def uniqueid(self) -> str:
        return self.env.get("uniqueid", "")

    async def command(self, name: str, *args: str | int, timeout: float | None = None
                      ) -> AgiResponse:
        """Send `NAME "arg" "arg"…` and return Asterisk's answer; AgiHangup if the channel is
        gone. Every argument is quoted (see protocol.quote)."""
        if self.hung_up:
            raise AgiHangup(f"{self.channel} hung up")
        line = " ".join([name, *(quote(a) for a in args)]) + "\n"
        self.writer.write(line.encode("utf-8"))
        try:
            await self.writer.drain()
            # one deadline for the whole answer, multi-line ones included
            async with asyncio.timeout(timeout if timeout is not None else self.timeout):
                return await self._answer(name)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            self.hung_up = True
            raise AgiHangup(f"{self.channel}: AGI connection lost ({exc})") from exc
        except ValueError as exc:  # readline past the stream limit
            raise AgiError(f"Asterisk's answer to {name} is too long") from exc
        except TimeoutError as exc:
            raise AgiError(f"Asterisk did not answer {name} within "
                           f"{timeout or self.timeout:g} s") from exc

    async def _answer(self, name: str) -> AgiResponse:
        while True:
            text = await self._line()
            if text == "HANGUP":  # AGISIGHUP notice; the real answer follows
                self.hung_up = True
                continue
            resp = parse_response(text)
            if resp.code == 520:  # usage error: a multi-line answer ends with 520 End
                # every line is read with EOF and timeout handling: a peer that sends
                # "520-" and closes once made this loop spin forever
                for _ in range(_MAX_USAGE_LINES):
                    if (await self._line()).startswith("520"):
                        break
                raise AgiError(f"Asterisk refused {name}: usage error")
            if resp.code == 511:
                self.hung_up = True
                raise AgiHangup(f"{self.channel} hung up")
            if resp.code != 200:
                raise AgiError(f"Asterisk answered {name} with {text!r}")
            if resp.result == "-1" and name in _HANGUP_ON_MINUS_ONE:
                self.hung_up = True
                raise AgiHangup(f"{self.channel} hung up during {name}")
            return resp

    async def _line(self) -> str:
        """One response line; AgiHangup at EOF (the peer closed)."""
        raw = await self.reader.readline()
        if not raw:
            self.hung_up = True
            raise AgiHangup(f"{self.channel}: Asterisk closed the AGI connection")
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, value)

    async def set_variables(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Set several channel variables, the plain ones in one round trip (EXEC MSet, in
        order, last), any other one SET VARIABLE each (exact whatever it holds)."""
        plain: list[tuple[str, str]] = []
        for name, value in pairs:
            if _MSET_NAME.fullmatch(name) and _MSET_VALUE.fullmatch(value):
                plain.append((name, value))
            else:
                await self.set_variable(name, value)
        if len(plain) > 1:
            resp = await self.command("EXEC", "MSet", ",".join(f"{n}={v}" for n, v in plain))
            if resp.result != "-2":  # -2: no MSet in this Asterisk
                return
        for name, value in plain:
            await self.set_variable(name, value)

    async def get_variable(self, name: str) -> str | None:
        resp = await self.command("GET VARIABLE", name)
        return resp.data if resp.result == "1" else None

    async def verbose(self, message: str, level: int = 3) -> None:
        await self.command("VERBOSE", message, level)


# a usage answer longer than this is not Asterisk's; stop reading it
_MAX_USAGE_LINES = 200

# commands whose result -1 means the channel hung up
_HANGUP_ON_MINUS_ONE = frozenset({"STREAM FILE", "GET DATA", "WAIT FOR DIGIT", "RECORD FILE",
                                  "SAY DIGITS", "SAY NUMBER", "SAY TIME", "CONTROL STREAM FILE",
                                  "GET OPTION", "ANSWER", "SAY ALPHA", "SAY DATETIME"})
