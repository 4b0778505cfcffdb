"""The daemon's AMI client: login, actions with timeouts, liveness, reconnect with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from panoramisk.message import Message

from callcenter.ami.connection import OneShotManager
from callcenter.ami.protocol import encode_actions
from callcenter.errors import CallcenterError

__all__ = ["AmiClient", "AmiError"]

log = logging.getLogger(__name__)

EventHandler = Callable[[Message], None]
ReadyHandler = Callable[[], Awaitable[None]]


class AmiError(CallcenterError):
    """An AMI action failed, timed out, or there is no connection."""


class AmiClient:
    """Keeps one logged-in AMI connection to Asterisk for as long as it runs."""

    def __init__(self, *, host: str, port: int, username: str, secret: str,
                 action_timeout: float = 5.0, ping_interval: float = 5.0,
                 backoff: tuple[float, float] = (0.5, 10.0)):
        self.host, self.port = host, port
        self.username, self.secret = username, secret
        self.action_timeout = action_timeout
        self.ping_interval = ping_interval
        self.backoff = backoff
        self.manager: OneShotManager | None = None
        self.connected = asyncio.Event()
        self.connects = 0
        self.events_seen = 0
        self._handlers: list[tuple[str, EventHandler]] = []
        self._on_ready: list[ReadyHandler] = []
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._quiet_sent = 0

    def on_event(self, pattern: str, handler: EventHandler) -> None:
        """Call `handler(message)` for events matching the fnmatch `pattern`."""
        self._handlers.append((pattern, handler))

    def on_ready(self, handler: ReadyHandler) -> None:
        """Run `handler()` after every successful (re)connect — to resynchronise state."""
        self._on_ready.append(handler)

    def deliver(self, message: Message) -> None:
        """Hand `message` to the handlers of its event as if Asterisk had sent it (the
        Hangups a lost node can no longer send: callcenter/cluster/nodes_ami.py)."""
        event = message.get("Event", "")
        for pattern, handler in list(self._handlers):
            if fnmatch.fnmatchcase(event, pattern):
                self._wrap(handler)(None, message)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ami")

    async def run(self) -> None:
        """Connect, watch and reconnect until cancelled (for a supervisor instead of start)."""
        await self._run()

    async def set_global(self, name: str, value: str, *, timeout: float = 2.0) -> None:
        """Set an Asterisk global variable (Setvar without a channel); AmiError on failure."""
        await self.action({"Action": "Setvar", "Variable": name, "Value": value},
                          timeout=timeout)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.manager:
            self.manager.close()

    async def action(self, action: dict[str, str], *, as_list: bool | None = None,
                     timeout: float | None = None) -> Any:
        """Send one action and return its reply; AmiError on timeout or no connection."""
        if not self.connected.is_set() or self.manager is None:
            raise AmiError(f"not connected to Asterisk AMI; {action.get('Action')} not sent")
        try:
            future = self.manager.send_action(dict(action), as_list=as_list)
            reply = await asyncio.wait_for(future, timeout or self.action_timeout)
        except TimeoutError as exc:
            raise AmiError(f"AMI {action.get('Action')} got no answer within "
                           f"{timeout or self.action_timeout:g} s") from exc
        except ConnectionError as exc:
            raise AmiError(f"AMI connection lost during {action.get('Action')}") from exc
        first = reply[0] if isinstance(reply, list) and reply else reply
        if getattr(first, "Response", "") == "Error":
            raise AmiError(f"AMI {action.get('Action')} failed: {first.Message}")
        return reply

    def send_quiet(self, actions: list[dict[str, str]]) -> bool:
        """Send `actions` in one write without waiting for their responses (an error is
        logged when it arrives); False when not connected (nothing is sent). For what a
        later send supersedes or repeats anyway: the desk phones' lamps, a waiting caller's
        wake."""
        protocol = getattr(self.manager, "protocol", None)
        transport = getattr(protocol, "transport", None)
        if not self.connected.is_set() or transport is None or transport.is_closing():
            return False
        transport.write(encode_actions(actions, self._quiet_sent))
        self._quiet_sent += len(actions)
        return True

    async def _run(self) -> None:
        delay = self.backoff[0]
        while True:
            self._lost.clear()
            try:
                await self._connect()
            except (OSError, AmiError, TimeoutError) as exc:
                log.warning("AMI %s:%s not reachable (%s); retrying in %.1f s",
                            self.host, self.port, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])
                continue
            delay = self.backoff[0]
            self.connects += 1
            log.info("AMI connected to %s:%s (connection %d)", self.host, self.port,
                     self.connects)
            for handler in self._on_ready:
                try:
                    await handler()
                except Exception:
                    log.exception("AMI resynchronisation failed")
            await self._watch()
            self.connected.clear()
            if self.manager:
                self.manager.close()
            log.warning("AMI connection lost; reconnecting")

    async def _connect(self) -> None:
        manager = OneShotManager(
            on_lost=lambda exc: self._lost.set(), host=self.host, port=self.port,
            username=self.username, secret=self.secret, ping_delay=3600,
            events="on", encoding="utf-8")
        manager.loop = asyncio.get_running_loop()
        for pattern, handler in self._handlers:
            manager.register_event(pattern, self._wrap(handler))
        await asyncio.wait_for(manager.connect(), self.action_timeout)
        if getattr(manager, "protocol", None) is None:
            raise AmiError("connection refused")
        reply = await asyncio.wait_for(manager.authenticated_future, self.action_timeout)
        if not getattr(reply, "success", False):
            manager.close()
            raise AmiError(f"AMI login refused for user {self.username!r}: check the secret")
        self.manager = manager
        self.connected.set()

    def _wrap(self, handler: EventHandler) -> Callable[[Any, Message], None]:
        def call(_manager: Any, message: Message) -> None:
            self.events_seen += 1
            try:
                handler(message)
            except Exception:
                log.exception("AMI event handler failed on %s", message.get("Event"))
        return call

    async def _watch(self) -> None:
        """Return when the connection is lost or stops answering pings."""
        while not self._lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self.ping_interval)
                return
            try:
                await self.action({"Action": "Ping"}, timeout=self.action_timeout)
            except AmiError:
                log.warning("AMI ping unanswered; dropping the connection")
                return
