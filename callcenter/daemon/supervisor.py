"""Supervision of the daemon's long-lived tasks: a task that dies is logged with its traceback
and restarted with backoff; too many deaths in a window make the daemon exit non-zero (so
systemd restarts it) rather than run on looking alive while routing nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from callcenter.errors import CallcenterError

__all__ = ["Supervisor", "SupervisorError"]

log = logging.getLogger(__name__)


class SupervisorError(CallcenterError):
    """A supervised task kept dying: the daemon must stop and be restarted."""


@dataclass
class _Child:
    name: str
    factory: Callable[[], Awaitable[None]]
    task: asyncio.Task[None] | None = None
    restarts: int = 0
    deaths: list[float] = field(default_factory=list)


class Supervisor:
    """Starts tasks in the order added, stops them in reverse. `failed` is set (with `reason`)
    when one task died more than `max_failures` times within `window` seconds."""

    def __init__(self, *, backoff: tuple[float, float] = (0.5, 10.0), max_failures: int = 5,
                 window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.backoff = backoff
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self.failed = asyncio.Event()
        self.reason = ""
        self._children: list[_Child] = []

    def add(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        """Supervise `factory()` (a coroutine function meant to run until cancelled)."""
        self._children.append(_Child(name, factory))

    def start(self) -> None:
        for child in self._children:
            child.task = asyncio.create_task(self._keep(child), name=child.name)

    async def stop(self) -> None:
        for child in reversed(self._children):
            if child.task is not None:
                child.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await child.task
                child.task = None

    def check(self) -> None:
        """Raise SupervisorError if a task gave up (for the daemon's main loop)."""
        if self.failed.is_set():
            raise SupervisorError(self.reason)

    def snapshot(self) -> dict[str, int]:
        """Restarts per task, for the status document."""
        return {c.name: c.restarts for c in self._children}

    async def _keep(self, child: _Child) -> None:
        delay = self.backoff[0]
        while True:
            started = self.clock()
            try:
                await child.factory()
                log.error("task %s returned; a long-lived task must not end — restarting",
                          child.name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("task %s died; restarting it", child.name)
            now = self.clock()
            if now - started > self.window:  # it had been healthy for a while
                delay = self.backoff[0]
            child.deaths = [t for t in child.deaths if now - t < self.window] + [now]
            if len(child.deaths) > self.max_failures:
                self.reason = (f"task {child.name} died {len(child.deaths)} times within "
                               f"{self.window:g} s — stopping so the service manager "
                               "restarts the daemon; see the tracebacks above")
                log.critical("%s", self.reason)
                self.failed.set()
                return
            child.restarts += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff[1])
