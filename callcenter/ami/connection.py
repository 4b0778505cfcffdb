"""panoramisk's Manager, made safe for a daemon: it never reconnects or resends on its own.

panoramisk 1.4 reconnects every 2 s by itself and, after a reconnect, sends again the actions
that were pending at the disconnect — a repeated Originate rings a customer twice. Here the
connection is one-shot: a lost connection fails its pending actions and tells the owner, who
reconnects with backoff and resynchronises (see client.py).

Events are read by FastAmiProtocol and dispatched by their name: the handlers of a name are
found once (panoramisk matches every registered pattern against every event)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from panoramisk import Manager

from callcenter.ami.protocol import FastAmiProtocol

__all__ = ["OneShotManager"]


class OneShotManager(Manager):
    def __init__(self, on_lost: Callable[[BaseException | None], None], **config: Any):
        config.setdefault("protocol_factory", FastAmiProtocol)
        # panoramisk registers its own handlers while it initialises
        self._by_name: dict[str, tuple[list[str], list[Callable[..., Any]]]] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        super().__init__(**config)
        self._on_lost = on_lost

    def register_event(self, pattern: str, callback: Any = None) -> Any:
        self._by_name.clear()  # the handlers of a name are found again
        return super().register_event(pattern, callback)

    def dispatch(self, event: Any) -> list[str]:
        """Call the handlers of the event's name, in the order they were registered."""
        event.manager = self
        name = event.get("Event", "")
        found = self._by_name.get(name)
        if found is None:
            patterns = [p for p, regexp in self.patterns if regexp.match(name)]
            found = (patterns, [cb for p in patterns for cb in self.callbacks[p]])
            self._by_name[name] = found
        for callback in found[1]:
            ret = callback(self, event)
            if ret is not None and (asyncio.iscoroutine(ret) or isinstance(ret, asyncio.Future)):
                task = asyncio.ensure_future(ret, loop=self.loop)
                self._tasks.add(task)  # referenced until done
                task.add_done_callback(self._tasks.discard)
        return found[0]

    def connection_made(self, f: asyncio.Future) -> None:
        if f.exception() is not None:
            return  # the owner sees the failed connect and retries with backoff
        super().connection_made(f)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._connected = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        for action in list(self.awaiting_actions):
            if not action.future.done():
                action.future.set_exception(ConnectionError("AMI connection lost"))
        self.awaiting_actions.clear()
        self._on_lost(exc)

    async def send_awaiting_actions(self, *_: Any) -> None:
        """Never resend: an action pending at a disconnect has already failed."""
        self.awaiting_actions.clear()

    def ping(self) -> None:
        """Liveness is checked by the owner (with a timeout), not by panoramisk's pinger."""
