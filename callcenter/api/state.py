"""What every endpoint reaches: the site, the job store, the clock and the daemon's live
views, kept on the app (app.state.api)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from callcenter.api.auth import Authenticator
from callcenter.clock import Clock
from callcenter.outbound.jobs import JobStore
from callcenter.site.model import Site

__all__ = ["ApiState", "CallEvents", "Snapshot", "api_state"]

Snapshot = Callable[[], list[dict[str, Any]]]
CallEvents = Callable[[str], Awaitable[list[dict[str, Any]]]]


@dataclass
class ApiState:
    site: Site
    store: JobStore
    clock: Clock
    auth: Authenticator
    queues: Snapshot
    agents: Snapshot
    call_events: CallEvents


def api_state(request: Request) -> ApiState:
    """A dependency: the app's state."""
    return request.app.state.api
