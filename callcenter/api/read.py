"""Read endpoints for a CRM (scope read): queues and agents as the daemon sees them now, and
a call's stored events from PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Path
from psycopg.rows import dict_row
from pydantic import BaseModel

from callcenter.api.auth import Client, require
from callcenter.api.problems import ApiProblem
from callcenter.api.state import ApiState, api_state
from callcenter.outbound.jobs import StoreUnavailable

__all__ = ["CallView", "EventReader", "Items", "router"]

router = APIRouter(prefix="/v1", tags=["read"])
Caller = Annotated[Client, Depends(require("read"))]
State = Annotated[ApiState, Depends(api_state)]
MAX_EVENTS = 2000  # a call has tens of events; a runaway one is cut, not streamed whole


class Items(BaseModel):
    items: list[dict[str, Any]]


class CallView(BaseModel):
    call_id: str
    events: list[dict[str, Any]]


class EventReader:
    """A call's events from the `events` table, oldest first (one short connection per
    request: a CRM looks up a call now and then)."""

    def __init__(self, dsn: str, *, timeout: float = 5.0):
        self.dsn = dsn
        self.timeout = timeout

    async def __call__(self, call_id: str) -> list[dict[str, Any]]:
        try:
            async with await psycopg.AsyncConnection.connect(
                    self.dsn, connect_timeout=max(1, int(self.timeout)),
                    row_factory=dict_row) as conn:
                cur = await conn.execute(
                    "SELECT at, kind, queue, agent_id, site, data FROM events "
                    "WHERE call_id = %s ORDER BY at, seq LIMIT %s", (call_id, MAX_EVENTS))
                rows = await cur.fetchall()
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"the events database cannot be reached ({exc})") from exc
        return [{**row, "at": _iso(row["at"])} for row in rows]


def _iso(at: dt.datetime) -> str:
    return at.isoformat()


@router.get("/queues", response_model=Items)
async def queues(_: Caller, state: State) -> Items:
    """Each queue and its state now (waiting callers, agents ready, longest wait)."""
    return Items(items=list(state.queues()))


@router.get("/agents", response_model=Items)
async def agents(_: Caller, state: State) -> Items:
    """Each agent and its state now."""
    return Items(items=list(state.agents()))


@router.get("/calls/{call_id}", response_model=CallView)
async def call(call_id: Annotated[str, Path(min_length=1, max_length=100,
                                            pattern=r"^[A-Za-z0-9._:-]+$")],
               _: Caller, state: State) -> CallView:
    """A call by its id (the webhooks' and screen pop's call_id) with its stored events."""
    events = await state.call_events(call_id)
    if not events:
        raise ApiProblem(404, "not-found", "No such call",
                         f"no events are stored for call {call_id!r} — check the id (calls "
                         "spooled during a database outage appear once it is back)")
    return CallView(call_id=call_id, events=events)
