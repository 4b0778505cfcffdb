"""The ACD scheduler: which waiting call goes to which free agent (docs/routing.md).

The compiled `_scheduler_c` is used when it was built and `CALLCENTER_NO_EXTENSIONS` is unset
or empty; otherwise the pure-Python `_scheduler_py`, which takes exactly the same decisions.
`IMPLEMENTATION` says which one was loaded ("c" or "py"). docs/scheduler.md describes the
two twins' modules, what they share and what must mirror.
"""

from __future__ import annotations

import os

from .types import (
    AgentPaused,
    AgentStatus,
    CallStatus,
    Decision,
    Offer,
    Overflow,
    QueueConfig,
    QueueStatus,
    SchedulerError,
)

__all__ = [
    "IMPLEMENTATION",
    "AgentPaused",
    "AgentStatus",
    "CallStatus",
    "Decision",
    "Offer",
    "Overflow",
    "QueueConfig",
    "QueueStatus",
    "Scheduler",
    "SchedulerError",
]

IMPLEMENTATION: str
if os.environ.get("CALLCENTER_NO_EXTENSIONS"):
    from ._scheduler_py import Scheduler

    IMPLEMENTATION = "py"
else:
    try:
        from ._scheduler_c import Scheduler  # type: ignore[no-redef]

        IMPLEMENTATION = "c"
    except ImportError:  # not built (no compiler or Cython at install time)
        from ._scheduler_py import Scheduler  # type: ignore[no-redef]

        IMPLEMENTATION = "py"
