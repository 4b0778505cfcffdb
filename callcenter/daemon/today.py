"""Today's figures per queue, kept by listening to the call events as they are recorded (the
wallboard and the Prometheus metrics read them; reports compute the same from the store)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from callcenter.clock import SYSTEM, Clock
from callcenter.store.events import Event

__all__ = ["QueueDay", "TodayStats"]


@dataclass
class QueueDay:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    answered_within_sl: int = 0
    abandoned_after_sl: int = 0
    overflowed: int = 0
    callbacks: int = 0

    def answer_rate(self) -> float | None:
        """answered ÷ (offered − short abandons), as in `callcenter report summary`."""
        base = self.offered - self.short_abandoned
        return round(self.answered / base, 4) if base > 0 else None

    def service_level(self) -> float | None:
        """answered within T ÷ (answered + abandoned after T)."""
        base = self.answered + self.abandoned_after_sl
        return round(self.answered_within_sl / base, 4) if base > 0 else None


class TodayStats:
    def __init__(self, sl_seconds: dict[str, int], timezone: str, short_abandon_seconds: int,
                 clock: Clock = SYSTEM):
        self.clock = clock
        self.sl_ms = {q: s * 1000 for q, s in sl_seconds.items()}
        self.tz = ZoneInfo(timezone)
        self.short_ms = short_abandon_seconds * 1000
        self.day = self._today()
        self.queues: dict[str, QueueDay] = {q: QueueDay() for q in sl_seconds}
        self._callback_entries: set[str] = set()

    def _today(self) -> dt.date:
        return self.clock.now(self.tz).date()

    def _roll(self) -> None:
        today = self._today()
        if today != self.day:
            self.day = today
            self.queues = {q: QueueDay() for q in self.queues}
            self._callback_entries.clear()

    def on_event(self, event: Event) -> None:
        if not event.kind.startswith("queue.") or event.queue not in self.queues:
            return
        self._roll()
        q, data = self.queues[event.queue], event.data
        sl = self.sl_ms[event.queue]
        wait = int(data.get("wait_ms") or 0)
        if event.kind == "queue.enter" and data.get("reason") != "requeue":
            q.offered += 1
        elif event.kind == "queue.answer" and data.get("entry") not in self._callback_entries:
            q.answered += 1
            q.answered_within_sl += wait <= sl
        elif event.kind == "queue.abandon":
            if wait < self.short_ms:
                q.short_abandoned += 1
            else:
                q.abandoned += 1
                q.abandoned_after_sl += wait > sl
        elif event.kind == "queue.overflow":
            q.overflowed += 1
        elif event.kind == "queue.callback_request":
            q.callbacks += 1
            self._callback_entries.add(str(data.get("entry")))

    def snapshot(self) -> dict[str, dict[str, object]]:
        self._roll()
        return {name: {**asdict(q), "sl_seconds": self.sl_ms[name] // 1000,
                       "answer_rate": q.answer_rate(), "service_level": q.service_level()}
                for name, q in self.queues.items()}
