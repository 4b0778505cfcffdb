"""The daemon's live board: per queue what is waiting and who is staffing it, today's
figures, per agent its state, and the alarms a person must act on. `callcenter top`, the
status socket and the Prometheus gauges all read this one view."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["Board"]

log = logging.getLogger(__name__)


class Board:
    def __init__(self, spec: Any, book: Any, acd: Any, today: Any, recorder: Any,
                 clock: Any) -> None:
        self.spec, self.book, self.acd = spec, book, acd
        self.today, self.recorder, self.clock = today, recorder, clock
        self.names = {a.id: a for a in spec.agents}
        self.latest: dict[str, Any] = {}
        # each agent's row, replaced when the agent changes (the book's listener): a frame
        # lists them instead of building 20,000 rows a second
        self._rows = {r.agent_id: self._row(r) for r in book.agents.values()
                      if r.agent_id in self.names}
        book.listeners.append(self._changed)
        self._alarmed: set[str] = set()

    def build(self) -> dict[str, Any]:
        """Per queue: waiting, longest wait, staff by state, today's figures; per agent:
        state and since when."""
        now_ms = self.acd.now()
        today = self.today.snapshot()
        unreachable = self.acd.unreachable_queues()
        self._alarm_unreachable(unreachable)
        queues: dict[str, Any] = {}
        by_queue = self.acd.calls.waiting_by_queue()
        for name, q in self.spec.queues.items():
            waiting = by_queue.get(name, [])
            queues[name] = {
                "name": q.name, "waiting": len(waiting),
                "longest_wait_s": round(max((now_ms - c.entered_ms for c in waiting),
                                            default=0) / 1000, 1),
                **self.acd.staff_counts(name),
                "all_unreachable": name in unreachable,
                **today.get(name, {})}
        return {"at": self.clock.now().isoformat(), "day": self.today.day.isoformat(),
                "queues": queues, "agents": list(self._rows.values()),
                "alarms": self.alarms(unreachable)}

    def _row(self, r: Any) -> dict[str, Any]:
        agent = self.names[r.agent_id]
        return {"id": r.agent_id, "name": agent.name, "site": agent.site,
                "state": r.state.value, "reason": r.pause_reason, "since": r.since,
                "device": r.device}

    def _changed(self, r: Any) -> None:
        if r.agent_id in self.names:
            self._rows[r.agent_id] = self._row(r)

    def alarms(self, unreachable: list[str] | None = None) -> list[str]:
        """What a person must act on now (`callcenter status`, `callcenter top`)."""
        if unreachable is None:
            unreachable = self.acd.unreachable_queues()
        out = [f"queue {q}: every logged-in agent's phone is unreachable" for q in unreachable]
        store = self.recorder
        if store.spool_error:
            out.append(f"{store.spool_error}: {len(store.held)} events held in memory "
                       f"(at most {store.held_max}), {store.lost_overflow} lost")
        elif store.lost_overflow:
            out.append(f"{store.lost_overflow} events were lost while the spool was full")
        return out

    def _alarm_unreachable(self, queues: list[str]) -> None:
        for q in set(queues) - self._alarmed:
            log.error("ALARM: queue %s: every logged-in agent's phone is unreachable; "
                      "callers get no agent until a phone answers again", q)
        for q in self._alarmed - set(queues):
            log.info("queue %s: an agent's phone is reachable again", q)
        self._alarmed = set(queues)

    async def run_forever(self) -> None:
        while True:
            try:
                self.latest = self.build()
            except Exception:  # the board is a view; a bug in it must not stop the daemon
                log.exception("wallboard")
            await asyncio.sleep(1)


