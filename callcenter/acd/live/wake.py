"""Ending a waiting caller's AGI command from the daemon side, the moment the scheduler
decides (an offer or an overflow): AMI `PlayDTMF` with `Receive: yes` queues a DTMF frame on
the caller's channel as if the caller had pressed it, which ends the `WAIT FOR DIGIT` (or a
`STREAM FILE` that lists the digit among its escape digits) under way.

So a caller can wait with one long `WAIT FOR DIGIT` (until the next announcement or
callback offer, at most CAP_MS) instead of one a second, and a freed agent is offered the
next caller within an AMI round trip instead of up to a second later.

The digit is WAKE_DIGIT, "D": no phone keypad has it, so a caller's own key is never taken
for it, and the hold loop only ever reads it as "look at the decision again"."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from callcenter.agi import AgiSession
from callcenter.agi.protocol import AgiResponse

if TYPE_CHECKING:
    from callcenter.acd.live.calls import WaitingCall
    from callcenter.acd.live.context import AcdContext

__all__ = ["CAP_MS", "POLL_MS", "WAKE_DIGIT", "Wakeable"]

log = logging.getLogger(__name__)

WAKE_DIGIT = "D"
CAP_MS = 30_000  # the longest single wait when the daemon can end it (no timed thing sooner)
POLL_MS = 1_000  # without AMI the daemon cannot end a wait: poll as before, once a second
# a wake whose frame Asterisk read before the command (and dropped) is sent again this often
RETRY_SECONDS = 0.25
_SLACK_SECONDS = 10.0  # how much longer than its own timeout a wait may take to answer


class Wakeable:
    """One caller's session while it holds: `run` sends a command that the call's decision
    ends early. Close it when the hold is over (`with`)."""

    def __init__(self, ctx: AcdContext, session: AgiSession, call: WaitingCall) -> None:
        self.ctx, self.session, self.call = ctx, session, call
        self.wakes = 0  # PlayDTMF actions sent (tests and the benchmark read it)
        self._running = False  # an interruptible command is under way
        self._kicking = False
        self._decision = call.decision
        self._decision.add_done_callback(self._decided)

    def __enter__(self) -> Wakeable:
        return self

    def __exit__(self, *_: object) -> None:
        self._decision.remove_done_callback(self._decided)
        self._running = False

    def can_wake(self) -> bool:
        """AMI is up and the channel's name is known: a decision can end a wait."""
        ami = self.ctx.ami
        connected = getattr(ami, "connected", None)
        return bool(ami is not None and connected is not None and connected.is_set()
                    and self.session.channel)

    def longest_wait_ms(self) -> int:
        return CAP_MS if self.can_wake() else POLL_MS

    async def run(self, name: str, *args: str | int, seconds: float = 0.0) -> AgiResponse:
        """Send one interruptible command (WAIT FOR DIGIT, STREAM FILE with WAKE_DIGIT among
        its escape digits) that may take `seconds` by itself."""
        self._running = True
        if self.call.decision.done():  # decided as the command was being sent: end it too
            self._kick_soon()
        try:
            return await self.session.command(name, *args,
                                              timeout=max(seconds + _SLACK_SECONDS,
                                                          self.session.timeout))
        finally:
            self._running = False

    def _decided(self, _future: asyncio.Future[Any]) -> None:
        if self._running:
            self._kick_soon()

    def _kick_soon(self) -> None:
        if not self._kicking and self.can_wake():
            self._kicking = True
            self.ctx.spawn(self._kick())

    async def _kick(self) -> None:
        """PlayDTMF until the command under way has ended. Asterisk drops a frame that
        arrives between two AGI commands, so one sent just before Asterisk read the command
        is lost: the next one, RETRY_SECONDS later, ends it."""
        warned = False
        try:
            while self._running:
                self.wakes += 1
                # not waiting for the answer: the next try comes RETRY_SECONDS later anyway
                sent = self.ctx.ami.send_quiet([{"Action": "PlayDTMF",
                                                 "Channel": self.session.channel,
                                                 "Digit": WAKE_DIGIT, "Receive": "yes"}])
                if not sent and not warned:  # the AGI wait ends by itself
                    log.warning("could not end %s's wait at once: AMI not connected",
                                self.session.channel)
                    warned = True
                await asyncio.sleep(RETRY_SECONDS)
        finally:
            self._kicking = False
