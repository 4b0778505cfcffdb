"""Per queue, how many of its staff are ready, busy, paused, logged in and unreachable: kept
up to date by each agent change (a listener of the agent book), so the wallboard's frame,
the unreachable-phones alarm and the dialler's pacing read counts instead of walking every
agent (20,000 agents × a frame a second was most of the daemon's time, docs/scale.md).

Staff of a queue are the agents `callcenter.acd.rules.serves` admits (the scheduler's rule,
through `queue_staff`)."""

from __future__ import annotations

from typing import Any

from callcenter.acd.rules import queue_staff
from callcenter.agents.state import AgentBook, AgentRecord

__all__ = ["COLUMNS", "Staffing"]

COLUMNS = ("ready", "busy", "paused", "logged_in", "unreachable")
_BUSY = frozenset({"ringing", "on_call", "wrap_up"})


def _columns(state: str, reason: str) -> tuple[str, ...]:
    """The columns one agent in `state` (with its pause `reason`) counts in."""
    if state == "logged_out":
        return ()
    if state == "ready":
        return ("ready", "logged_in")
    if state in _BUSY:
        return ("busy", "logged_in")
    if state == "paused":
        return ("paused", "logged_in", "unreachable") if reason == "unreachable" else \
            ("paused", "logged_in")
    return ("logged_in",)


class Staffing:
    def __init__(self, spec: Any, book: AgentBook) -> None:
        self.staff = queue_staff(spec)
        self._queues_of: dict[str, list[str]] = {}
        for queue, ids in self.staff.items():
            for aid in ids:
                self._queues_of.setdefault(aid, []).append(queue)
        self._counts = {q: dict.fromkeys(COLUMNS, 0) for q in self.staff}
        self._seen: dict[str, tuple[str, ...]] = {}
        for rec in book.agents.values():
            self.changed(rec)
        book.listeners.append(self.changed)

    def changed(self, rec: AgentRecord) -> None:
        """An agent's state changed (the book's listener)."""
        new = _columns(rec.state.value, rec.pause_reason)
        old = self._seen.get(rec.agent_id, ())
        if new == old:
            return
        self._seen[rec.agent_id] = new
        for queue in self._queues_of.get(rec.agent_id, ()):
            counts = self._counts[queue]
            for column in old:
                counts[column] -= 1
            for column in new:
                counts[column] += 1

    def counts(self, queue: str) -> dict[str, int]:
        """The wallboard's agent columns of one queue."""
        return dict(self._counts[queue])

    def ready(self, queue: str) -> int:
        return self._counts[queue]["ready"]

    def unreachable_queues(self) -> list[str]:
        """Queues whose logged-in staff are all paused as unreachable (an alarm)."""
        return [q for q, c in self._counts.items()
                if c["logged_in"] and c["unreachable"] == c["logged_in"]]
