"""One automatic call being placed, as the dialler knows it until its result is stored."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from callcenter.outbound.jobs import Job

__all__ = ["InFlight"]


@dataclass
class InFlight:
    """One attempt being placed, as the dialler knows it until its result is stored."""

    attempt_id: str
    job: Job
    campaign: str
    trunk: str
    caller_id: str
    caller_id_kind: str
    started: float  # monotonic
    script_result: str | None = None
    dial_status: str | None = None
    cause: str = ""
    script_done: asyncio.Event = field(default_factory=asyncio.Event)
    finishing: bool = False
    connected: bool = False  # a lead answered and handed to the queue
    # placed by an earlier daemon (reconcile.py): never "just sent", settled at each pass
    # until Asterisk tells how it ended
    adopted: bool = False
