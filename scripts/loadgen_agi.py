"""The load generator's FastAGI side: each simulated channel connects to the daemon's AGI
port as Asterisk does (the `agi_*` header with the secret path) and answers every command
the way Asterisk answers it (`200 result=...`), without media.

`WAIT FOR DIGIT` ends after its timeout with result=0, or at once with a digit sent to the
channel by AMI `PlayDTMF` with `Receive: yes`, or with -1 when the caller hangs up."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from loadgen_ami import SimChannel, SimNode

__all__ = ["AgiCounters", "AgiLink"]


@dataclass
class AgiCounters:
    sessions: int = 0
    commands: int = 0
    by_command: dict[str, int] = field(default_factory=dict)
    failed: int = 0  # sessions that could not connect or broke


# Asterisk's answers to the commands whose result is a plain 0 (no media here)
_ZERO = {"ANSWER", "SET MUSIC", "EXEC", "VERBOSE", "SET CONTEXT", "SET EXTENSION",
         "SET PRIORITY", "SET CALLERID", "SET AUTOHANGUP", "NOOP", "DATABASE PUT",
         "CHANNEL STATUS", "SPEECH CREATE"}


class AgiLink:
    """One FastAGI session for `ch` at the daemon (`host:port`, request `path`)."""

    def __init__(self, node: SimNode, ch: SimChannel, counters: AgiCounters, *,
                 host: str, port: int, on_set: Callable[[str, str], None] | None = None,
                 dtmf_script: dict[str, str] | None = None) -> None:
        self.node, self.ch, self.counters = node, ch, counters
        self.host, self.port = host, port
        self.on_set = on_set  # called for each variable set (the generator times offers)
        self.dtmf_script = dtmf_script or {}  # GET DATA prompt -> the digits "typed"
        self.hung_up = False
        self._wake: asyncio.Future[str] | None = None
        self._writer: asyncio.StreamWriter | None = None

    # ---- the channel's side: a digit, a hangup -----------------------------------------------
    def dtmf(self, digit: str) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(digit)

    def hangup(self) -> None:
        """The caller hangs up: Asterisk's HANGUP notice, a running wait ends with -1."""
        if self.hung_up:
            return
        self.hung_up = True
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(b"HANGUP\n")
        if self._wake is not None and not self._wake.done():
            self._wake.set_result("")

    # ---- the session ----------------------------------------------------------------------
    def _header(self, path: str, args: list[str]) -> bytes:
        ch = self.ch
        lines = {"network": "yes", "network_script": path,
                 "request": f"agi://{self.host}:{self.port}/{path}",
                 "channel": ch.name, "language": "en", "type": "PJSIP",
                 "uniqueid": ch.uniqueid, "version": "22.0.0", "callerid": ch.caller,
                 "calleridname": "unknown", "callingpres": "0", "callingani2": "0",
                 "callington": "0", "callingtns": "0", "dnid": ch.exten, "rdnis": "unknown",
                 "context": ch.context, "extension": ch.exten, "priority": "1",
                 "enhanced": "0.0", "accountcode": "", "threadid": "140000000000000"}
        text = "".join(f"agi_{k}: {v}\n" for k, v in lines.items())
        text += "".join(f"agi_arg_{n}: {a}\n" for n, a in enumerate(args, 1))
        return (text + "\n").encode()

    async def run(self, path: str, args: list[str] | None = None) -> bool:
        """Run the session until the daemon closes it; False when it could not connect."""
        self.counters.sessions += 1
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            self.counters.failed += 1
            return False
        self._writer = writer
        writer.write(self._header(path, args or []))
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                answer = await self._answer(line.decode("utf-8", "replace").strip())
                if answer:
                    writer.write(answer.encode() + b"\n")
        except (ConnectionError, OSError):
            self.counters.failed += 1
        finally:
            self._writer = None
            writer.close()
        return True

    async def _answer(self, text: str) -> str:
        if not text:
            return ""
        try:
            words = shlex.split(text)
        except ValueError:
            words = text.split()
        name, args = _command(words)
        c = self.counters
        c.commands += 1
        c.by_command[name] = c.by_command.get(name, 0) + 1
        if self.hung_up:
            return "511 Command Not Permitted on a dead channel or intercepted"
        if name == "SET VARIABLE" and len(args) >= 2:
            self._set(args[0], args[1])
            return "200 result=1"
        if name == "EXEC" and len(args) >= 2 and args[0].lower() == "mset":
            # MSet(a=1,b=2): the daemon sends a call's plain variables this way
            for pair in " ".join(args[1:]).split(","):
                self._set(*pair.partition("=")[::2])
            return "200 result=0"
        if name == "GET VARIABLE" and args:
            value = self.ch.vars.get(args[0], self.node.globals.get(args[0]))
            return "200 result=0" if value is None else f"200 result=1 ({value})"
        if name == "WAIT FOR DIGIT":
            return await self._wait(int(args[0]) if args and args[0].lstrip("-").isdigit()
                                    else 0)
        if name == "STREAM FILE" or name == "CONTROL STREAM FILE":
            return "200 result=0 endpos=8000"
        if name == "GET DATA":
            return f"200 result={self.dtmf_script.get(args[0] if args else '', '')}"
        if name == "HANGUP":
            self.hung_up = True
            return "200 result=1"
        if name in _ZERO:
            if name == "SET MUSIC" and args:
                self.node.emit("MusicOnHoldStart" if args[0] == "on" else "MusicOnHoldStop",
                               self.ch.fields())
            return "200 result=0"
        return "200 result=0"

    def _set(self, var: str, value: str) -> None:
        self.node.set_var(self.ch, var, value)
        if self.on_set:
            self.on_set(var, value)

    async def _wait(self, timeout_ms: int) -> str:
        self._wake = asyncio.get_running_loop().create_future()
        try:
            digit = await asyncio.wait_for(asyncio.shield(self._wake),
                                           None if timeout_ms < 0 else timeout_ms / 1000)
        except TimeoutError:
            digit = ""
            if self.hung_up:
                return "200 result=-1"
            return "200 result=0"
        finally:
            self._wake = None
        if self.hung_up:
            return "200 result=-1"
        return f"200 result={ord(digit) if digit else 0}"


# Asterisk's AGI commands of more than one word (the rest are one word)
_NAMES = {"SET VARIABLE", "GET VARIABLE", "GET FULL VARIABLE", "WAIT FOR DIGIT",
          "STREAM FILE", "CONTROL STREAM FILE", "GET DATA", "GET OPTION", "SET MUSIC",
          "SET CONTEXT", "SET EXTENSION", "SET PRIORITY", "SET CALLERID", "SET AUTOHANGUP",
          "DATABASE PUT", "DATABASE GET", "DATABASE DEL", "CHANNEL STATUS", "SAY DIGITS",
          "SAY NUMBER", "SAY ALPHA", "RECEIVE CHAR", "SPEECH CREATE", "RECORD FILE"}


def _command(words: list[str]) -> tuple[str, list[str]]:
    """The command's name (its longest known form) and its arguments."""
    for n in (3, 2):
        name = " ".join(w.upper() for w in words[:n])
        if len(words) >= n and name in _NAMES:
            return name, words[n:]
    return (words[0].upper(), words[1:]) if words else ("", [])
