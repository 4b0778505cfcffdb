"""How a callback is placed: a caller who pressed 1 (or whose queue overflows to callback)
hangs up and keeps the place; when an agent is free the daemon rings the agent first
(Originate), and once the agent answers dials the customer through the number's first and
second routes (dialplan cc-callback), through the dialling policy. A customer who does not
answer is asked again later, in the same place, up to CALLBACK_ATTEMPTS times."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from panoramisk.message import Message

from callcenter.acd import Offer, Scheduler, SchedulerError
from callcenter.acd.live.calls import WaitingCall, screen_label
from callcenter.agi import AgiSession
from callcenter.contract import Next, Var

if TYPE_CHECKING:
    from callcenter.acd.live.agentfeed import AgentFeed
    from callcenter.acd.live.context import AcdContext
    from callcenter.acd.live.offers import Offers

__all__ = ["CALLBACK_ATTEMPTS", "Callbacks", "requeue_callback"]

CALLBACK_ATTEMPTS = 3  # dialling the customer, then the final status is "failed"

log = logging.getLogger(__name__)


def requeue_callback(scheduler: Scheduler, call_id: str, queue: str, now: int, *,
                     priority: int, enqueue_time: int) -> list[Any]:
    """Put a callback retry back in its old place and return the scheduler's decisions.

    `enqueue` may offer the call at once to a free agent; `to_callback` would then refuse a
    call that is no longer waiting, and those decisions were lost with the exception: the
    agent stayed reserved (ringing) in the scheduler while the book showed it ready. An
    offered retry keeps its offer."""
    decisions = scheduler.enqueue(call_id, queue, now, priority=priority,
                                  enqueue_time=enqueue_time)
    if any(isinstance(d, Offer) and d.call_id == call_id for d in decisions):
        return decisions
    return decisions + scheduler.to_callback(call_id, now)


class Callbacks:
    def __init__(self, ctx: AcdContext, feed: AgentFeed, offers: Offers) -> None:
        self.ctx = ctx
        self.feed = feed
        self.offers = offers
        self._originates: dict[str, asyncio.Future[str]] = {}

    async def request(self, session: AgiSession, call: WaitingCall, *,
                      already: bool = False) -> None:
        """Hang up now, keep the place, be called back (`already`: the scheduler made the
        call a callback itself, on overflow)."""
        ctx = self.ctx
        if not already:
            try:
                ctx.apply(ctx.scheduler.to_callback(call.call_id, ctx.now()))
            except SchedulerError as exc:
                log.warning("callback: %s", exc)
                return
        call.callback = True
        call.decision = asyncio.get_running_loop().create_future()
        call.number = (await session.get_variable(Var.NUMBER)
                       or ctx.spec.numbers[0].number)
        ctx.stats.count("callbacks_requested")
        ctx.emit("queue.callback_request", call, wait_ms=ctx.now() - call.entered_ms,
                 number=call.number)
        log.info("caller %s asked to be called back; keeps the place in %s", call.caller,
                 call.queue)
        await session.command("SET MUSIC", "off")
        await session.command("STREAM FILE", ctx.sound("callback_confirm"), "")
        await session.set_variable(Var.NEXT, Next.HANGUP)

    def offered(self, call: WaitingCall, offer: Offer) -> None:
        self.offers.offered(call, offer)
        self.ctx.spawn(self._place(call))

    async def _place(self, call: WaitingCall) -> None:
        """Ring the agent, then (dialplan) the customer."""
        ctx = self.ctx
        if ctx.ami is None:
            return
        number = next((n for n in ctx.spec.numbers if n.number == call.number),
                      ctx.spec.numbers[0])
        from callcenter.dialling import decide  # the one outbound policy (docs/dialling.md)

        agent = ctx.agents[call.agent]
        q_site = ctx.spec.queues[call.queue].site or number.site or agent.site
        verdict = decide(ctx.spec, "callback", call.caller, site_name=q_site,
                         emit=ctx.recorder.emit, call_id=call.origin or call.call_id,
                         queue=call.queue)
        if not verdict.allowed:
            # never ring the customer; free the agent and drop the request for good
            ctx.stats.count("callbacks_refused")
            ctx.calls.pop(call.call_id)
            agent_id = ctx.calls.release(call)
            try:
                decisions = ctx.scheduler.leave(call.call_id, ctx.now(), "overflowed")
            except SchedulerError as exc:
                log.warning("refused callback: %s", exc)
                decisions = []
            self.feed.release(agent_id, decisions)
            return
        call.attempts += 1
        action_id = f"cb-{call.call_id}-{call.attempts}"
        q = ctx.spec.queues[call.queue]
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._originates[action_id] = done
        from callcenter.outbound.present import present  # the caller-ID pool's one rule

        shown = present(ctx.spec, ctx.site.base_dir, verdict.dial_digits, "callback", {})
        variables = [f"{Var.CALLBACK_ID}={call.call_id}", f"{Var.PRESENT}={shown.number}",
                     f"{Var.PRESENT2}={shown.fallback}", f"{Var.FIRST}={shown.first}",
                     f"{Var.SECOND}={shown.second}", f"{Var.DIAL_OK}={verdict.dial_digits}"]
        try:
            reply = await ctx.ami.action({
                "Action": "Originate", "ActionID": action_id,
                "Channel": f"PJSIP/{ctx.phone_of(call.agent)}", "Context": "cc-callback",
                "Exten": verdict.dial_digits, "Priority": "1",
                "CallerID": f'"{screen_label("callback", 0, call.queue)}" <{shown.number}>',
                "Timeout": str(q.ring_seconds * 1000), "Async": "true",
                "Variable": ",".join(variables)}, timeout=q.ring_seconds + 10)
            # panoramisk folds the OriginateResponse event into an async Originate's reply
            for msg in reply if isinstance(reply, list) else [reply]:
                if msg.get("Event") == "OriginateResponse":
                    self.on_originate_response(msg)
            response = await asyncio.wait_for(done, q.ring_seconds + 10)
        except Exception as exc:
            # never Originate again blindly: a lost answer may still ring the customer
            log.warning("callback originate %s: %s", action_id, exc)
            response = "Failure"
        finally:
            self._originates.pop(action_id, None)
        if response != "Success":
            log.info("agent %s did not take callback %s", call.agent, call.call_id)
            self.offers.not_taken(call, "no_answer")
            return
        if ctx.calls.get(call.call_id) is not call:
            return  # the customer's result came first (a fast reject): already handled
        self.offers.answered(call)
        log.info("agent %s took callback %s; dialling %s", call.agent, call.call_id,
                 call.caller)

    def on_originate_response(self, msg: Message) -> None:
        done = self._originates.get(msg.get("ActionID", ""))
        if done is not None and not done.done():
            done.set_result(msg.get("Response", "Failure"))

    def on_user_event(self, msg: Message) -> None:
        """The dialplan's CallcenterCallback event: how dialling the customer went."""
        if msg.get("UserEvent") != "CallcenterCallback":
            return
        ctx = self.ctx
        call = ctx.calls.get(msg.get("Id", ""))
        if call is None:
            return
        status = msg.get("Status", "")
        # the customer's result may overtake the Originate reply: the agent did answer
        if call.state == "offered" and call.agent:
            self.offers.answered(call)
        final = "completed" if status == "ANSWER" else (
            "failed" if call.attempts >= CALLBACK_ATTEMPTS else "retry")
        ctx.stats.count(f"callbacks_{final}")
        ctx.emit("queue.callback_result", call, call.agent, attempt=call.attempts,
                 status=status, result=final)
        ctx.stats.callbacks.append({"call": call.call_id, "caller": call.caller,
                                    "status": status, "attempt": call.attempts,
                                    "result": final})
        log.info("callback %s to %s: %s (%s)", call.call_id, call.caller, final, status)
        self.offers.ended(call.call_id, how="")
        if final == "retry":
            ctx.spawn(self._retry(call))

    async def _retry(self, call: WaitingCall) -> None:
        """The customer did not answer: ask again later, in the same place."""
        ctx = self.ctx
        await asyncio.sleep(ctx.spec.queues[call.queue].callback_retry_seconds)
        retry = WaitingCall(f"{call.call_id}-r{call.attempts}", call.queue, call.priority,
                            call.caller, call.label, call.enqueued_ms, number=call.number,
                            callback=True, attempts=call.attempts, entry=call.entry,
                            entered_ms=call.entered_ms, origin=call.origin or call.call_id)
        ctx.calls.add(retry)
        try:
            ctx.apply(requeue_callback(ctx.scheduler, retry.call_id, retry.queue, ctx.now(),
                                       priority=retry.priority,
                                       enqueue_time=min(retry.enqueued_ms, ctx.now())))
        except SchedulerError as exc:
            ctx.calls.pop(retry.call_id)
            log.warning("callback retry of %s not queued: %s", call.caller, exc)
