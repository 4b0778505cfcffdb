"""The load generator's Asterisk manager: an asyncio AMI *server* that plays one Asterisk
node without media (scripts/bench_scale.py drives it; docs/scale.md).

It logs the daemon in, answers the actions the daemon sends (Setvar, Getvar, Hangup,
Status, CoreShowChannels, DBGet/DBPut, UserEvent, Originate, Redirect, PlayDTMF, Ping…)
and sends the events a real Asterisk would for the simulated calls (`SimNode.emit`):
what reaches the daemon is decided by the read classes of the rendered manager.conf, so
the daemon parses as many events per call as it would from a real node."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AmiServer", "EventFilters", "SimChannel", "SimNode", "event_class"]

log = logging.getLogger("loadgen.ami")

EOL = "\r\n"

# each event's class (Asterisk's manager privileges); `dialplan` ones are the many
_CLASSES = {"Newexten": "dialplan", "VarSet": "dialplan", "ContactStatus": "system",
            "UserEvent": "user", "FullyBooted": "system"}


def event_class(name: str) -> str:
    return _CLASSES.get(name, "call")


@dataclass
class SimChannel:
    """One simulated channel: its name, variables, and the hooks its call runs on."""

    uniqueid: str
    name: str
    caller: str = ""
    exten: str = ""
    context: str = ""
    state: str = "Ring"
    linkedid: str = ""
    vars: dict[str, str] = field(default_factory=dict)
    # set by the call: a digit sent with PlayDTMF Receive, a hangup or redirect by AMI
    on_dtmf: Callable[[str], None] | None = None
    on_hangup: Callable[[], None] | None = None
    on_redirect: Callable[[str, str], None] | None = None

    def fields(self) -> dict[str, str]:
        return {"Channel": self.name, "ChannelState": "6" if self.state == "Up" else "4",
                "ChannelStateDesc": self.state, "CallerIDNum": self.caller,
                "CallerIDName": "", "ConnectedLineNum": "", "ConnectedLineName": "",
                "Language": "en", "AccountCode": "", "Context": self.context,
                "Exten": self.exten, "Priority": "1", "Uniqueid": self.uniqueid,
                "Linkedid": self.linkedid or self.uniqueid}


class SimNode:
    """One Asterisk node's live state and its event stream to every logged-in client."""

    def __init__(self, name: str = "node", read: set[str] | None = None,
                 filters: EventFilters | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self.read = read if read is not None else {"system", "call", "user", "dialplan"}
        self.filters = filters or EventFilters([])
        self.clock = clock
        self.channels: dict[str, SimChannel] = {}
        self.globals: dict[str, str] = {}
        self.astdb: dict[tuple[str, str], str] = {}
        self.clients: list[AmiConnection] = []
        self.events_sent = 0  # events delivered to clients (after read classes and filters)
        self.events_made = 0  # events the simulated calls raised (before them)
        self.actions: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._base = int(clock())

    def new_id(self) -> str:
        return f"{self._base}.{next(self._ids)}"

    def add(self, ch: SimChannel) -> None:
        self.channels[ch.uniqueid] = ch
        self.emit("Newchannel", ch.fields())

    def by_name(self, name: str) -> SimChannel | None:
        for ch in self.channels.values():
            if ch.name == name:
                return ch
        return None

    def remove(self, ch: SimChannel, cause: str = "16") -> None:
        if self.channels.pop(ch.uniqueid, None) is None:
            return
        self.emit("Hangup", ch.fields() | {"Cause": cause, "Cause-txt": "Normal Clearing"})

    def state(self, ch: SimChannel, state: str) -> None:
        ch.state = state
        self.emit("Newstate", ch.fields())

    def dialplan(self, ch: SimChannel, context: str, apps: str) -> None:
        """The dialplan priorities `apps` (names, space-separated) run on `ch`: a Newexten
        each, as Asterisk sends them."""
        ch.context = context
        for n, app in enumerate(apps.split()):
            self.emit("Newexten", ch.fields() | {"Priority": str(n + 1),
                                                 "Extension": ch.exten,
                                                 "Application": app, "AppData": ""})

    def set_var(self, ch: SimChannel, name: str, value: str) -> None:
        ch.vars[name] = value
        if "dialplan" in self.read:
            self.emit("VarSet", ch.fields() | {"Variable": name, "Value": value})

    def emit(self, event: str, fields: dict[str, str]) -> None:
        self.events_made += 1
        cls = event_class(event)
        if cls not in self.read or not self.clients or not self.filters.passes(event, fields):
            return
        head = (f"Event: {event}{EOL}Privilege: {cls},all{EOL}"
                f"Timestamp: {self.clock():.6f}{EOL}")
        data = (head + "".join(f"{k}: {v}{EOL}" for k, v in fields.items()) + EOL).encode()
        for client in self.clients:
            if client.events:
                client.write(data)
                self.events_sent += 1


class AmiConnection(asyncio.Protocol):
    """One manager session: a banner, a Login, then actions answered in order."""

    def __init__(self, node: SimNode, secret: str) -> None:
        self.node = node
        self.secret = secret
        self.transport: asyncio.Transport | None = None
        self.buf = ""
        self.logged_in = False
        self.events = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"Asterisk Call Manager/9.0.0\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.node.clients:
            self.node.clients.remove(self)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buf += data.decode("utf-8", "replace")
        *blocks, self.buf = self.buf.split(EOL + EOL)
        for block in blocks:
            msg: dict[str, str] = {}
            for line in block.split(EOL):
                key, sep, value = line.partition(":")
                if sep:
                    msg[key.strip().lower()] = value.strip()
            if msg:
                self.action(msg)

    def reply(self, msg: dict[str, str], fields: dict[str, str] | None = None, *,
              ok: bool = True, message: str = "") -> None:
        out = {"Response": "Success" if ok else "Error", "ActionID": msg.get("actionid", "")}
        if message:
            out["Message"] = message
        out |= fields or {}
        self.write(("".join(f"{k}: {v}{EOL}" for k, v in out.items()) + EOL).encode())

    def event(self, msg: dict[str, str], name: str, fields: dict[str, str]) -> None:
        out = {"Event": name, "ActionID": msg.get("actionid", "")} | fields
        self.write(("".join(f"{k}: {v}{EOL}" for k, v in out.items()) + EOL).encode())

    def action(self, msg: dict[str, str]) -> None:
        name = msg.get("action", "").lower()
        node = self.node
        node.actions[name] = node.actions.get(name, 0) + 1
        if name == "login":
            if msg.get("secret") != self.secret:
                self.reply(msg, ok=False, message="Authentication failed")
                return
            self.logged_in = True
            self.events = msg.get("events", "on").lower() not in ("off", "no")
            self.reply(msg, message="Authentication accepted")
            node.clients.append(self)
            if self.events:
                self.write(f"Event: FullyBooted{EOL}Privilege: system,all{EOL}"
                           f"Status: Fully Booted{EOL}{EOL}".encode())
            return
        if not self.logged_in:
            self.reply(msg, ok=False, message="Permission denied")
            return
        handler = getattr(self, f"do_{name}", None)
        if handler is None:
            self.reply(msg, ok=False, message="Invalid/unknown command")
            return
        handler(msg)

    # ---- the actions the daemon sends -----------------------------------------------------
    def do_ping(self, msg: dict[str, str]) -> None:
        self.reply(msg, {"Ping": "Pong", "Timestamp": f"{time.time():.6f}"})

    def do_logoff(self, msg: dict[str, str]) -> None:
        self.reply(msg, message="See ya")
        if self.transport:
            self.transport.close()

    def do_setvar(self, msg: dict[str, str]) -> None:
        var, value = msg.get("variable", ""), msg.get("value", "")
        ch = self.node.by_name(msg["channel"]) if msg.get("channel") else None
        if msg.get("channel") and ch is None:
            self.reply(msg, ok=False, message="No such channel")
            return
        if ch is not None:
            self.node.set_var(ch, var, value)
        elif var.startswith("DEVICE_STATE(") and var.endswith(")"):
            # a custom device state: Asterisk tells every client it changed
            device = var[len("DEVICE_STATE("):-1]
            self.node.emit("DeviceStateChange", {"Device": device, "State": value})
        else:
            self.node.globals[var] = value
        self.reply(msg, message="Variable Set")

    def do_getvar(self, msg: dict[str, str]) -> None:
        var = msg.get("variable", "")
        ch = self.node.by_name(msg["channel"]) if msg.get("channel") else None
        if msg.get("channel") and ch is None:
            self.reply(msg, ok=False, message="No such channel")
            return
        value = (ch.vars if ch is not None else self.node.globals).get(var, "")
        self.reply(msg, {"Variable": var, "Value": value})

    def _channel(self, msg: dict[str, str]) -> SimChannel | None:
        ch = self.node.by_name(msg.get("channel", ""))
        if ch is None:
            self.reply(msg, ok=False, message="No such channel")
        return ch

    def do_hangup(self, msg: dict[str, str]) -> None:
        ch = self._channel(msg)
        if ch is not None:
            self.reply(msg, message="Channel Hungup")
            if ch.on_hangup:
                ch.on_hangup()
            else:
                self.node.remove(ch)

    def do_redirect(self, msg: dict[str, str]) -> None:
        ch = self._channel(msg)
        if ch is not None:
            self.reply(msg, message="Redirect successful")
            if ch.on_redirect:
                ch.on_redirect(msg.get("context", ""), msg.get("exten", ""))

    def do_playdtmf(self, msg: dict[str, str]) -> None:
        ch = self._channel(msg)
        if ch is None:
            return
        self.reply(msg, message="DTMF successfully queued")
        if msg.get("receive", "").lower() in ("yes", "true", "1") and ch.on_dtmf:
            ch.on_dtmf(msg.get("digit", "")[:1])

    def do_status(self, msg: dict[str, str]) -> None:
        chans = ([self.node.by_name(msg["channel"])] if msg.get("channel")
                 else list(self.node.channels.values()))
        if msg.get("channel") and chans[0] is None:
            self.reply(msg, ok=False, message="No such channel")
            return
        self.reply(msg, {"EventList": "start"}, message="Channel status will follow")
        for ch in chans:
            if ch is not None:
                self.event(msg, "Status", ch.fields())
        self.event(msg, "StatusComplete", {"EventList": "Complete",
                                           "ListItems": str(len(chans))})

    def do_coreshowchannels(self, msg: dict[str, str]) -> None:
        chans = list(self.node.channels.values())
        self.reply(msg, {"EventList": "start"}, message="Channels will follow")
        for ch in chans:
            self.event(msg, "CoreShowChannel", ch.fields() | {"Application": "AGI",
                                                              "Duration": "00:00:01"})
        self.event(msg, "CoreShowChannelsComplete", {"EventList": "Complete",
                                                     "ListItems": str(len(chans))})

    def do_dbput(self, msg: dict[str, str]) -> None:
        self.node.astdb[msg.get("family", ""), msg.get("key", "")] = msg.get("val", "")
        self.reply(msg, message="Updated database successfully")

    def do_dbdel(self, msg: dict[str, str]) -> None:
        found = self.node.astdb.pop((msg.get("family", ""), msg.get("key", "")), None)
        self.reply(msg, ok=found is not None,
                   message="Key deleted successfully" if found is not None
                   else "Database entry not found")

    def do_dbget(self, msg: dict[str, str]) -> None:
        key = (msg.get("family", ""), msg.get("key", ""))
        if key not in self.node.astdb:
            self.reply(msg, ok=False, message="Database entry not found")
            return
        self.reply(msg, {"EventList": "start"}, message="Result will follow")
        self.event(msg, "DBGetResponse", {"Family": key[0], "Key": key[1],
                                          "Val": self.node.astdb[key]})
        self.event(msg, "DBGetComplete", {"EventList": "Complete", "ListItems": "1"})

    def do_userevent(self, msg: dict[str, str]) -> None:
        self.reply(msg, message="Event Sent")
        fields = {k.capitalize(): v for k, v in msg.items()
                  if k not in ("action", "actionid", "userevent")}
        self.node.emit("UserEvent", {"UserEvent": msg.get("userevent", "")} | fields)

    def do_originate(self, msg: dict[str, str]) -> None:
        # no outbound traffic in the benchmark: every originate fails as unreachable
        self.reply(msg, message="Originate successfully queued")
        self.node.emit("OriginateResponse", {"ActionID": msg.get("actionid", ""),
                                             "Response": "Failure",
                                             "Channel": msg.get("channel", ""),
                                             "Reason": "3", "Uniqueid": "<null>"})

    def do_command(self, msg: dict[str, str]) -> None:
        self.reply(msg, ok=False, message="Permission denied")


class AmiServer:
    """Listens for the daemon's AMI connections on behalf of one SimNode."""

    def __init__(self, node: SimNode, secret: str, host: str = "127.0.0.1",
                 port: int = 5038) -> None:
        self.node, self.secret, self.host, self.port = node, secret, host, port
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: AmiConnection(self.node, self.secret), self.host, self.port,
            reuse_address=True)

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            for client in list(self.node.clients):
                if client.transport:
                    client.transport.close()
            await self.server.wait_closed()

    def connected(self) -> bool:
        return any(c.events for c in self.node.clients)


