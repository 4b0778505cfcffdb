"""The callers the live ACD holds: one owner of waiting-call state, and the screen-pop label."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from callcenter.agi import AgiSession

__all__ = ["CallBook", "WaitingCall", "clean_label", "screen_label", "send_unsent"]


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


@dataclass
class WaitingCall:
    """One caller in one queue. `decision` resolves when the scheduler offers the call to an
    agent or sends it elsewhere; `state` is waiting, offered or answered."""

    call_id: str
    queue: str
    priority: int
    caller: str
    label: str
    enqueued_ms: int  # first joined a queue: kept through overflow, transfer and restart
    decision: asyncio.Future[Any] = field(default_factory=_future)
    agent: str = ""
    state: str = "waiting"
    number: str = ""  # the number the caller dialled (its routes call them back)
    callback: bool = False
    attempts: int = 0
    entry: str = field(default_factory=lambda: str(uuid.uuid4()))  # this stay in this queue
    entered_ms: int = 0
    origin: str = ""  # the caller's channel id (a callback retry has a call id of its own)
    offers: int = 0
    offered_ms: int = 0
    answered_ms: int = 0
    ring_started: float = 0.0  # loop time the agent's phone began to ring
    decided_at: float = 0.0  # loop time the scheduler offered it (the agent was free)
    # channel variables of the stay not yet in the channel: sent with the offer's when an
    # agent was free at once (one AGI round trip a call fewer), else before the caller waits
    unsent: tuple[tuple[str, str], ...] = ()

    def wait_again(self) -> None:
        """Back to waiting in the same place after an offer that did not connect."""
        self.agent, self.state = "", "waiting"
        self.decision = _future()


async def send_unsent(session: AgiSession, call: WaitingCall, *more: tuple[str, str]) -> None:
    """The stay's channel variables not in the channel yet, and `more` (which win where both
    name one: CC_NEXT), in one round trip."""
    names = {name for name, _ in more}
    pairs = (*(p for p in call.unsent if p[0] not in names), *more)
    call.unsent = ()
    if pairs:
        await session.set_variables(pairs)


def clean_label(text: str) -> str:
    """What a phone's caller name may hold: word characters, spaces, dots and dashes, 40 at
    most (it reaches the dialplan as CALLERID(name))."""
    return re.sub(r"[^\w .-]", "", text)[:40]


def screen_label(contact: str, vip: int, queue: str) -> str:
    """The caller name the agent's phone shows: VIP tier, student/parent name, queue."""
    return clean_label(" ".join(p for p in (f"VIP{vip}" if vip else "", contact, queue) if p))


class CallBook:
    """Every call the ACD holds, by call id and by the agent it is offered to or talks to.
    Only these methods change either index, so the two never disagree."""

    def __init__(self) -> None:
        self._calls: dict[str, WaitingCall] = {}
        self._by_agent: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[WaitingCall]:
        return iter(list(self._calls.values()))

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._calls

    def by_agent(self) -> dict[str, str]:
        """Agent → the call offered to it or talking to it (a copy: a view for tests and
        status)."""
        return dict(self._by_agent)

    def get(self, call_id: str) -> WaitingCall | None:
        return self._calls.get(call_id)

    def add(self, call: WaitingCall) -> None:
        self._calls[call.call_id] = call

    def pop(self, call_id: str) -> WaitingCall | None:
        call = self._calls.pop(call_id, None)
        if call is not None and call.agent and self._by_agent.get(call.agent) == call_id:
            del self._by_agent[call.agent]
        return call

    def assign(self, call: WaitingCall, agent: str) -> None:
        call.agent, call.state = agent, "offered"
        self._by_agent[agent] = call.call_id

    def release(self, call: WaitingCall) -> str:
        """The call no longer has an agent; returns the agent it had."""
        agent = call.agent
        if agent and self._by_agent.get(agent) == call.call_id:
            del self._by_agent[agent]
        call.agent = ""
        return agent

    def of_agent(self, agent: str) -> WaitingCall | None:
        call_id = self._by_agent.get(agent)
        return self._calls.get(call_id) if call_id else None

    def waiting_by_queue(self) -> dict[str, list[WaitingCall]]:
        """`waiting_in` of every queue, in one pass (the wallboard's frame)."""
        out: dict[str, list[WaitingCall]] = {}
        for c in self._calls.values():
            if c.state == "waiting" and not c.callback:
                out.setdefault(c.queue, []).append(c)
        return out

    def waiting_in(self, queue: str) -> list[WaitingCall]:
        """Callers waiting on the line in `queue` (not offered, not callback requests)."""
        return [c for c in self._calls.values()
                if c.queue == queue and c.state == "waiting" and not c.callback]
