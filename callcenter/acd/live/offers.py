"""Offers to agents: ringing the agent's phone, and what happens after — answered, not
answered (the caller keeps the same place; the agent is ready again, or paused after too
many misses in a row or when the phone is busy or unreachable), the conversation's end
and the wrap-up that follows."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from panoramisk.message import Message

from callcenter.acd import Offer, SchedulerError
from callcenter.acd.live.calls import WaitingCall, send_unsent
from callcenter.agents import AgentRecord, AgentState
from callcenter.agi import AgiSession
from callcenter.contract import Next, Var

if TYPE_CHECKING:
    from callcenter.acd.live.agentfeed import AgentFeed
    from callcenter.acd.live.context import AcdContext

__all__ = ["Offers", "ring_failure_reason"]

log = logging.getLogger(__name__)


def ring_failure_reason(dial_status: str) -> str:
    """The scheduler's reason for a Dial that did not connect."""
    return {"BUSY": "busy", "CHANUNAVAIL": "unreachable",
            "CONGESTION": "unreachable"}.get(dial_status, "no_answer")


class Offers:
    def __init__(self, ctx: AcdContext, feed: AgentFeed) -> None:
        self.ctx = ctx
        self.feed = feed
        self._wrapping: dict[str, WaitingCall] = {}  # agent -> the call it wraps up
        ctx.book.transitions.append(self._agent_moved)

    # ---- the offer -------------------------------------------------------------------
    def offered(self, call: WaitingCall, offer: Offer) -> None:
        """The scheduler chose an agent for the call: record it, and ring (the agent's
        lamp and state show ringing)."""
        ctx = self.ctx
        ctx.calls.assign(call, offer.agent_id)
        call.offers += 1
        call.offered_ms = ctx.now()
        call.decided_at = asyncio.get_running_loop().time()
        ctx.stats.count("offered")
        ctx.emit("queue.offer", call, offer.agent_id, attempt=call.offers)
        ctx.stats.offers.append({"call": offer.call_id, "caller": call.caller,
                                 "agent": offer.agent_id, "queue": offer.queue,
                                 "priority": call.priority, "expanded": offer.expanded,
                                 "enqueued_ms": call.enqueued_ms,
                                 "phone": ctx.phone_of(offer.agent_id),
                                 "callback": call.callback})
        ctx.agent(ctx.book.ringing, offer.agent_id)

    async def ring(self, session: AgiSession, call: WaitingCall, offer: Offer) -> None:
        """Tell the dialplan to ring the agent where it is logged in (cc-connect)."""
        q = self.ctx.spec.queues[call.queue]
        phone = self.ctx.phone_of(offer.agent_id)
        self.ctx.stats.queue_to_ring_ms.append(self.ctx.now() - call.enqueued_ms)
        term = self.ctx.term()
        # the node rings nobody for an offer of an older term than its leader's; the
        # stay's own variables go first when the agent was free at once (Waiting.enter)
        await send_unsent(session, call, (Var.AGENT_EXT, phone),
                          (Var.RING_SECONDS, str(q.ring_seconds)),
                          *(((Var.TERM, str(term)),) if term else ()),
                          (Var.NEXT, Next.CONNECT))
        call.ring_started = asyncio.get_running_loop().time()
        if call.decided_at:  # how long the caller's session took to hear of the offer
            self.ctx.stats.offer_to_ring_ms.append((call.ring_started - call.decided_at) * 1000)
        log.debug("offering call to agent %s at %s", offer.agent_id, phone)

    def answered(self, call: WaitingCall) -> None:
        """The agent's phone was answered; once only."""
        if call.state == "answered":
            return
        ctx = self.ctx
        call.state = "answered"
        call.answered_ms = ctx.now()
        ctx.stats.count("answered")
        ctx.emit("queue.answer", call, call.agent, wait_ms=call.answered_ms - call.entered_ms,
                 ring_ms=call.answered_ms - call.offered_ms)
        try:
            ctx.scheduler.answered(call.call_id, ctx.now())
        except SchedulerError as exc:
            log.warning("answered: %s", exc)
        ctx.agent(ctx.book.answered, call.agent)

    def not_taken(self, call: WaitingCall, reason: str) -> None:
        """The agent did not take the call: the caller keeps the same place."""
        ctx = self.ctx
        ctx.stats.count("no_answer")
        ctx.emit("queue.ringnoanswer", call, call.agent, ring_ms=ctx.now() - call.offered_ms,
                 status=reason)
        agent = ctx.calls.release(call)
        call.wait_again()
        if reason == "no_answer":
            ctx.agent(ctx.book.missed, agent)
        try:
            decisions = ctx.scheduler.offer_failed(call.call_id, ctx.now(), reason)
        except SchedulerError as exc:
            log.warning("offer failed: %s", exc)
            decisions = []
        self.feed.release(agent, decisions)

    # ---- AGI and AMI: the ring's result ----------------------------------------------
    async def result(self, session: AgiSession, status: str) -> bool:
        """Dial returned (AGI offer/STATUS). True when the caller must wait again."""
        call = self.ctx.calls.get(session.uniqueid)
        if call is None:
            await session.set_variable(Var.NEXT, Next.HANGUP)
            return False
        if status == "ANSWER" or call.state == "answered":
            self.ended(call.call_id, how="agent")  # the caller is still here: agent hung up
            await session.set_variable(Var.NEXT, Next.HANGUP)
            return False
        log.info("agent %s did not take the call (%s); the caller keeps the same place",
                 call.agent, status)
        self.not_taken(call, ring_failure_reason(status))
        return True

    def on_dial_end(self, msg: Message) -> None:
        call = self.ctx.calls.get(msg.get("Uniqueid", ""))
        if call is None or call.state != "offered" or msg.get("DialStatus") != "ANSWER":
            return
        if call.ring_started:
            self.ctx.stats.ring_ms.append(
                int((asyncio.get_running_loop().time() - call.ring_started) * 1000))
        self.answered(call)
        log.debug("agent %s answered", call.agent)

    # ---- the end of the agent's part ---------------------------------------------------
    def ended(self, call_id: str, how: str) -> None:
        """The agent's part is over: `how` the conversation ended (agent or caller hung
        up), "" when a transfer or callback result is recorded instead."""
        ctx = self.ctx
        call = ctx.calls.pop(call_id)
        if call is None or not call.agent:
            return
        agent = call.agent
        if how:
            ctx.emit("queue.complete", call, agent, by=how,
                     talk_ms=ctx.now() - call.answered_ms if call.answered_ms else 0)
        wrap = ctx.spec.queues[call.queue].wrap_up_seconds
        ctx.agent(ctx.book.call_ended, agent, wrap > 0)
        if ctx.book.get(agent).state == AgentState.WRAP_UP:
            self._wrapping[agent] = call
            ctx.spawn(self._after_wrap(agent, wrap))

    async def _after_wrap(self, agent: str, seconds: int) -> None:
        await asyncio.sleep(seconds)
        if self.ctx.book.get(agent).state == AgentState.WRAP_UP:
            self.ctx.agent(self.ctx.book.ready, agent)

    def _agent_moved(self, rec: AgentRecord, prev: AgentState, since: float,
                     reason: str) -> None:
        call = self._wrapping.pop(rec.agent_id, None) if prev == AgentState.WRAP_UP else None
        if call is not None:
            self.ctx.emit("queue.wrapup", call, rec.agent_id,
                          wrap_ms=max(0, int((rec.since - since) * 1000)))

    def forget_wrap(self, agent: str) -> None:
        self._wrapping.pop(agent, None)

    def snapshot(self) -> dict[str, Any]:
        return {"wrapping": sorted(self._wrapping)}
