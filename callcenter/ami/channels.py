"""What Asterisk has up right now: live channels, rebuilt from AMI after every connect."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from panoramisk.message import Message

from callcenter.ami.client import AmiClient

__all__ = ["Channel", "LiveChannels", "phone_of"]


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
    """Channel table kept from Newchannel/Newstate/Hangup events and CoreShowChannels.

    A channel's caller, context and extension are those it was made with (a resync reads
    them afresh): the daemon reads no Newexten or NewCallerid (six of the nineteen events a
    call dispatched), which only moved these labels of `callcenter status`."""

    def __init__(self, ami: AmiClient):
        self.ami = ami
        self.channels: dict[str, Channel] = {}
        self.resyncs = 0
        # run after each resync (the table is true again) and for each channel hung up
        self.resynced: list[Callable[[], None]] = []
        self.gone: list[Callable[[Channel], None]] = []
        ami.on_event("Newchannel", self._new)
        ami.on_event("Newstate", self._update)
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
        for listener in self.resynced:
            listener()

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
        ch = self.channels.pop(msg.get("Uniqueid", ""), None)
        if ch is not None:
            for listener in self.gone:
                listener(ch)

    def of_phone(self, extension: str) -> list[Channel]:
        """The live channels of one SIP phone (PJSIP/EXT-xxxxxxxx)."""
        return [c for c in self.channels.values() if phone_of(c.name) == extension]

    def by_phone(self) -> dict[str, list[Channel]]:
        """Every SIP phone's live channels, in one pass (a re-learn after a connect asks for
        each agent's: one walk of 10,000 channels per agent was minutes at scale)."""
        out: dict[str, list[Channel]] = {}
        for c in self.channels.values():
            phone = phone_of(c.name)
            if phone:
                out.setdefault(phone, []).append(c)
        return out

    def snapshot(self) -> list[dict[str, Any]]:
        return [asdict(c) for c in sorted(self.channels.values(), key=lambda c: c.seen_at)]


def phone_of(channel_name: str) -> str:
    """The endpoint a PJSIP channel belongs to ("PJSIP/1001-0000000a" → "1001"), else ""."""
    m = re.fullmatch(r"PJSIP/([^-/]+)-[0-9a-f]+", channel_name)
    return m.group(1) if m else ""


def _from(msg: Message) -> Channel:
    return Channel(uniqueid=msg.get("Uniqueid", ""), name=msg.get("Channel", ""),
                   state=msg.get("ChannelStateDesc", ""), caller=msg.get("CallerIDNum", ""),
                   context=msg.get("Context", ""), exten=msg.get("Exten", ""),
                   linkedid=msg.get("Linkedid", ""))
