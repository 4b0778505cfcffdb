"""What Asterisk has up right now: live channels, rebuilt from AMI after every connect."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from panoramisk.message import Message

from callcenter.ami.client import AmiClient

__all__ = ["Channel", "LiveChannels"]


@dataclass
class Channel:
    uniqueid: str
    name: str
    state: str = ""
    caller: str = ""
    context: str = ""
    exten: str = ""
    linkedid: str = ""
    seen_at: float = field(default_factory=time.time)


class LiveChannels:
    """Channel table kept from Newchannel/Newstate/Hangup events and CoreShowChannels."""

    def __init__(self, ami: AmiClient):
        self.ami = ami
        self.channels: dict[str, Channel] = {}
        self.resyncs = 0
        ami.on_event("Newchannel", self._new)
        ami.on_event("Newstate", self._update)
        ami.on_event("NewCallerid", self._update)
        ami.on_event("Newexten", self._update)
        ami.on_event("Hangup", self._hangup)
        ami.on_ready(self.resync)

    async def resync(self) -> None:
        """Replace what we believe with what Asterisk says (after a reconnect, memory lies)."""
        reply = await self.ami.action({"Action": "CoreShowChannels"}, as_list=True, timeout=10)
        fresh: dict[str, Channel] = {}
        for msg in reply if isinstance(reply, list) else [reply]:
            if msg.get("Event") == "CoreShowChannel":
                ch = _from(msg)
                fresh[ch.uniqueid] = ch
        self.channels = fresh
        self.resyncs += 1

    def _new(self, msg: Message) -> None:
        ch = _from(msg)
        self.channels[ch.uniqueid] = ch

    def _update(self, msg: Message) -> None:
        ch = self.channels.get(msg.get("Uniqueid", ""))
        if ch is None:
            self._new(msg)
            return
        ch.state = msg.get("ChannelStateDesc", ch.state)
        ch.caller = msg.get("CallerIDNum", ch.caller)
        ch.context = msg.get("Context", ch.context)
        ch.exten = msg.get("Exten", ch.exten)

    def _hangup(self, msg: Message) -> None:
        self.channels.pop(msg.get("Uniqueid", ""), None)

    def snapshot(self) -> list[dict[str, Any]]:
        return [asdict(c) for c in sorted(self.channels.values(), key=lambda c: c.seen_at)]


def _from(msg: Message) -> Channel:
    return Channel(uniqueid=msg.get("Uniqueid", ""), name=msg.get("Channel", ""),
                   state=msg.get("ChannelStateDesc", ""), caller=msg.get("CallerIDNum", ""),
                   context=msg.get("Context", ""), exten=msg.get("Exten", ""),
                   linkedid=msg.get("Linkedid", ""))
