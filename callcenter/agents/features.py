"""Keypad features from any desk phone: log in (agent id + PIN), log out, pause with a reason,
unpause. Asterisk hands the phone's call to the daemon over FastAGI (`feature/NAME`)."""

from __future__ import annotations

import hmac
import logging
import re

from callcenter.agents.state import PAUSE_REASONS, AgentBook, AgentRecord, AgentStateError
from callcenter.agi import AgiSession

__all__ = ["FeatureCodes", "device_of"]

log = logging.getLogger(__name__)


def device_of(channel: str) -> str:
    """The desk phone's extension from a channel name such as PJSIP/8001-0000002a."""
    m = re.match(r"PJSIP/(\d{2,8})-[0-9a-f]+$", channel)
    return m[1] if m else ""


class FeatureCodes:
    def __init__(self, book: AgentBook, pins: dict[str, str], extensions: set[str]):
        self.book = book
        self.pins = pins
        self.extensions = extensions

    async def handle(self, session: AgiSession, name: str) -> None:
        device = device_of(session.channel)
        if device not in self.extensions:
            log.warning("feature %s from %s, which is not an agent phone", name, session.channel)
            await session.command("STREAM FILE", "beeperr", "")
            return
        handler = {"login": self.login, "logout": self.logout, "pause": self.pause,
                   "unpause": self.unpause}.get(name)
        if handler is None:
            await session.command("STREAM FILE", "beeperr", "")
            return
        try:
            await handler(session, device)
        except AgentStateError as exc:
            log.info("feature %s refused at %s: %s", name, device, exc)
            await session.command("STREAM FILE", "beeperr", "")

    async def _digits(self, session: AgiSession, prompt: str, n: int) -> str:
        resp = await session.command("GET DATA", prompt, 6000, n)
        return re.sub(r"[^0-9]", "", resp.result)

    async def login(self, session: AgiSession, device: str) -> None:
        for _ in range(3):
            agent = await self._digits(session, "agent-user", 8)
            pin = await self._digits(session, "agent-pass", 8)
            expected = self.pins.get(agent)
            if expected and hmac.compare_digest(expected, pin):
                self.book.login(agent, device)
                log.info("agent %s logged in at %s", agent, device)
                await session.set_variable("CC_AGENT", agent)
                await session.command("STREAM FILE", "agent-loginok", "")
                return
            log.info("failed login at %s for agent id %r", device, agent)
            await session.command("STREAM FILE", "agent-incorrect", "")
        await session.command("HANGUP")

    async def _logged_in(self, session: AgiSession, device: str) -> AgentRecord | None:
        """The agent logged in at this phone; an error beep when there is none."""
        rec = self.book.at_device(device)
        if rec is None:
            await session.command("STREAM FILE", "beeperr", "")
        return rec

    async def logout(self, session: AgiSession, device: str) -> None:
        rec = await self._logged_in(session, device)
        if rec is None:
            return
        self.book.logout(rec.agent_id)
        log.info("agent %s logged out at %s", rec.agent_id, device)
        await session.command("STREAM FILE", "agent-loggedoff", "")

    async def pause(self, session: AgiSession, device: str) -> None:
        rec = await self._logged_in(session, device)
        if rec is None:
            return
        digit = await self._digits(session, "beep", 1)
        reason = PAUSE_REASONS.get(digit, "break")
        self.book.pause(rec.agent_id, reason)
        log.info("agent %s paused: %s", rec.agent_id, reason)
        await session.command("STREAM FILE", "auth-thankyou", "")

    async def unpause(self, session: AgiSession, device: str) -> None:
        rec = await self._logged_in(session, device)
        if rec is None:
            return
        self.book.ready(rec.agent_id)
        log.info("agent %s ready", rec.agent_id)
        await session.command("STREAM FILE", "auth-thankyou", "")
