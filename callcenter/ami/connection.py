"""panoramisk's Manager, made safe for a daemon: it never reconnects or resends on its own.

panoramisk 1.4 reconnects every 2 s by itself and, after a reconnect, sends again the actions
that were pending at the disconnect — a repeated Originate rings a customer twice. Here the
connection is one-shot: a lost connection fails its pending actions and tells the owner, who
reconnects with backoff and resynchronises (see client.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from panoramisk import Manager

__all__ = ["OneShotManager"]


class OneShotManager(Manager):
    def __init__(self, on_lost: Callable[[BaseException | None], None], **config: Any):
        super().__init__(**config)
        self._on_lost = on_lost

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
