"""Asterisk played by a script, for tests without Asterisk (issue 11): an event loop whose
clock is virtual, a FastAGI channel whose every command is answered by a script
(`ScriptedAgi`, over a REAL `AgiSession`), and an AMI that answers actions with scripted
replies and delivers events as real panoramisk `Message`s (`FakeAmi`) — in the manner of
panoramisk's own `testing.py`, which replays a recorded AMI conversation."""

from __future__ import annotations

import asyncio
import fnmatch
import selectors
import shlex
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from panoramisk.message import Message

from callcenter.agi import AgiSession
from callcenter.agi.protocol import parse_header

__all__ = ["GUARD_SECONDS", "AgiCommand", "FakeAmi", "ScriptedAgi", "VirtualClockLoop",
           "settle"]

GUARD_SECONDS = 6 * 3600.0  # virtual seconds a test may run before it fails (a hang)


# ---- a loop whose clock only moves when there is nothing else to do ----------------------
class _VirtualSelector(selectors.DefaultSelector):
    """Polls real I/O without blocking; when nothing is ready, jumps the loop's clock to its
    next timer instead of sleeping."""

    def __init__(self, loop: VirtualClockLoop):
        super().__init__()
        self.loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if self.loop.idle_waiters:  # all else waits for a timer: first wake who asked
            for waiter in self.loop.idle_waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self.loop.idle_waiters.clear()
            return []
        if timeout is None:
            return super().select(None)
        self.loop.virtual += timeout
        return []


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        # from 0, not from an epoch second: at 1.7e9 a float cannot hold the loop's 1 ns
        # clock resolution, and a timer due "now" would never be seen as due
        self.virtual = 0.0
        self.idle_waiters: list[asyncio.Future[None]] = []
        super().__init__(_VirtualSelector(self))

    def time(self) -> float:
        return self.virtual


# ---- a scripted Asterisk on one FastAGI connection -------------------------------------
class AgiCommand(NamedTuple):
    name: str
    args: tuple[str, ...]


def _parse_command(line: str) -> AgiCommand:
    """`SET VARIABLE "CC_NEXT" "connect"` → ("SET VARIABLE", ("CC_NEXT", "connect"))."""
    name, quote, rest = line.partition('"')
    return AgiCommand(name.strip(), tuple(shlex.split(quote + rest)))


def _mset_pairs(data: str) -> list[tuple[str, str]]:
    """MSet's `A=1,B=2` (the session sends it only plain values: no comma, quote, escape)."""
    return [(name, value) for name, _, value in (p.partition("=") for p in data.split(","))]


class _Wire(asyncio.Transport):
    """The daemon's side of the connection: what it writes goes to the script."""

    def __init__(self, sink: Callable[[bytes], None]):
        super().__init__()
        self.sink = sink
        self.closing = False
        self.protocol: asyncio.BaseProtocol | None = None
        self.loop = asyncio.get_running_loop()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self.closing:
            self.sink(bytes(data))

    def is_closing(self) -> bool:
        # a connection outlives no loop: StreamWriter.__del__ then has nothing to warn about
        return self.closing or self.loop.is_closed()

    def close(self) -> None:
        # also reached from StreamWriter.__del__, after the test's loop may have closed
        if not self.closing and self.protocol is not None and not self.loop.is_closed():
            self.loop.call_soon(self.protocol.connection_lost, None)
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 4573)}.get(name, default)


