"""Transfers and returns: an agent hands the caller to another queue (the keypad's `##`
plus a queue code, or a flow), and a queued caller whose daemon restarted comes back. Either
way the caller keeps the first enqueue time and priority the dialplan carries for it."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from panoramisk.message import Message

from callcenter.acd.live.calls import clean_label
from callcenter.agi import AgiSession
from callcenter.contract import Next, Var

if TYPE_CHECKING:
    from callcenter.acd.live.service import LiveAcd

__all__ = ["Transfers"]

log = logging.getLogger(__name__)


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


class Transfers:
    def __init__(self, acd: LiveAcd) -> None:
        self.acd = acd
        self.ctx = acd.ctx

    async def to_queue(self, session: AgiSession, queue: str) -> None:
        """The agent's call ends (wrap-up) and the caller waits in `queue` with its
        original enqueue time and priority."""
        ctx = self.ctx
        if queue not in ctx.spec.queues:
            await session.set_variable(Var.NEXT, Next.FALLBACK)
            return
        call = ctx.calls.get(session.uniqueid)
        since = _int(await session.get_variable(Var.ENQUEUED))
        prio = _int(await session.get_variable(Var.PRIORITY)) or 0
        label = (call.label if call else await session.get_variable(Var.LABEL)) or ""
        if call is not None:
            label = label.replace(call.queue, queue)  # the screen pop names the new queue
        caller = call.caller if call else ""
        from_queue = call.queue if call else ""
        if call is not None:
            log.info("agent %s transfers the caller from %s to %s", call.agent, call.queue,
                     queue)
            ctx.emit("queue.transfer", call, call.agent, to_queue=queue,
                     talk_ms=ctx.now() - call.answered_ms if call.answered_ms else 0)
            since, prio = call.enqueued_ms, call.priority  # the daemon's own record wins
            self.acd.offers.ended(call.call_id, how="")
        ctx.stats.count("transferred")
        await self.acd.wait(session, queue=queue, priority=prio, caller=caller,
                            enqueued_ms=since, reason="transfer", from_queue=from_queue,
                            label=clean_label(label))

    def on_attended_transfer(self, msg: Message) -> None:
        """AMI AttendedTransfer: the agent talked to the target first (`*2`), then hung up
        to hand the caller over. The agent's part of the call is over (wrap-up); the
        consultation leg carried the caller's place into the target queue."""
        if msg.get("Result") != "Success":
            return
        ctx = self.ctx
        call = ctx.calls.get(msg.get("TransfereeUniqueid", ""))
        if call is None or call.state != "answered":
            return
        log.info("agent %s handed the caller over after consulting (%s)", call.agent,
                 msg.get("SecondTransfererExten", "") or "?")
        ctx.emit("queue.transfer", call, call.agent, to_queue="", consulted=True,
                 talk_ms=ctx.now() - call.answered_ms if call.answered_ms else 0)
        ctx.stats.count("transferred")
        self.acd.offers.ended(call.call_id, how="")

    async def back_after_restart(self, session: AgiSession, caller: str) -> None:
        """A queued caller the dialplan brings back (the daemon restarted under it)."""
        queue = await session.get_variable(Var.QUEUE) or ""
        if queue not in self.ctx.spec.queues:
            await session.set_variable(Var.NEXT, Next.FALLBACK)
            return
        prio = _int(await session.get_variable(Var.PRIORITY)) or 0
        since = _int(await session.get_variable(Var.ENQUEUED))
        entry = await session.get_variable(Var.ENTRY) or ""
        entered = _int(await session.get_variable(Var.ENTERED))
        label = await session.get_variable(Var.LABEL)
        log.info("queued caller back after a daemon restart: %s", queue)
        await self.acd.wait(session, queue=queue, priority=prio, caller=caller,
                            enqueued_ms=since, reason="requeue",
                            entry=re.sub(r"[^0-9a-f-]", "", entry)[:36], entered_ms=entered,
                            label=clean_label(label) if label else None)
