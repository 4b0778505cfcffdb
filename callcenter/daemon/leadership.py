"""A daemon of several (docs/cluster.md): it takes calls and drives the ACD and the dialler
only while it holds the leader's lease in PostgreSQL.

While standing by it listens for no FastAGI (the nodes' dialplan, finding the port closed,
waits for the leader), beats no heartbeat and dials nobody. On taking the lead it opens the
FastAGI port, tells every node its address and term with each heartbeat, and rebuilds what
it must know from PostgreSQL and the nodes; on losing the lead it closes the port at once and
stops its dialler, so a deposed leader's late actions meet the fence (the term)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from callcenter.contract import Var
from callcenter.errors import CallcenterError

__all__ = ["Leadership"]

log = logging.getLogger(__name__)

Hook = Callable[[int], Awaitable[None]]


class Leadership:
    def __init__(self, name: str, lease: Any, agi: Any, agi_url: str, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.lease = lease
        self.agi = agi
        self.agi_url = agi_url
        self.clock = clock
        self.on_lead: list[Hook] = []  # rebuild the view: run before calls are taken
        self.on_lose: list[Hook] = []
        self._leading = asyncio.Event()
        self._lost = asyncio.Event()
        self._lost.set()
        self.took_over_at: float | None = None
        self.terms_led = 0
        lease.on_lead = self._lead
        lease.on_lose = self._lose

    @property
    def leading(self) -> bool:
        return self._leading.is_set() and bool(self.lease.leading)

    @property
    def term(self) -> int:
        return int(self.lease.term or 0)

    def globals(self) -> dict[str, str]:
        """What every node learns with each heartbeat: where to hand calls, and the fence."""
        return {Var.AGI.value: self.agi_url, Var.TERM.value: str(self.term)}

    async def _lead(self, term: int) -> None:
        log.info("daemon %s leads the ACD (term %d): rebuilding its view", self.name, term)
        for hook in self.on_lead:
            try:
                await hook(term)
            except Exception:
                log.exception("taking over: a part failed to rebuild its view")
        try:
            await self.agi.start()
        except (OSError, CallcenterError) as exc:
            # a leader that cannot take calls must not keep the lease from the standby
            log.error("daemon %s cannot listen for FastAGI on %s:%s (%s): giving the lead "
                      "back", self.name, self.agi.host, self.agi.port, exc)
            await self.lease.release()
            return
        self.took_over_at = self.clock()
        self.terms_led += 1
        self._lost.clear()
        self._leading.set()
        log.info("daemon %s takes calls (term %d)", self.name, term)

    async def _lose(self, term: int, why: str) -> None:
        if not self._leading.is_set():
            return
        self._leading.clear()
        self._lost.set()
        log.warning("daemon %s no longer leads (term %d: %s): standing by", self.name, term,
                    why)
        with contextlib.suppress(Exception):
            await self.agi.stop()
        for hook in self.on_lose:
            try:
                await hook(term)
            except Exception:
                log.exception("standing down: a part failed to stop")

    async def run_forever(self) -> None:
        await self.lease.run_forever()

    def gated(self, factory: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """`factory()` run while this daemon leads, cancelled when it stops leading."""
        async def run() -> None:
            while True:
                await self._leading.wait()
                task = asyncio.ensure_future(factory())
                lost = asyncio.ensure_future(self._lost.wait())
                try:
                    await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    lost.cancel()
                    if not task.done():
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                if task.done() and not task.cancelled() and task.exception():
                    raise task.exception()  # type: ignore[misc]  # the supervisor restarts it
        return run

    async def close(self) -> None:
        """Shutting down: give the lease back so the standby takes over at once."""
        await self._lose(self.term, "shutting down")
        with contextlib.suppress(Exception):
            await self.lease.release()

    def snapshot(self) -> dict[str, Any]:
        status = dict(self.lease.status()) if hasattr(self.lease, "status") else {}
        return {"name": self.name, "leading": self.leading, "term": self.term,
                "terms_led": self.terms_led, "lease": status}
