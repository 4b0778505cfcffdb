"""The daemon's heartbeat: CC_ALIVE (epoch seconds) set on Asterisk every second. The
dialplan sends new calls to the static fallback when it goes stale (a hung or stopped
daemon); in a centre of several nodes only the leader beats, on every node, and with it
tells the nodes where to hand calls (CC_AGI) and its term (docs/cluster.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from callcenter.contract import Var

__all__ = ["Heartbeat"]

log = logging.getLogger(__name__)

REFRESH = 10  # beats between two settings of the unchanged extra globals


class Heartbeat:
    def __init__(self, ami: Any, *, extra: Callable[[], dict[str, str]] = dict,
                 beating: Callable[[], bool] = lambda: True,
                 clock: Callable[[], float] = time.time) -> None:
        self.ami = ami
        self.extra = extra  # more globals set with each beat (the leader's address, term)
        self.beating = beating  # a standby stays silent
        self.clock = clock
        self.beats = 0
        self._told: dict[str, str] = {}  # the extra globals as last set
        # a restarted Asterisk has lost its globals: beat at once, not at the next tick, or
        # the first calls after the restart go to the fallback
        ami.on_ready(lambda: self.beat(everything=True))

    async def beat(self, *, everything: bool = False) -> None:
        if not self.beating():
            return
        try:
            # the leader's address and term change with the lead only: set when they do,
            # after a (re)connect, and every REFRESH beats (a node that missed one), not
            # every second
            everything = everything or self.beats % REFRESH == 0
            for name, value in self.extra().items():
                if everything or self._told.get(name) != value:
                    await self.ami.set_global(name, value)
                    self._told[name] = value
            await self.ami.set_global(Var.ALIVE, str(int(self.clock())))
            self.beats += 1
        except Exception as exc:  # AMI trouble is the AMI client's to report
            log.debug("heartbeat not sent: %s", exc)

    async def run_forever(self, interval: float = 1.0) -> None:
        while True:
            if self.ami.connected.is_set():
                await self.beat()
                await asyncio.sleep(interval)
            else:  # the first beat goes out as soon as AMI is up: calls then reach flows
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.ami.connected.wait(), interval)
