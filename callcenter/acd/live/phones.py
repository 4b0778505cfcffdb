"""Agents' desk phones as AMI sees them: on a live channel the ACD did not give (a restart,
a call while AMI was away, a call the agent made), and reachable or not. An unreachable
phone pauses its ready agent before a caller is rung on it; the pause is lifted when the
phone answers again."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from panoramisk.message import Message

from callcenter.agents import AgentState
from callcenter.agents.state import PHONE_PAUSES

if TYPE_CHECKING:
    from callcenter.acd.live.context import AcdContext
    from callcenter.acd.live.offers import Offers

__all__ = ["Phones"]

log = logging.getLogger(__name__)


class Phones:
    def __init__(self, ctx: AcdContext, offers: Offers) -> None:
        self.ctx = ctx
        self.offers = offers
        self._calls: dict[str, str] = {}  # agent -> channel of a call the ACD did not give
        self._configured: dict[str, list[str]] | None = None

    def relearn(self, channels: Any) -> None:
        """After (re)connecting to AMI the channel table is true: an agent whose phone is on
        a live channel is on a call (not to be rung with a second caller); an agent believed
        on a call whose phone has none, and no ACD call, is ready again."""
        ctx = self.ctx
        on_phone = channels.by_phone()
        for rec in list(ctx.book.agents.values()):
            aid = rec.agent_id
            if rec.state == AgentState.LOGGED_OUT or ctx.calls.of_agent(aid) is not None:
                continue
            phone = ctx.phone_of(aid)
            live = on_phone.get(phone, [])
            if live and rec.state in (AgentState.READY, AgentState.WRAP_UP,
                                      AgentState.ON_CALL):
                self._calls[aid] = live[0].uniqueid
                if rec.state != AgentState.ON_CALL:
                    log.info("agent %s is on a call (phone %s): not offered calls until it "
                             "ends", aid, phone)
                    self.offers.forget_wrap(aid)
                    ctx.agent(ctx.book.relearn_call, aid)
            elif not live and rec.state == AgentState.ON_CALL:
                log.info("agent %s's call ended while we were away: ready", aid)
                self._calls.pop(aid, None)
                ctx.agent(ctx.book.call_ended, aid, False)

    def hung_up(self, channel: Any) -> None:
        """A channel the ACD did not give ended: its agent is free again."""
        ctx = self.ctx
        for aid, uniqueid in list(self._calls.items()):
            if uniqueid == channel.uniqueid:
                del self._calls[aid]
                if ctx.calls.of_agent(aid) is None and \
                        ctx.book.get(aid).state == AgentState.ON_CALL:
                    log.info("agent %s's call ended: ready", aid)
                    ctx.agent(ctx.book.call_ended, aid, False)

    def at_phone(self, extension: str) -> list[str]:
        """The logged-in agents an extension rings: the one logged in at it, and those who
        logged in without a device whose configured phone it is. Looked up, not walked: every
        call's end reports its phones (two device-state changes per call, at 20,000 agents)."""
        book, out = self.ctx.book, []
        here = book.at_device(extension)
        if here is not None:
            out.append(here.agent_id)
        if self._configured is None:
            self._configured = {}
            for aid in book.agents:
                self._configured.setdefault(self.ctx.agents[aid].extension, []).append(aid)
        for aid in self._configured.get(extension, ()):
            rec = book.agents[aid]
            if not rec.device and rec.state != AgentState.LOGGED_OUT and aid not in out:
                out.append(aid)
        return out

    def reachable(self, extension: str, reachable: bool) -> None:
        ctx = self.ctx
        for aid in self.at_phone(extension):
            rec = ctx.book.agents[aid]
            if reachable and rec.state == AgentState.PAUSED and \
                    rec.pause_reason in PHONE_PAUSES:
                log.info("agent %s's phone %s is reachable again: ready", rec.agent_id,
                         extension)
                ctx.agent(ctx.book.ready, rec.agent_id)
            elif not reachable and rec.state == AgentState.READY:
                log.warning("agent %s's phone %s is unreachable: paused until it answers",
                            rec.agent_id, extension)
                ctx.agent(ctx.book.pause, rec.agent_id, "unreachable")

    def on_contact_status(self, msg: Message) -> None:
        """AMI ContactStatus: Reachable / Unreachable / Removed / Created of an AOR."""
        status = msg.get("ContactStatus", "")
        aor = msg.get("AOR", "") or msg.get("EndpointName", "")
        if status in ("Reachable", "Created", "Updated"):
            self.reachable(aor, True)
        elif status in ("Unreachable", "Removed"):
            self.reachable(aor, False)

    def on_device_state(self, msg: Message) -> None:
        """AMI DeviceStateChange of PJSIP/EXT: NOT_INUSE means the phone is there again."""
        device, state = msg.get("Device", ""), msg.get("State", "")
        if device.startswith("PJSIP/") and state == "NOT_INUSE":
            self.reachable(device[len("PJSIP/"):], True)
