"""What every part of the live ACD shares: the site, the scheduler, the agent book (the one
owner of agent state), the call book (the one owner of call state), the clock, the event
recorder and the background tasks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from callcenter.acd import QueueConfig, Scheduler
from callcenter.acd.live.announce import sound_path
from callcenter.acd.live.calls import CallBook, WaitingCall
from callcenter.acd.live.staffing import Staffing
from callcenter.acd.live.stats import AcdStats
from callcenter.agents import AgentBook
from callcenter.agents.state import AgentStateError
from callcenter.clock import SYSTEM, Clock
from callcenter.site import Site
from callcenter.store.recorder import NullRecorder

__all__ = ["AcdContext", "build_scheduler"]

log = logging.getLogger(__name__)


def build_scheduler(site: Site) -> Scheduler:
    """The scheduler for a site: every queue as the site file describes it."""
    spec = site.spec
    return Scheduler([
        QueueConfig(name=name, skills=dict(q.skills), strategy=q.strategy, weight=q.weight,
                    site=q.site, expand_after=q.expand_after_seconds,
                    expand_levels=q.expand_levels, overflow_site=q.overflow_site,
                    handle_time=q.handle_time_seconds,
                    max_wait=q.max_wait_seconds or None, overflow=q.overflow)
        for name, q in spec.queues.items()],
        missed_limit=spec.acd.missed_limit, resume_window=spec.acd.resume_window_seconds)


class AcdContext:
    """The shared parts, handed to each concept's module. `apply` is the live ACD's
    dispatcher of scheduler decisions (set by `LiveAcd`)."""

    def __init__(self, site: Site, book: AgentBook, *, sounds: Path | None = None,
                 ami: Any = None, recorder: Any = None, clock: Clock = SYSTEM):
        self.site = site
        self.spec = site.spec
        self.book = book
        self.calls = CallBook()
        self.stats = AcdStats()
        self.scheduler = build_scheduler(site)
        self.recorder = recorder if recorder is not None else NullRecorder()
        self.ami = ami
        self.sounds = sounds or Path("/nonexistent")
        self.clock = clock
        self.agents = {a.id: a for a in site.spec.agents}
        self.staffing = Staffing(site.spec, book)  # counts per queue, fed by the book
        self.apply: Callable[[list[Any]], None] = lambda decisions: None
        # several daemons: the leader's term, carried by every offer (fencing; 0: one server)
        self.term: Callable[[], int] = lambda: 0
        self._last = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    def now(self) -> int:
        """Epoch milliseconds, never going backwards (the scheduler requires it)."""
        self._last = max(self._last, int(self.clock.now().timestamp() * 1000))
        return self._last

    def phone_of(self, agent_id: str) -> str:
        """The extension that rings for an agent: the desk phone it logged in at (hot-desking),
        else its configured one."""
        rec = self.book.agents.get(agent_id)
        return (rec.device if rec and rec.device else "") or self.agents[agent_id].extension

    def emit(self, kind: str, call: WaitingCall, agent: str = "", **data: Any) -> None:
        self.recorder.emit(kind, call_id=call.origin or call.call_id, queue=call.queue,
                           agent_id=agent or None, site=self.spec.queues[call.queue].site,
                           entry=call.entry, **data)

    def agent(self, change: Callable[..., Any], agent_id: str, *args: Any) -> None:
        """Change the agent book (the scheduler follows it); a refused move is logged."""
        try:
            change(agent_id, *args)
        except AgentStateError as exc:
            log.warning("agent state: %s", exc)

    def sound(self, prompt: str) -> str:
        """What STREAM FILE is given for a site prompt (a beep until it is built)."""
        return sound_path(self.sounds, prompt)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Cancel the timers and callbacks still running (daemon stop)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
