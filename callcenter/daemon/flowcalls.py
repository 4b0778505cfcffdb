"""Running a number's IVR flow for a call that Asterisk handed over FastAGI."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from callcenter.agi import AgiError, AgiHangup, AgiSession
from callcenter.daemon.agi_io import AgiCallIO
from callcenter.daemon.queueing import QueueService
from callcenter.site import Site
from callcenter.store.recorder import NullRecorder

__all__ = ["ActiveFlow", "FlowCalls"]

log = logging.getLogger(__name__)


@dataclass
class ActiveFlow:
    call: str
    flow: str
    caller: str
    started: float
    node: str = ""
    path: list[str] = field(default_factory=list)


class FlowCalls:
    """Flows in progress and the outcomes of the finished ones (for status and tests)."""

    def __init__(self, site: Site, conf_dir: Path,
                 clock_offset: dt.timedelta = dt.timedelta(0),
                 queues: QueueService | None = None, recorder: Any = None,
                 contacts: Any = None):
        self.site = site
        self.contacts = contacts
        self.recorder = recorder if recorder is not None else NullRecorder()
        self.started: dict[str, tuple[float, str]] = {}  # call -> start time, flow outcome
        self.queues = queues
        self.clock_offset = clock_offset
        self.conf_dir = conf_dir
        self.active: dict[str, ActiveFlow] = {}
        self.finished: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}

    async def run(self, session: AgiSession, flow: str, args: list[str]) -> None:
        from callcenter.ivr.engine import run_flow  # the one engine, shared with the simulator

        io = AgiCallIO(session, sounds=self.conf_dir / "sounds",
                       voicemail=self.conf_dir / "voicemail",
                       timezone=self.site.spec.company.timezone,
                       clock_offset=self.clock_offset)
        number = args[0] if args else ""
        active = ActiveFlow(session.uniqueid, flow, io.caller_number, time.time())
        self.active[session.uniqueid] = active
        log.info("flow %s starts for caller %s on %s", flow, io.caller_number or "?", number)
        self._call_start(session, flow, number, io)
        call = session.uniqueid

        def on_event(kind: str, data: dict[str, Any]) -> None:
            self.recorder.emit(kind, call_id=call, **data)

        kind, target, detail = "fallback", "", ""
        recorded = False
        try:
            if flow not in self.site.flows:
                raise AgiError(f"no flow named {flow!r} in the site")
            outcome = await run_flow(self.site, flow, io, number=number,
                                     on_node=lambda n: _visit(active, n), on_event=on_event,
                                     contacts=self.contacts)
            kind, target = outcome.kind, outcome.target or ""
            detail = ",".join(outcome.path)
            self._record(session, flow, kind, target, detail, active, io)
            recorded = True
            if kind == "queue" and self.queues is not None:
                vip = outcome.variables.get("vip", "0")
                await self.queues.wait(session, queue=target, priority=outcome.priority,
                                       caller=io.caller_number,
                                       contact=outcome.variables.get("contact_name", ""),
                                       vip=int(vip) if vip.isdigit() else 0)
            else:
                await _hand_back(session, outcome)
        except AgiHangup:
            if recorded:
                return  # hung up while queued: the queue service recorded the abandon
            kind = "caller_hangup"
            log.info("caller hung up in flow %s at node %s", flow, active.node or "-")
        except (AgiError, OSError) as exc:
            kind = "fallback"
            log.warning("flow %s broke at node %s (%s); the call takes the fallback", flow,
                        active.node or "-", exc)
        except Exception:
            kind = "fallback"
            log.exception("flow %s failed at node %s; the call takes the fallback", flow,
                          active.node or "-")
        finally:
            self.active.pop(session.uniqueid, None)
        if not recorded:
            self._record(session, flow, kind, target, detail, active, io)

    def _call_start(self, session: AgiSession, flow: str, number: str,
                    io: AgiCallIO) -> None:
        # the channel of a call from a carrier is named PJSIP/trunk-<trunk>-<8 hex digits>
        m = re.match(r"PJSIP/trunk-(.+)-[0-9a-f]{8}$", session.channel)
        trunk = m.group(1) if m else ""
        numdef = next((d for d in self.site.spec.numbers if d.number == number), None)
        route = ("first" if numdef and trunk == numdef.first_route else
                 "second" if numdef and trunk == numdef.second_route else "other")
        self.started[session.uniqueid] = (time.time(), "")
        self.recorder.emit("call.start", call_id=session.uniqueid,
                           site=numdef.site if numdef else None, number=number,
                           caller=io.caller_number, caller_name=io.caller_name,
                           trunk=trunk, route=route if trunk else "", flow=flow)

    def on_hangup(self, call_id: str) -> None:
        """The caller's channel is gone: the call's end (calls this daemon saw start)."""
        started = self.started.pop(call_id, None)
        if started is not None:
            self.recorder.emit("call.end", call_id=call_id,
                               duration_ms=int((time.time() - started[0]) * 1000),
                               outcome=started[1])

    def _record(self, session: AgiSession, flow: str, kind: str, target: str, detail: str,
                active: ActiveFlow, io: AgiCallIO) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if session.uniqueid in self.started:
            self.started[session.uniqueid] = (self.started[session.uniqueid][0], kind)
        self.recorder.emit("ivr.end", call_id=session.uniqueid, flow=flow, outcome=kind,
                           target=target, node=active.node,
                           path=detail or ",".join(active.path))
        self.finished.append({"call": session.uniqueid, "flow": flow, "outcome": kind,
                              "target": target, "path": detail or ",".join(active.path),
                              "node": active.node, "caller": io.caller_number,
                              "seconds": round(time.time() - active.started, 3)})
        del self.finished[:-200]
        log.info("flow %s ended: %s %s (path %s)", flow, kind, target,
                 detail or ",".join(active.path))

    def snapshot(self) -> dict[str, Any]:
        return {"active": [asdict(a) for a in self.active.values()],
                "finished": self.finished[-50:], "counts": dict(self.counts)}


def _visit(active: ActiveFlow, node: str) -> None:
    active.node = node
    active.path.append(node)


async def _hand_back(session: AgiSession, outcome: Any) -> None:
    """Tell the dialplan where the call goes next (cc-after-flow reads these)."""
    kind = outcome.kind
    if kind in ("hangup", "voicemail"):
        await session.set_variable("CC_NEXT", "hangup")
    elif kind == "transfer":
        # the engine's transfer node took the dialling policy's decision (flow_transfer):
        # CC_DIAL_OK names the only digits the dialplan's cc-transfer will dial out
        digits = "".join(c for c in outcome.target if c.isdigit())
        await session.set_variable("CC_TARGET", digits)
        await session.set_variable("CC_DIAL_OK", digits)
        await session.set_variable("CC_NEXT", "transfer")
    elif kind == "queue":
        # the ACD arrives with the next issue; until then a queued call takes the fallback
        await session.set_variable("CC_QUEUE", outcome.target or "")
        await session.set_variable("CC_PRIORITY", str(getattr(outcome, "priority", 0)))
        await session.set_variable("CC_NEXT", "queue")
    else:
        await session.set_variable("CC_NEXT", "fallback")