class ScriptedAgi:
    """One FastAGI session of channel `uniqueid`, Asterisk's part played by a script.

    `variables` are the channel's variables (GET/SET VARIABLE), shared with the channel's
    later sessions (`next_session`). `sent` is the transcript of commands received."""

    def __init__(self, uniqueid: str, *, variables: dict[str, str] | None = None,
                 callerid: str = "", wait_seconds: float | None = None,
                 family: list[ScriptedAgi] | None = None):
        self.uniqueid = uniqueid
        # this channel's sessions, closed together (an unclosed one warns when collected)
        self.family = family if family is not None else []
        self.family.append(self)
        self.callerid = callerid
        self.variables = variables if variables is not None else {}
        # how long a WAIT FOR DIGIT takes, virtually; None: its own timeout, as in Asterisk
        self.wait_seconds = wait_seconds
        self.sent: list[AgiCommand] = []
        self.digits: deque[str] = deque()
        self.hung_up = False
        self._buffer = b""
        self._pending_wait: asyncio.TimerHandle | None = None
        self._changed = asyncio.Event()
        self.reader = asyncio.StreamReader()
        self._wire = _Wire(self._received)
        protocol = asyncio.StreamReaderProtocol(self.reader)
        protocol.connection_made(self._wire)
        self._wire.protocol = protocol
        self.writer = asyncio.StreamWriter(self._wire, protocol, self.reader,
                                           asyncio.get_running_loop())
        self.session: AgiSession | None = None
        self.replies: dict[str, str] = {}  # a command's scripted answer, instead of the usual

    async def open(self) -> AgiSession:
        """Send the AGI environment and read it back as the FastAGI server does."""
        env = {"network": "yes", "network_script": "flow/main", "channel":
               f"PJSIP/trunk-{self.uniqueid.replace('.', '')}", "uniqueid": self.uniqueid,
               "callerid": self.callerid}
        self.reader.feed_data("".join(f"agi_{k}: {v}\n" for k, v in env.items()).encode()
                              + b"\n")
        raw = await self.reader.readuntil(b"\n\n")
        self.session = AgiSession(self.reader, self.writer, parse_header(raw), timeout=30)
        return self.session

    async def next_session(self) -> ScriptedAgi:
        """The dialplan's next AGI() on the same channel (e.g. `offer/NOANSWER`)."""
        agi = ScriptedAgi(self.uniqueid, variables=self.variables, callerid=self.callerid,
                          wait_seconds=self.wait_seconds, family=self.family)
        await agi.open()
        return agi

    # ---- what the caller does ----------------------------------------------------------
    def press(self, digit: str) -> None:
        """The caller presses `digit`: it ends the WAIT FOR DIGIT under way, or the next."""
        if self._pending_wait is not None:
            self._pending_wait.cancel()
            self._pending_wait = None
            self._reply(f"200 result={ord(digit)}")
        else:
            self.digits.append(digit)

    def receive(self, digit: str) -> None:
        """A digit queued on the channel from outside (AMI PlayDTMF Receive): it ends the
        WAIT FOR DIGIT under way; between commands Asterisk's AGI loop reads and drops it."""
        if self._pending_wait is not None:
            self._pending_wait.cancel()
            self._pending_wait = None
            self._reply(f"200 result={ord(digit)}")

    def hang_up(self, *, eof: bool = False) -> None:
        """The caller hangs up: Asterisk's HANGUP notice, then -1 or 511 answers (or, with
        `eof`, the connection simply closes)."""
        self.hung_up = True
        if eof:
            self.reader.feed_eof()
            return
        self.reader.feed_data(b"HANGUP\n")
        if self._pending_wait is not None:
            self._pending_wait.cancel()
            self._pending_wait = None
            self._reply("200 result=-1")

    # ---- the transcript ----------------------------------------------------------------
    def set_variables(self) -> list[tuple[str, str]]:
        """Every variable set, in order: by SET VARIABLE or in an EXEC MSet."""
        out: list[tuple[str, str]] = []
        for c in self.sent:
            if c.name == "SET VARIABLE":
                out.append((c.args[0], c.args[1]))
            elif c.name == "EXEC" and c.args[:1] == ("MSet",):
                out.extend(_mset_pairs(c.args[1]))
        return out

    def count(self, name: str) -> int:
        return sum(1 for c in self.sent if c.name == name)

    async def seen(self, name: str, *args: str) -> AgiCommand:
        """Wait until a command `name` whose arguments start with `args` was received."""
        async with asyncio.timeout(GUARD_SECONDS):
            while True:
                for c in self.sent:
                    if c.name == name and c.args[:len(args)] == args:
                        return c
                self._changed.clear()
                await self._changed.wait()

    # ---- the script ----------------------------------------------------------------------
    def _received(self, data: bytes) -> None:
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            self._answer(_parse_command(line.decode("utf-8")))

    def _answer(self, cmd: AgiCommand) -> None:
        self.sent.append(cmd)
        self._changed.set()
        if self.hung_up:
            self._reply("511 result=-1 Command Not Permitted on a dead channel")
        elif cmd.name in self.replies:
            self._reply(self.replies[cmd.name])
        elif cmd.name == "WAIT FOR DIGIT":
            if self.digits:
                self._reply(f"200 result={ord(self.digits.popleft())}")
            else:
                ms = int(cmd.args[0]) if cmd.args else 0
                seconds = self.wait_seconds if self.wait_seconds is not None else ms / 1000
                if seconds >= 0:  # -1: until a digit or a hang-up
                    self._pending_wait = asyncio.get_running_loop().call_later(
                        seconds, self._waited)
                else:
                    self._pending_wait = asyncio.get_running_loop().call_later(
                        GUARD_SECONDS, self._waited)
        elif cmd.name == "GET VARIABLE":
            value = self.variables.get(cmd.args[0])
            self._reply("200 result=0" if value is None else f"200 result=1 ({value})")
        elif cmd.name == "SET VARIABLE":
            self.variables[cmd.args[0]] = cmd.args[1]
            self._reply("200 result=1")
        elif cmd.name == "EXEC" and cmd.args[:1] == ("MSet",):
            self.variables.update(_mset_pairs(cmd.args[1]))
            self._reply("200 result=0")
        elif cmd.name in ("STREAM FILE", "RECORD FILE"):
            self._reply("200 result=0 endpos=0")
        elif cmd.name in ("SET MUSIC", "SAY NUMBER", "VERBOSE", "ANSWER"):
            self._reply("200 result=0")
        else:
            self._reply("510 Invalid or unknown command")

    def _waited(self) -> None:
        self._pending_wait = None
        self._reply("200 result=0")

    def _reply(self, line: str) -> None:
        # on the next loop turn, as from a socket: the daemon never gets an answer inline
        asyncio.get_running_loop().call_soon(self._feed, line)

    def _feed(self, line: str) -> None:
        if not self.reader.at_eof():
            self.reader.feed_data(line.encode() + b"\n")

    def close(self) -> None:
        """Close every session of this channel."""
        for agi in self.family:
            agi._wire.close()
            if agi._pending_wait is not None:
                agi._pending_wait.cancel()


