"""Keypad features from any desk phone: log in (agent id + PIN), log out, pause with a reason,
unpause. Asterisk hands the phone's call to the daemon over FastAGI (`feature/NAME`).

Logins lock after a few wrong PINs, per agent id and per phone, for a while (LoginLockout):
a guessing caller gets the error tone whatever it types until the lock ends or a supervisor
runs `callcenter agent unlock`."""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from callcenter.agents.state import PAUSE_REASONS, AgentBook, AgentRecord, AgentStateError
from callcenter.agi import AgiSession
from callcenter.contract import Var

__all__ = ["FeatureCodes", "LoginLockout", "device_of"]

log = logging.getLogger(__name__)


def device_of(channel: str) -> str:
    """The desk phone's extension from a channel name such as PJSIP/8001-0000002a."""
    m = re.match(r"PJSIP/(\d{2,8})-[0-9a-f]+$", channel)
    return m[1] if m else ""


class LoginLockout:
    """Wrong PINs counted per key ("agent", id) and ("phone", extension) within `window`
    seconds; `max_failures` of them lock that key for `lock_seconds`. `clock` is epoch
    seconds (injected in tests)."""

    def __init__(self, *, max_failures: int = 5, window: float = 900.0,
                 lock_seconds: float = 900.0, clock: Callable[[], float] = time.time):
        self.max_failures = max_failures
        self.window = window
        self.lock_seconds = lock_seconds
        self.clock = clock
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._locked: dict[tuple[str, str], float] = {}  # key -> locked until

    @staticmethod
    def _keys(agent: str, phone: str) -> list[tuple[str, str]]:
        return [k for k in (("agent", agent), ("phone", phone)) if k[1]]

    def locked(self, agent: str = "", phone: str = "") -> bool:
        now = self.clock()
        for key in self._keys(agent, phone):
            until = self._locked.get(key)
            if until is not None and now >= until:  # the lock ran out
                del self._locked[key]
                self._failures.pop(key, None)
            elif until is not None:
                return True
        return False

    def fail(self, agent: str, phone: str) -> list[tuple[str, str, int, float]]:
        """Count a wrong PIN; return (scope, name, failures, until) of each key it locked.
        `agent` is counted only when it is a real agent id (the caller picks the digits)."""
        now = self.clock()
        newly = []
        for key in self._keys(agent, phone):
            recent = [t for t in self._failures.get(key, []) if now - t < self.window]
            recent.append(now)
            self._failures[key] = recent
            if len(recent) >= self.max_failures and key not in self._locked:
                self._locked[key] = now + self.lock_seconds
                newly.append((key[0], key[1], len(recent), now + self.lock_seconds))
        return newly

    def succeed(self, agent: str, phone: str) -> None:
        for key in self._keys(agent, phone):
            self._failures.pop(key, None)

    def unlock(self, scope: str, name: str) -> bool:
        """Lift a lock and forget the failures; False when `scope`/`name` was not locked."""
        self._failures.pop((scope, name), None)
        return self._locked.pop((scope, name), None) is not None

    def snapshot(self) -> list[dict[str, Any]]:
        now = self.clock()
        return [{"scope": scope, "name": name, "until": _iso(until)}
                for (scope, name), until in sorted(self._locked.items()) if until > now]


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


class FeatureCodes:
    def __init__(self, book: AgentBook, pins: dict[str, str], extensions: set[str], *,
                 lockout: LoginLockout | None = None,
                 emit: Callable[..., Any] | None = None):
        self.book = book
        self.pins = pins
        self.extensions = extensions
        self.lockout = lockout or LoginLockout()
        self.emit = emit  # the event recorder's emit (agent.login_locked)

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
            if self.lockout.locked(phone=device):
                log.warning("login refused at %s: the phone is locked after wrong PINs", device)
                break
            agent = await self._digits(session, "agent-user", 8)
            pin = await self._digits(session, "agent-pass", 8)
            expected = self.pins.get(agent)
            if self.lockout.locked(agent if expected else "", device):
                # the right PIN does not help while locked: a guesser learns nothing
                log.warning("login refused at %s for agent %s: locked after wrong PINs",
                            device, agent)
                break
            if expected and hmac.compare_digest(expected, pin):
                self.lockout.succeed(agent, device)
                self.book.login(agent, device)
                log.info("agent %s logged in at %s", agent, device)
                await session.set_variable(Var.AGENT, agent)
                await session.command("STREAM FILE", "agent-loginok", "")
                return
            log.info("failed login at %s for agent id %r", device, agent)
            self._failed(agent if expected else "", device)
            await session.command("STREAM FILE", "agent-incorrect", "")
        else:
            await session.command("HANGUP")
            return
        await session.command("STREAM FILE", "beeperr", "")
        await session.command("HANGUP")

    def _failed(self, agent: str, device: str) -> None:
        for scope, name, failures, until in self.lockout.fail(agent, device):
            log.warning("login locked for %s %s after %d wrong PINs (until %s); "
                        "'callcenter agent unlock' lifts it", scope, name, failures,
                        _iso(until))
            if self.emit is not None:
                self.emit("agent.login_locked", agent_id=agent if scope == "agent" else None,
                          device=device, scope=scope, failures=failures, until=_iso(until))

    def unlock(self, agent: str = "", phone: str = "") -> bool:
        """For the supervisor command: lift the lock on an agent id or a phone."""
        done = False
        if agent:
            done |= self.lockout.unlock("agent", agent)
        if phone:
            done |= self.lockout.unlock("phone", phone)
        return done

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
