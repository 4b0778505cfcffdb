"""The live ACD, wired: the one object the daemon talks to. It holds no rules of its own —
each concept is a module (waiting, offers, callbacks, transfers, overflow, phones) and the
scheduler's decisions are dispatched here to the module they concern.

The AGI and AMI entry points a newcomer looks for:
- a caller waits: `wait` (waiting.py); the scheduler picks the agent (callcenter.acd);
- the agent's phone rings and the result comes back: `offer_result`, `on_dial_end`,
  `on_hangup` (offers.py);
- callbacks: callbacks.py; transfers and returns after a restart: transfers.py;
- desk phones' channels and reachability: phones.py; overflow targets: overflow.py."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from panoramisk.message import Message

from callcenter.acd import AgentPaused, Offer, Overflow, SchedulerError
from callcenter.acd.live.agentfeed import AgentFeed
from callcenter.acd.live.callbacks import Callbacks
from callcenter.acd.live.calls import WaitingCall
from callcenter.acd.live.context import AcdContext
from callcenter.acd.live.offers import Offers
from callcenter.acd.live.overflow import Overflows
from callcenter.acd.live.phones import Phones
from callcenter.acd.live.transfers import Transfers
from callcenter.acd.live.waiting import Waiting
from callcenter.agents import AgentBook
from callcenter.agi import AgiSession
from callcenter.clock import SYSTEM, Clock
from callcenter.site import Site

__all__ = ["LiveAcd"]

log = logging.getLogger(__name__)


class LiveAcd:
    def __init__(self, site: Site, book: AgentBook, *, sounds: Path | None = None,
                 ami: Any = None, recorder: Any = None, clock: Clock = SYSTEM):
        self.ctx = ctx = AcdContext(site, book, sounds=sounds, ami=ami, recorder=recorder,
                                    clock=clock)
        ctx.apply = self.apply
        self.feed = AgentFeed(ctx)
        self.offers = Offers(ctx, self.feed)
        self.waiting = Waiting(ctx, self.feed)
        self.callbacks = Callbacks(ctx, self.feed, self.offers)
        self.overflows = Overflows(ctx, self.callbacks)
        self.transfers = Transfers(self)
        self.phones = Phones(ctx, self.offers)
        self.feed.follow()
        # AMI and channel-table entry points, by the module that owns them
        self.on_dial_end = self.offers.on_dial_end
        self.on_originate_response = self.callbacks.on_originate_response
        self.on_user_event = self.callbacks.on_user_event
        self.on_contact_status = self.phones.on_contact_status
        self.on_device_state = self.phones.on_device_state
        self.relearn_phones = self.phones.relearn
        self.phone_hung_up = self.phones.hung_up
        self.unreachable_queues = self.ctx.staffing.unreachable_queues
        self.staff_counts = self.ctx.staffing.counts
        self.transfer = self.transfers.to_queue
        self.requeue = self.transfers.back_after_restart
        self.on_attended_transfer = self.transfers.on_attended_transfer

    @property
    def calls(self) -> Any:
        return self.ctx.calls

    @property
    def by_agent(self) -> dict[str, str]:
        return self.ctx.calls.by_agent()

    @property
    def scheduler(self) -> Any:
        return self.ctx.scheduler

    def now(self) -> int:
        return self.ctx.now()

    # ---- the scheduler's decisions -----------------------------------------------------
    def apply(self, decisions: list[Any]) -> None:
        for d in decisions:
            if isinstance(d, Offer):
                call = self.ctx.calls.get(d.call_id)
                if call is None:
                    log.warning("offer of unknown call %s to %s", d.call_id, d.agent_id)
                elif d.callback or call.callback:
                    self.callbacks.offered(call, d)
                elif call.decision.done():
                    log.warning("second offer of call %s to %s", d.call_id, d.agent_id)
                else:
                    self.offers.offered(call, d)
                    call.decision.set_result(d)
            elif isinstance(d, Overflow):
                call = self.ctx.calls.get(d.call_id)
                if call and not call.decision.done():
                    call.decision.set_result(d)
            elif isinstance(d, AgentPaused):
                self.ctx.agent(self.ctx.book.pause, d.agent_id, d.reason)

    async def tick_forever(self) -> None:
        while True:
            await asyncio.sleep(1)
            try:
                self.apply(self.ctx.scheduler.tick(self.ctx.now()))
            except SchedulerError as exc:
                log.warning("tick: %s", exc)

    # ---- a caller in a queue -----------------------------------------------------------
    async def wait(self, session: AgiSession, *, queue: str, priority: int, caller: str,
                   contact: str = "", vip: int = 0, enqueued_ms: int | None = None,
                   reason: str = "flow", from_queue: str = "", entry: str = "",
                   entered_ms: int | None = None, label: str | None = None) -> None:
        """Keep the caller waiting until an agent is offered or the call overflows; then tell
        the dialplan (CC_NEXT) where to go. Returns when the AGI session should end."""
        while True:
            call = await self.waiting.enter(
                session, queue=queue, priority=priority, caller=caller, contact=contact,
                vip=vip, enqueued_ms=enqueued_ms, reason=reason, from_queue=from_queue,
                entry=entry, entered_ms=entered_ms, label=label)
            if call is None:
                return
            outcome = await self.waiting.hold(session, call)
            if outcome == "callback":
                await self.callbacks.request(session, call)
                return
            if isinstance(outcome, Offer):
                await self.offers.ring(session, call, outcome)
                return
            assert isinstance(outcome, Overflow)
            target = await self.overflows.route(session, call, outcome)
            if target is None:
                return
            # the same caller waits in the next queue with its first enqueue time
            label = call.label.replace(call.queue, target)
            queue, enqueued_ms, reason, from_queue = target, call.enqueued_ms, "overflow", \
                call.queue
            entry, entered_ms = "", None

    async def offer_result(self, session: AgiSession, status: str) -> None:
        """Dial returned: the conversation is over, or the caller waits again in its place."""
        if await self.offers.result(session, status):
            call = self.ctx.calls.get(session.uniqueid)
            if call is not None:
                await self.wait(session, queue=call.queue, priority=call.priority,
                                caller=call.caller)

    def on_hangup(self, msg: Message) -> None:
        call_id = msg.get("Uniqueid", "")
        call = self.ctx.calls.get(call_id)
        if call is None:
            return
        if call.state == "answered":
            self.offers.ended(call_id, how="caller")
        elif call.state == "offered":
            self.waiting.abandon(call_id, "ringing an agent")

    # ---- views and stop ----------------------------------------------------------------
    def waiting_calls(self) -> list[WaitingCall]:
        return list(self.ctx.calls)

    def ready_for(self, queue: str) -> int:
        """Agents ready now who are staff of `queue` (the dialler paces lead calls by it)."""
        return self.ctx.staffing.ready(queue)

    def snapshot(self) -> dict[str, Any]:
        ctx = self.ctx
        queues = {}
        for name in ctx.spec.queues:
            st = ctx.scheduler.queue_status(name)
            queues[name] = {"waiting": st.waiting, "staffed": st.staffed}
        return {"waiting": [{"call": c.call_id, "queue": c.queue, "state": c.state,
                             "agent": c.agent, "priority": c.priority, "caller": c.caller}
                            for c in ctx.calls],
                "queues": queues} | ctx.stats.snapshot()

    async def close(self) -> None:
        await self.ctx.close()

