"""Overflow: where a call goes when it waited its queue's `max_wait_seconds` — another
queue, the same skills at another site, a callback, voicemail, or a polite hang-up. The call
keeps its first enqueue time wherever it goes."""

from __future__ import annotations

import contextlib
import logging
import re
from typing import TYPE_CHECKING

from callcenter.acd import Overflow, SchedulerError
from callcenter.acd.live.calls import WaitingCall
from callcenter.acd.rules import site_overflow_queue
from callcenter.agi import AgiSession
from callcenter.contract import Next, Var
from callcenter.site.flownodes import box_folder

if TYPE_CHECKING:
    from callcenter.acd.live.callbacks import Callbacks
    from callcenter.acd.live.context import AcdContext

__all__ = ["Overflows", "overflow_queue"]

log = logging.getLogger(__name__)


def overflow_queue(ctx: AcdContext, call: WaitingCall, target: str) -> str | None:
    """The queue an overflow target names (queue:NAME, or site:NAME's queue with the same
    skills), or None when the target is not a queue."""
    kind, _, name = target.partition(":")
    if kind == "queue" and name in ctx.spec.queues:
        return name
    if kind == "site":
        return site_overflow_queue(ctx.spec.queues, call.queue, name)
    return None


class Overflows:
    def __init__(self, ctx: AcdContext, callbacks: Callbacks) -> None:
        self.ctx = ctx
        self.callbacks = callbacks

    async def route(self, session: AgiSession, call: WaitingCall, d: Overflow) -> str | None:
        """Send the call to `d.target`; returns the queue it is to wait in next, or None when
        its wait here is over (called back, voicemail, hang-up, fallback)."""
        ctx = self.ctx
        ctx.stats.count("overflowed")
        log.info("call overflows from %s to %s", call.queue, d.target)
        ctx.emit("queue.overflow", call, wait_ms=ctx.now() - call.entered_ms, target=d.target)
        ctx.stats.overflows.append({"call": call.call_id, "queue": call.queue,
                                    "target": d.target})
        if d.target.partition(":")[0] == "callback" and call.caller:
            # the scheduler keeps the call in its place as a callback request
            await self.callbacks.request(session, call, already=True)
            return None
        ctx.calls.pop(call.call_id)
        with contextlib.suppress(SchedulerError):
            ctx.apply(ctx.scheduler.leave(call.call_id, ctx.now(), "overflowed"))
        target = overflow_queue(ctx, call, d.target)
        if target is None:
            await self._finish(session, call, d)
        return target

    async def _finish(self, session: AgiSession, call: WaitingCall, d: Overflow) -> None:
        """The targets that end the caller's wait here: voicemail, hang-up, fallback."""
        ctx = self.ctx
        kind, _, box = d.target.partition(":")
        if kind == "voicemail":
            await session.command("STREAM FILE", ctx.sound("closed"), "")
            folder = ctx.sounds.parent / "voicemail" / box_folder(box)
            # render made the boxes (Asterisk's, 0700): the daemon's own user may not
            with contextlib.suppress(OSError):
                folder.mkdir(parents=True, exist_ok=True)
            stamp = ctx.clock.now().strftime("%Y%m%d-%H%M%S")
            name = f"{stamp}-{re.sub(r'[^0-9a-zA-Z-]', '-', call.call_id)}"
            await session.command("RECORD FILE", str(folder / name), "wav", "#", 120000,
                                  "BEEP", "s=5")
            await session.set_variable(Var.NEXT, Next.HANGUP)
        elif kind == "hangup":
            await session.command("STREAM FILE", ctx.sound("sorry"), "")
            await session.set_variable(Var.NEXT, Next.HANGUP)
        else:  # a site with no matching queue, or anything unknown: the static fallback
            await session.set_variable(Var.NEXT, Next.FALLBACK)
