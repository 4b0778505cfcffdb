"""The live ACD's counters and recent history, bounded: a daemon that runs for months keeps
the last few hundred of each, never an ever-growing list."""

from __future__ import annotations

import math
from collections import Counter, deque
from typing import Any

__all__ = ["AcdStats"]

RECENT = 100  # offers, callback results and overflows kept for `callcenter status`
SAMPLES = 1000  # ring and queue-to-ring times kept for the medians


def _median(values: deque[int]) -> int | None:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else None


def _percentile(values: deque[float], share: float) -> float | None:
    """The value `share` (0…1) of the samples are at or below, in ms to 0.1 (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = math.ceil(len(ordered) * share)
    return round(ordered[min(len(ordered), max(rank, 1)) - 1], 1)


class AcdStats:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.offers: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self.callbacks: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self.overflows: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self.ring_ms: deque[int] = deque(maxlen=SAMPLES)  # offer to answer
        self.queue_to_ring_ms: deque[int] = deque(maxlen=SAMPLES)
        # the scheduler's offer (the agent free) to the dialplan told to ring it
        self.offer_to_ring_ms: deque[float] = deque(maxlen=SAMPLES)

    def count(self, name: str) -> None:
        self.counts[name] += 1

    def snapshot(self) -> dict[str, Any]:
        base = {k: 0 for k in ("offered", "answered", "abandoned", "no_answer", "overflowed")}
        return {"offers": list(self.offers)[-50:], "callbacks": list(self.callbacks)[-50:],
                "overflows": list(self.overflows)[-50:],
                "stats": base | dict(self.counts)
                | {"answer_ms_median": _median(self.ring_ms),
                   "queue_to_ring_ms_median": _median(self.queue_to_ring_ms),
                   "offer_to_ring_ms_p50": _percentile(self.offer_to_ring_ms, 0.5),
                   "offer_to_ring_ms_p99": _percentile(self.offer_to_ring_ms, 0.99),
                   "offer_to_ring_ms_max": _percentile(self.offer_to_ring_ms, 1.0)}}