# ---- a scripted AMI ----------------------------------------------------------------------
Reply = dict[str, str] | Callable[[dict[str, str]], list[Message]]


class FakeAmi:
    """What QueueService and LiveChannels use of AmiClient: `on_event`, `on_ready`, `action`,
    `connected`. `script(name, reply)` sets the answer to an action; `emit(headers)` delivers
    an event. `PlayDTMF` with `Receive: yes` reaches the sessions of a channel in `channels`
    (its name → the ScriptedAgi family), as a digit the caller sent."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.connected.set()
        self.channels: dict[str, list[ScriptedAgi]] = {}
        self.handlers: list[tuple[str, Callable[[Message], None]]] = []
        self.ready: list[Callable[[], Awaitable[None]]] = []
        self.actions: list[dict[str, str]] = []
        self.writes: list[list[dict[str, str]]] = []
        self.replies: dict[str, deque[Reply]] = {}

    def on_event(self, pattern: str, handler: Callable[[Message], None]) -> None:
        self.handlers.append((pattern, handler))

    def on_ready(self, handler: Callable[[], Awaitable[None]]) -> None:
        self.ready.append(handler)

    def script(self, action: str, *replies: Reply) -> None:
        self.replies.setdefault(action, deque()).extend(replies)

    def send_quiet(self, actions: list[dict[str, str]]) -> bool:
        """AmiClient.send_quiet: one write of several actions (kept in `writes`)."""
        if not self.connected.is_set():
            return False
        self.writes.append([dict(a) for a in actions])
        for action in actions:
            self.actions.append(dict(action))
            # as from a socket: the effect comes on a later loop turn
            asyncio.get_running_loop().call_soon(self._effect, action)
        return True

    def _effect(self, action: dict[str, str]) -> None:
        if action["Action"] == "PlayDTMF" and action.get("Receive") == "yes":
            for agi in self.channels.get(action.get("Channel", ""), []):
                agi.receive(action["Digit"])

    async def action(self, action: dict[str, str], *, as_list: bool | None = None,
                     timeout: float | None = None) -> Message | list[Message]:
        self.actions.append(dict(action))
        await asyncio.sleep(0)  # an action is a round trip: others run meanwhile
        self._effect(action)
        scripted = self.replies.get(action["Action"])
        if not scripted:
            return Message({"Response": "Success", "ActionID": action.get("ActionID", "")})
        reply = scripted.popleft()
        if callable(reply):
            return reply(action)
        return Message({"ActionID": action.get("ActionID", ""), **reply})

    def emit(self, headers: dict[str, str]) -> Message:
        """One AMI event to every handler registered for it, in registration order."""
        msg = Message(headers)
        for pattern, handler in self.handlers:
            if fnmatch.fnmatchcase(headers.get("Event", ""), pattern):
                handler(msg)
        return msg


async def settle() -> None:
    """Return once everything else waits for a timer (a WAIT FOR DIGIT, a wrap-up…): all
    that could run has run, and the virtual clock has not moved."""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualClockLoop), "settle() runs on the acd fixture's loop"
    waiter = loop.create_future()
    loop.idle_waiters.append(waiter)
    await waiter
