"""The daemon's event loop: uvloop where it is installed (measured: 8.0 → 6.9 ms of daemon
CPU per call at 40 calls/s, docs/call-cost.md), else the standard library's.
`CALLCENTER_EVENT_LOOP=asyncio` forces the standard loop (to compare, or to debug with
asyncio's own debug mode)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["ENV", "loop_name", "run"]

ENV = "CALLCENTER_EVENT_LOOP"
T = TypeVar("T")


def loop_name() -> str:
    """"uvloop" or "asyncio": the loop `run` will use."""
    if os.environ.get(ENV, "").strip().lower() == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to the end on the chosen loop."""
    if loop_name() == "uvloop":
        import uvloop
        return uvloop.run(main)
    return asyncio.run(main)
