"""Callers waiting: a caller handed to a queue waits inside its FastAGI session (music on
hold, announcements, the offer to be called back) until the scheduler offers it to an agent
or sends it elsewhere; a caller who hangs up while waiting or ringing has abandoned."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING

from callcenter.acd import Offer, Overflow, SchedulerError
from callcenter.acd.live.announce import announcement, invite_to_survey, play_announcement
from callcenter.acd.live.calls import WaitingCall, clean_label, screen_label, send_unsent
from callcenter.acd.live.wake import WAKE_DIGIT, Wakeable
from callcenter.agi import AgiHangup, AgiSession
from callcenter.contract import Next, Var

if TYPE_CHECKING:
    from callcenter.acd.live.agentfeed import AgentFeed
    from callcenter.acd.live.context import AcdContext

__all__ = ["Waiting"]

log = logging.getLogger(__name__)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat()


def wait_seconds(now: float, due: list[float], longest_ms: int) -> float:
    """How long the next WAIT FOR DIGIT lasts: until the first of `due` (loop times), at
    least 1 ms, at most `longest_ms`."""
    until = min(due, default=now + longest_ms / 1000) - now
    return min(max(until, 0.001), longest_ms / 1000)


class Waiting:
    def __init__(self, ctx: AcdContext, feed: AgentFeed) -> None:
        self.ctx = ctx
        self.feed = feed

    def unstaffed(self, queue: str) -> bool:
        """Nobody who could answer is logged in and unpaused."""
        return self.ctx.scheduler.queue_status(queue).staffed == 0

    async def enter(self, session: AgiSession, *, queue: str, priority: int, caller: str,
                    contact: str = "", vip: int = 0, enqueued_ms: int | None = None,
                    reason: str = "flow", from_queue: str = "", entry: str = "",
                    entered_ms: int | None = None, label: str | None = None
                    ) -> WaitingCall | None:
        """Put the caller in `queue` (or find it there); None when it must take the static
        fallback because nobody can answer. `label`: the screen pop it already had (a
        transfer), else one is made from contact, VIP tier and queue."""
        ctx, call_id = self.ctx, session.uniqueid
        call = ctx.calls.get(call_id)
        if call is not None:
            return call
        if enqueued_ms is None and self.unstaffed(queue):
            # do not keep callers on hold for nothing: the fallback rings the site's phones
            log.info("no agent available for %s: the caller takes the fallback", queue)
            ctx.stats.count("empty")
            ctx.recorder.emit("queue.unstaffed", call_id=call_id, queue=queue,
                              site=ctx.spec.queues[queue].site, caller=caller)
            await session.set_variable(Var.NEXT, Next.FALLBACK)
            return None
        now = ctx.now()
        # a label given (a transfer's, a lead's name) reaches CALLERID(name): cleaned too
        shown = screen_label(contact, vip, queue) if label is None else clean_label(label)
        call = WaitingCall(call_id, queue, priority, caller, shown,
                           enqueued_ms or now, entered_ms=entered_ms or now)
        if entry:
            call.entry = entry
        ctx.calls.add(call)
        ctx.emit("queue.enter", call, priority=priority, caller=caller,
                 reason=reason,
                 from_queue=from_queue, enqueued_at=_iso(call.enqueued_ms))
        # what the dialplan keeps for the caller: a daemon restart brings it back with these
        call.unsent = ((Var.ENTRY, call.entry), (Var.ENTERED, str(call.entered_ms)),
                       (Var.NEXT, Next.QUEUE), (Var.QUEUE, queue),
                       (Var.PRIORITY, str(priority)),
                       (Var.ENQUEUED, str(call.enqueued_ms)), (Var.LABEL, call.label))
        log.debug("caller %s waits in %s (priority %d)", caller or "?", queue, priority)
        ctx.apply(ctx.scheduler.enqueue(call_id, queue, ctx.now(), priority=priority,
                                        caller=caller,
                                        enqueue_time=min(call.enqueued_ms, ctx.now())))
        if not self._rings_at_once(call):
            await send_unsent(session, call)
        return call

    def _rings_at_once(self, call: WaitingCall) -> bool:
        """An agent was free: `hold` hands the offer straight to the ring (no music)."""
        return (call.decision.done() and isinstance(call.decision.result(), Offer)
                and not self.ctx.spec.queues[call.queue].survey_ask_first)

    async def hold(self, session: AgiSession, call: WaitingCall) -> Offer | Overflow | str:
        """Music and announcements until the scheduler decides; "callback" when the caller
        pressed 1 after the offer to be called back. The caller waits in one WAIT FOR DIGIT
        until the next timed thing (announcement, callback offer); the decision ends it at
        once (wake.py), a key the caller presses ends it too."""
        ctx = self.ctx
        q = ctx.spec.queues[call.queue]
        loop = asyncio.get_running_loop()
        try:
            with Wakeable(ctx, session, call) as wake:
                if self._rings_at_once(call):
                    return call.decision.result()  # an agent was free: no music at all
                await session.command("SET MUSIC", "on", q.music_class)
                started = loop.time()
                next_announce = (started + max(q.announce.first_after, 1)
                                 if q.announce.every else None)
                offer_at = (started + q.callback_offer_after_seconds
                            if q.callback_offer_after_seconds is not None and call.caller
                            else None)
                offered = False
                # a survey-first queue: only callers who press 1 get the survey
                # (docs/surveys.md)
                survey = (await invite_to_survey(session, ctx.sounds, q.music_class,
                                                 run=wake.run)
                          if q.survey_ask_first else "")
                if survey == "pressed":
                    ctx.emit("survey.optin", call)
                while not call.decision.done():
                    due = [t for t in (next_announce, None if offered else offer_at)
                           if t is not None]
                    seconds = wait_seconds(loop.time(), due, wake.longest_wait_ms())
                    resp = await wake.run("WAIT FOR DIGIT", int(seconds * 1000),
                                          seconds=seconds)
                    if call.decision.done():
                        break
                    if offered and resp.value == ord("1"):
                        return "callback"
                    if survey == "asked" and resp.value == ord("1"):
                        await session.set_variable(Var.SURVEY, "yes")
                        survey = "pressed"
                        ctx.emit("survey.optin", call)
                        continue
                    if offer_at is not None and not offered and loop.time() >= offer_at:
                        offered = True
                        await session.command("SET MUSIC", "off")
                        resp = await wake.run("STREAM FILE", ctx.sound("callback_offer"),
                                              "1" + WAKE_DIGIT)
                        await session.command("SET MUSIC", "on", q.music_class)
                        if resp.value == ord("1") and not call.decision.done():
                            return "callback"  # pressed during the offer itself
                        continue
                    if next_announce is not None and loop.time() >= next_announce:
                        next_announce = loop.time() + q.announce.every
                        await self._announce(wake, call)
                if not isinstance(call.decision.result(), Offer):
                    # an offer's agent rings at once: the dialplan ends the music
                    # (cc-after-flow), one AGI round trip fewer a call
                    await session.command("SET MUSIC", "off")
        except AgiHangup:
            self.abandon(call.call_id, "waiting")
            raise
        result: Offer | Overflow = call.decision.result()
        return result

    async def _announce(self, wake: Wakeable, call: WaitingCall) -> None:
        try:
            status = self.ctx.scheduler.call_status(call.call_id)
        except SchedulerError:
            return
        if status.state != "waiting" or status.position < 1:
            return
        q = self.ctx.spec.queues[call.queue]
        items = announcement(status.position, status.estimated_wait, q.announce,
                             self.ctx.spec.company.language)
        if items:
            await play_announcement(wake.session, items, self.ctx.sounds,
                                    music_class=q.music_class, run=wake.run,
                                    stop=call.decision.done)

    def abandon(self, call_id: str, where: str) -> None:
        """The caller hung up while waiting or while an agent's phone rang."""
        ctx = self.ctx
        call = ctx.calls.pop(call_id)
        if call is None:
            return
        ctx.stats.count("abandoned")
        ringing = call.agent if call.state == "offered" else ""
        ctx.emit("queue.abandon", call, wait_ms=ctx.now() - call.entered_ms, ringing=ringing)
        log.info("caller hung up while %s (waited %.1f s)", where,
                 (ctx.now() - call.enqueued_ms) / 1000)
        try:
            decisions = ctx.scheduler.leave(call_id, ctx.now(), "abandoned")
        except SchedulerError as exc:
            log.warning("abandon: %s", exc)
            decisions = []
        if ringing:
            self.feed.release(ringing, decisions)
        else:
            ctx.apply(decisions)
