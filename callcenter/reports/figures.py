"""Small arithmetic the reports share: rates, averages, milliseconds as seconds."""

from __future__ import annotations

from typing import Any

__all__ = ["avg", "rate", "secs"]


def rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def avg(total: Any, n: Any) -> float | None:
    return float(total) / n if n and total is not None else None


def secs(ms: Any) -> float | None:
    return None if ms is None else round(float(ms) / 1000, 1)
