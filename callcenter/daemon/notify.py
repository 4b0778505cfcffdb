"""systemd notifications: READY=1 once the daemon serves, WATCHDOG=1 from the event loop.

The watchdog ping is sent by a coroutine on the daemon's own loop, so a loop that is blocked
or stopped (SIGSTOP, a busy handler) stops pinging and systemd restarts the service after
WatchdogSec. Without $NOTIFY_SOCKET (not under systemd) every call does nothing."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping

from sdnotify import SystemdNotifier

__all__ = ["Notifier", "watchdog_interval"]


def watchdog_interval(env: Mapping[str, str], default: float = 3.0) -> float:
    """Half of systemd's watchdog period ($WATCHDOG_USEC), as sd_watchdog_enabled advises."""
    usec = env.get("WATCHDOG_USEC", "")
    return max(int(usec) / 2e6, 0.1) if usec.isdigit() and int(usec) > 0 else default


class Notifier:
    """Sends sd_notify messages to $NOTIFY_SOCKET."""

    def __init__(self, alive: Callable[[], bool] = lambda: True):
        env = os.environ  # sdnotify reads $NOTIFY_SOCKET from here too
        self.enabled = bool(env.get("NOTIFY_SOCKET"))
        self.interval = watchdog_interval(env)
        self.alive = alive  # WATCHDOG=1 is withheld while this says the daemon is unwell
        self.sent = 0
        self._sd = SystemdNotifier() if self.enabled else None

    def notify(self, message: str) -> None:
        if self._sd is not None:
            self._sd.notify(message)
            self.sent += 1

    def ready(self, status: str = "") -> None:
        self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def close(self) -> None:
        """Close the socket to systemd (sdnotify has no close of its own)."""
        sock = getattr(self._sd, "socket", None)
        if sock is not None:
            sock.close()
        self._sd = None

    async def watchdog_forever(self) -> None:
        while True:
            if self.alive():
                self.notify("WATCHDOG=1")
            await asyncio.sleep(self.interval)
