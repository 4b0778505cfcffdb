"""What follows the agent book besides the scheduler: the desk phones' lamps (BLF, a
Custom:agent-ID device state per agent) and the `agent.state` event of every change."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from callcenter.agents import AgentBook, AgentRecord
from callcenter.agents.state import DEVICE_STATES, AgentState

__all__ = ["AgentLamps"]

log = logging.getLogger(__name__)

WINDOW = 200  # lamp actions in flight at a connect: Asterisk's manager queue stays short
FLUSH_SECONDS = 0.02  # a lamp change waits at most this long for others to share its write


def _setvar(rec: AgentRecord) -> dict[str, str]:
    return {"Action": "Setvar", "Variable": f"DEVICE_STATE(Custom:agent-{rec.agent_id})",
            "Value": DEVICE_STATES[rec.state]}


class AgentLamps:
    def __init__(self, book: AgentBook, ami: Any, recorder: Any, spec: Any) -> None:
        self.book, self.ami, self.recorder = book, ami, recorder
        self.sites = {a.id: a.site for a in spec.agents}
        self._due: dict[str, AgentRecord] = {}
        self._flush: asyncio.TimerHandle | None = None
        book.listeners.append(self.publish)
        book.transitions.append(self.record)
        ami.on_ready(self.publish_all)

    def record(self, rec: AgentRecord, prev: AgentState, since: float, reason: str) -> None:
        self.recorder.emit("agent.state", agent_id=rec.agent_id,
                           site=self.sites.get(rec.agent_id), state=rec.state.value,
                           reason=rec.pause_reason, prev=prev.value, prev_reason=reason,
                           since=dt.datetime.fromtimestamp(since, dt.UTC).isoformat(),
                           device=rec.device)

    def publish(self, rec: AgentRecord) -> None:
        """Light the agent's lamp within FLUSH_SECONDS: the changes of that moment go in one
        write, not waiting for answers (4 a call, each a round trip, were an eighth of the
        daemon's CPU per call: docs/call-cost.md); a lamp shows the agent's latest state."""
        self._due[rec.agent_id] = rec
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        self._flush = None
        due, self._due = self._due, {}
        if due and not self.ami.send_quiet([_setvar(rec) for rec in due.values()]):
            log.debug("AMI not connected: %d lamps wait for the next connect", len(due))

    async def _set(self, rec: AgentRecord) -> None:
        try:
            await self.ami.action(_setvar(rec))
        except Exception as exc:  # a lamp is not worth failing a call over
            log.warning("could not publish agent %s state: %s", rec.agent_id, exc)

    async def publish_all(self) -> None:
        """Every lamp, at each AMI connect: the actions pipelined, `WINDOW` at a time (one
        round trip after another took 20 s at 20,000 agents, docs/scale.md)."""
        recs = list(self.book.agents.values())
        for i in range(0, len(recs), WINDOW):
            await asyncio.gather(*(self._set(rec) for rec in recs[i:i + WINDOW]))
