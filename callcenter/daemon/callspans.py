"""A call's span in the store: `call.start` when this daemon sees it begin, `call.end` (with
its duration and the flow's outcome) when its channel hangs up — once per call, whichever
daemon saw it start (docs/cluster.md, "Each call ends once")."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Container
from typing import Any

from callcenter.agi import AgiError, AgiHangup, AgiSession
from callcenter.contract import Var

__all__ = ["CallSpans", "resume_call_ends"]

log = logging.getLogger(__name__)

# the channel of a call from a carrier is named PJSIP/trunk-<trunk>-<8 hex digits>
_TRUNK_CHANNEL = re.compile(r"PJSIP/trunk-(.+)-[0-9a-f]{8}$")


class CallSpans:
    """The calls whose end this daemon records: call id -> (start, epoch s; flow outcome)."""

    def __init__(self, site: Any, recorder: Any, wall: Callable[[], float] = time.time):
        self.site = site
        self.recorder = recorder
        self.wall = wall
        self.started: dict[str, tuple[float, str]] = {}

    def start(self, session: AgiSession, flow: str, number: str, caller: str,
              caller_name: str) -> None:
        """A call reached its flow here: call.start, with the route it came in by."""
        m = _TRUNK_CHANNEL.match(session.channel)
        trunk = m.group(1) if m else ""
        numdef = next((d for d in self.site.spec.numbers if d.number == number), None)
        route = ("first" if numdef and trunk == numdef.first_route else
                 "second" if numdef and trunk == numdef.second_route else "other")
        self.started[session.uniqueid] = (self.wall(), "")
        self.recorder.emit("call.start", call_id=session.uniqueid,
                           site=numdef.site if numdef else None, number=number,
                           caller=caller, caller_name=caller_name,
                           trunk=trunk, route=route if trunk else "", flow=flow)

    def outcome(self, call_id: str, kind: str) -> None:
        """The flow of a call whose end is recorded here ended with `kind`."""
        if call_id in self.started:
            self.started[call_id] = (self.started[call_id][0], kind)

    async def adopt(self, session: AgiSession, outcome: str = "") -> None:
        """A call that started before this daemon saw it (handed over mid-flow, or back in
        its queue after a restart or a take-over): its end is recorded here, timed from
        when the call reached the centre (the dialplan's CC_CALL_T0)."""
        now = self.wall()
        try:
            t0 = await session.get_variable(Var.CALL_T0) or ""
        except (AgiHangup, AgiError):  # gone already: it still ends once, timed from now
            t0 = ""
        # a value from the channel: only a moment of the last day is believed
        start = float(t0) if t0.isdigit() and now - 86400 < int(t0) <= now + 5 else now
        self.started.setdefault(session.uniqueid, (min(start, now), outcome))

    def adopt_open(self, calls: dict[str, tuple[float, str]],
                   live: Container[str] | None = None) -> int:
        """Calls another daemon (or an earlier run) started and did not see end: call id ->
        (start, epoch seconds; the flow's outcome). Their ends are recorded here; one whose
        channel is no longer `live` ended while the store was asked, and ends now. Returns
        how many were not this daemon's already."""
        fresh = [c for c in calls if c not in self.started]
        for call_id in fresh:
            self.started[call_id] = calls[call_id]
            if live is not None and call_id not in live:
                self.on_hangup(call_id)
        return len(fresh)

    def hand_off(self) -> None:
        """No longer leading: the next leader records the ends of the calls in progress."""
        self.started.clear()

    def on_hangup(self, call_id: str) -> None:
        """The caller's channel is gone: the call's end (calls this daemon records)."""
        started = self.started.pop(call_id, None)
        if started is not None:
            self.recorder.emit("call.end", call_id=call_id,
                               duration_ms=int((self.wall() - started[0]) * 1000),
                               outcome=started[1])


async def resume_call_ends(spans: CallSpans, recorder: Any, channels: Any,
                           settle: float = 60.0) -> int:
    """After a restart of a daemon alone: the calls an earlier run started that still talk
    end here, as a new leader's do (cluster/takeover.py) — once the spool has reached the
    store (their call.start may still be in it) and the channels are known. Returns how
    many were taken on."""
    from callcenter.cluster.takeover import open_calls

    if recorder.dsn_factory is None:
        return 0
    deadline = time.monotonic() + settle
    while not (recorder.db_up and channels.resyncs and recorder.caught_up):
        if time.monotonic() > deadline:
            log.warning("calls in progress at the start not taken on: the store or AMI did "
                        "not answer within %g s; their ends go unrecorded", settle)
            return 0
        await asyncio.sleep(0.5)
    try:
        calls = await open_calls(recorder.dsn, list(channels.channels))
    except Exception as exc:  # the report misses their ends; the calls go on regardless
        log.warning("calls in progress at the start not taken on: %s", exc)
        return 0
    taken = spans.adopt_open(calls, channels.channels)  # this run's own are left as they are
    if taken:
        log.info("%d calls in progress at the start: their ends are recorded here", taken)
    return taken
