"""The scheduler follows the agent book: the book is the one owner of agent state, and every
change to it is pushed here, one way, into the scheduler's view.

A ring in progress is the exception: the scheduler reserved the agent for an offer, and only
the offer's result (answered, not answered, caller gone) releases it — so while the
scheduler shows the agent ringing, nothing but a logout is pushed."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from callcenter.acd import AgentPaused, SchedulerError
from callcenter.agents import AgentRecord, AgentState

if TYPE_CHECKING:
    from callcenter.acd.live.context import AcdContext

__all__ = ["AgentFeed"]

log = logging.getLogger(__name__)

# the scheduler's name for each book state (ringing is the scheduler's own reservation)
_TARGET = {AgentState.READY: "ready", AgentState.RINGING: "ringing",
           AgentState.ON_CALL: "busy", AgentState.WRAP_UP: "wrap_up",
           AgentState.PAUSED: "paused"}


class AgentFeed:
    def __init__(self, ctx: AcdContext) -> None:
        self.ctx = ctx

    def follow(self) -> None:
        """Listen to the book, and bring in the agents logged in before a restart."""
        self.ctx.book.listeners.append(self.sync)
        for rec in self.ctx.book.agents.values():
            if rec.state != AgentState.LOGGED_OUT:
                self.sync(rec)

    def sync(self, rec: AgentRecord) -> None:
        """Bring the scheduler to the book's state for this agent (a no-op when it is)."""
        s, aid = self.ctx.scheduler, rec.agent_id
        try:
            try:
                status = s.agent_status(aid)
            except SchedulerError:
                status = None
            if rec.state == AgentState.LOGGED_OUT:
                if status is not None:
                    self.ctx.apply(s.logout(aid, self.ctx.now()))
                return
            if status is None:
                agent = self.ctx.agents[aid]
                self.ctx.apply(s.login(aid, self.ctx.now(), site=agent.site,
                                       skills=dict(agent.skills)))
                status = s.agent_status(aid)
            target = _TARGET[rec.state]
            if status.state == "ringing" or target == "ringing":
                return  # settled by the offer's result, never from here
            reason = rec.pause_reason or "break"
            if status.state == target and (target != "paused" or status.reason == reason):
                return
            move = {"ready": s.ready, "busy": s.busy, "wrap_up": s.wrap_up}.get(target)
            now = self.ctx.now()
            self.ctx.apply(move(aid, now) if move else s.pause(aid, now, reason))
        except SchedulerError as exc:
            log.warning("agent %s: %s", aid, exc)

    def release(self, agent_id: str, decisions: list[object]) -> None:
        """A ring ended without a conversation (not answered, caller gone, callback
        refused): the agent is ready again unless the scheduler paused it (then its
        AgentPaused decision says why) — set in the book before the decisions are applied,
        since they may offer this very agent the next call."""
        if not any(isinstance(d, AgentPaused) and d.agent_id == agent_id for d in decisions):
            rec = self.ctx.book.agents.get(agent_id)
            if rec is not None and rec.state == AgentState.RINGING:
                self.ctx.agent(self.ctx.book.ready, agent_id)
        self.ctx.apply(list(decisions))