_FILTER = re.compile(r"eventfilter\((?P<spec>.*)\)\s*=\s?(?P<value>.*)$")
_PART = re.compile(r"(action|name|header|method)\(([^)]*)\)")


@dataclass(frozen=True)
class _Filter:
    include: bool
    name: str
    header: str
    method: str
    value: str

    def matches(self, event: str, fields: dict[str, str]) -> bool:
        if self.name and self.name != event:
            return False
        if not self.header:
            return True
        got = fields.get(self.header)
        if got is None:
            return False
        if self.method == "regex":
            return re.search(self.value, got) is not None
        if self.method == "starts_with":
            return got.startswith(self.value)
        return got == self.value


class EventFilters:
    """Asterisk 22's advanced `eventfilter(action(),name(),header(),method()) = value`
    lines of manager.conf: with includes, an event must match one; then no exclude."""

    def __init__(self, filters: list[_Filter]) -> None:
        self.includes = [f for f in filters if f.include]
        self.excludes = [f for f in filters if not f.include]

    @classmethod
    def parse(cls, manager_conf: str) -> EventFilters:
        out = []
        for line in manager_conf.splitlines():
            m = _FILTER.match(line.strip())
            if m:
                parts = dict(_PART.findall(m["spec"]))
                out.append(_Filter(parts.get("action", "include") == "include",
                                   parts.get("name", ""), parts.get("header", ""),
                                   parts.get("method", "exact"), m["value"].strip()))
        return cls(out)

    def passes(self, event: str, fields: dict[str, str]) -> bool:
        if self.includes and not any(f.matches(event, fields) for f in self.includes):
            return False
        return not any(f.matches(event, fields) for f in self.excludes)


def read_classes(manager_conf: str) -> set[str]:
    """The `read =` classes of the rendered manager.conf's callcenter user."""
    for line in manager_conf.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "read":
            return {c.strip() for c in value.split(",") if c.strip()}
    return {"system", "call", "user", "dialplan"}


def summary(node: SimNode) -> dict[str, Any]:
    return {"events_sent": node.events_sent, "actions": dict(node.actions),
            "channels": len(node.channels)}
