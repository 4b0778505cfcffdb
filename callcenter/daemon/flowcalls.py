"""Running a number's IVR flow for a call that Asterisk handed over FastAGI, and a queue's
survey flow after the agent hung up first (docs/surveys.md)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from callcenter.acd.live.service import LiveAcd
from callcenter.agi import AgiError, AgiHangup, AgiSession
from callcenter.contract import Next, Var
from callcenter.daemon.agi_io import AgiCallIO
from callcenter.daemon.callspans import CallSpans
from callcenter.ivr.place import Place, decode_place, encode_place
from callcenter.site import Site
from callcenter.store.recorder import NullRecorder

__all__ = ["ActiveFlow", "FlowCalls", "SurveyCall", "survey_due"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SurveyCall:
    """Whom a post-call survey's answers are attributed to: the surveyed call (the caller's
    first channel id, the queue stay) and the agent, queue and site that answered it."""

    call_id: str
    entry: str
    agent_id: str
    queue: str
    site: str | None
    flow: str
    opted_in: bool | None  # a survey-first queue: the caller pressed 1; else None


def survey_due(site: Site, call: Any, survey_state: str | None) -> SurveyCall | None:
    """The survey a call answered by an agent takes when the agent hangs up first, or None:
    none when the call is unknown to the ACD (a daemon restart), had no agent, its queue
    names no survey flow, or the queue asks first and the caller did not press 1
    (`survey_state`: the channel's CC_SURVEY)."""
    if call is None or not call.agent:
        return None
    q = site.spec.queues.get(call.queue)
    if q is None or q.survey is None or q.survey not in site.flows:
        return None
    opted = (survey_state == "yes") if q.survey_ask_first else None
    if opted is False:
        return None
    return SurveyCall(call.origin or call.call_id, call.entry, call.agent, call.queue, q.site,
                      q.survey, opted)


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
                 queues: LiveAcd | None = None, recorder: Any = None,
                 contacts: Any = None, wall: Callable[[], float] = time.time):
        self.site = site
        self.wall = wall  # epoch seconds: a call's start and end
        self.contacts = contacts
        self.recorder = recorder if recorder is not None else NullRecorder()
        self.spans = CallSpans(site, self.recorder, wall)  # call.start and call.end
        self.queues = queues
        self.clock_offset = clock_offset
        self.conf_dir = conf_dir
        self.active: dict[str, ActiveFlow] = {}
        self.finished: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self.surveys: dict[str, int] = {}  # survey.end outcome -> count (status, tests)

    def _io(self, session: AgiSession) -> AgiCallIO:
        return AgiCallIO(session, sounds=self.conf_dir / "sounds",
                         voicemail=self.conf_dir / "voicemail",
                         timezone=self.site.spec.company.timezone,
                         clock_offset=self.clock_offset)

    async def run(self, session: AgiSession, flow: str, args: list[str]) -> None:
        from callcenter.ivr.engine import run_flow  # the one engine, shared with the simulator

        io = self._io(session)
        number = args[0] if args else ""
        # a call handed over from a daemon that died mid-flow carries its place
        resume = decode_place(args[1], self.site.flows) if len(args) > 1 else None
        active = ActiveFlow(session.uniqueid, flow, io.caller_number, self.wall())
        self.active[session.uniqueid] = active
        if resume is None:
            # per-call detail at DEBUG: at INFO a call costs two lines (docs/call-cost.md)
            log.debug("flow %s starts for caller %s on %s", flow, io.caller_number or "?",
                      number)
            self.spans.start(session, flow, number, io.caller_number, io.caller_name)
        else:  # the call started on the other daemon: one call.start per call
            log.info("flow %s resumes for caller %s at %s.%s (handed over)", flow,
                     io.caller_number or "?", resume.flow, resume.node)
            await self.spans.adopt(session)
        call = session.uniqueid
        on_place = self._place_keeper(session) if self.site.clustered else None

        def on_event(kind: str, data: dict[str, Any]) -> None:
            self.recorder.emit(kind, call_id=call, **data)

        kind, target, detail = "fallback", "", ""
        recorded = False
        try:
            if flow not in self.site.flows:
                raise AgiError(f"no flow named {flow!r} in the site")
            outcome = await run_flow(self.site, flow, io, number=number,
                                     on_node=lambda n: _visit(active, n), on_event=on_event,
                                     contacts=self.contacts, resume=resume,
                                     on_place=on_place)
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
        if kind == "fallback" and not recorded and not session.hung_up:
            # the flow broke: said, not left unsaid, since a dialplan of several daemons
            # takes silence for a daemon gone away and hands the call on
            with contextlib.suppress(AgiHangup, AgiError, OSError):
                await session.set_variable(Var.NEXT, Next.FALLBACK)
        if not recorded:
            self._record(session, flow, kind, target, detail, active, io)

    async def after_agent_hangup(self, session: AgiSession) -> None:
        """AGI survey: the agent hung up first and the caller is still on the line (Dial's
        g). The agent's part ends as any answered call's does; then the queue's survey flow
        runs on this channel when it is due (`survey_due`). Who answered comes from the
        ACD's call book, the one owner of call state — read before the part is closed (a
        call the book does not know, after a daemon restart, takes no survey)."""
        due = None
        if self.queues is not None:
            call = self.queues.calls.get(session.uniqueid)
            state = None
            q = self.site.spec.queues.get(call.queue) if call is not None else None
            if q is not None and q.survey_ask_first:
                state = await session.get_variable(Var.SURVEY)
            due = survey_due(self.site, call, state)
            await self.queues.offer_result(session, "ANSWER")  # the agent hung up
        await session.set_variable(Var.NEXT, Next.HANGUP)
        if due is not None:
            await self._survey(session, due)

    async def _survey(self, session: AgiSession, due: SurveyCall) -> None:
        from callcenter.ivr.engine import run_flow

        io = self._io(session)
        active = ActiveFlow(session.uniqueid, due.flow, io.caller_number, self.wall())
        self.active[session.uniqueid] = active
        answers = 0

        def emit(kind: str, **data: Any) -> None:
            self.recorder.emit(kind, call_id=due.call_id, queue=due.queue,
                               agent_id=due.agent_id, site=due.site, **data)

        def on_event(kind: str, data: dict[str, Any]) -> None:
            nonlocal answers
            if kind == "survey.answer":
                answers += data.get("score") is not None
                data = {**data, "entry": due.entry}
            emit(kind, **data)

        emit("survey.start", flow=due.flow, entry=due.entry, opted_in=due.opted_in)
        log.info("survey %s starts for the call agent %s answered in %s", due.flow,
                 due.agent_id, due.queue)
        outcome = "completed"
        try:
            number = await session.get_variable(Var.NUMBER) or ""
            await run_flow(self.site, due.flow, io, number=number,
                           on_node=lambda n: _visit(active, n), on_event=on_event,
                           contacts=self.contacts)
        except AgiHangup:
            outcome = "caller_hangup"
        except (AgiError, OSError) as exc:
            outcome = "failed"
            log.warning("survey %s broke at node %s (%s)", due.flow, active.node or "-", exc)
        except Exception:
            outcome = "failed"
            log.exception("survey %s failed at node %s", due.flow, active.node or "-")
        finally:
            self.active.pop(session.uniqueid, None)
        # whatever the survey flow's last node, the call ends with it
        self.surveys[outcome] = self.surveys.get(outcome, 0) + 1
        emit("survey.end", flow=due.flow, entry=due.entry, outcome=outcome, answers=answers)
        log.info("survey %s ended: %s, %d answer(s)", due.flow, outcome, answers)

    @staticmethod
    def _place_keeper(session: AgiSession) -> Any:
        """Keep the caller's place on its channel (CC_FLOW_AT) when it changes."""
        last = [""]

        async def keep(place: Place) -> None:
            text = encode_place(place)
            if text != last[0]:
                await session.set_variable(Var.FLOW_AT, text)
                last[0] = text
        return keep

    def _record(self, session: AgiSession, flow: str, kind: str, target: str, detail: str,
                active: ActiveFlow, io: AgiCallIO) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.spans.outcome(session.uniqueid, kind)
        self.recorder.emit("ivr.end", call_id=session.uniqueid, flow=flow, outcome=kind,
                           target=target, node=active.node,
                           path=detail or ",".join(active.path))
        self.finished.append({"call": session.uniqueid, "flow": flow, "outcome": kind,
                              "target": target, "path": detail or ",".join(active.path),
                              "node": active.node, "caller": io.caller_number,
                              "seconds": round(self.wall() - active.started, 3)})
        del self.finished[:-200]
        log.info("flow %s ended: %s %s (path %s)", flow, kind, target,
                 detail or ",".join(active.path))

    def snapshot(self) -> dict[str, Any]:
        return {"active": [asdict(a) for a in self.active.values()],
                "finished": self.finished[-50:], "counts": dict(self.counts),
                "surveys": dict(self.surveys)}


def _visit(active: ActiveFlow, node: str) -> None:
    active.node = node
    active.path.append(node)


async def _hand_back(session: AgiSession, outcome: Any) -> None:
    """Tell the dialplan where the call goes next (cc-after-flow reads these)."""
    kind = outcome.kind
    if kind in ("hangup", "voicemail"):
        await session.set_variable(Var.NEXT, Next.HANGUP)
    elif kind == "transfer":
        # the engine's transfer node took the dialling policy's decision (flow_transfer):
        # CC_DIAL_OK names the only digits the dialplan's cc-transfer will dial out
        digits = "".join(c for c in outcome.target if c.isdigit())
        await session.set_variables(((Var.TARGET, digits), (Var.DIAL_OK, digits),
                                     (Var.NEXT, Next.TRANSFER)))
    elif kind == "queue":
        # cc-requeue takes the caller to the ACD again if this daemon goes away meanwhile
        await session.set_variables(((Var.QUEUE, outcome.target or ""),
                                     (Var.PRIORITY, str(getattr(outcome, "priority", 0))),
                                     (Var.NEXT, Next.QUEUE)))
    else:
        await session.set_variable(Var.NEXT, Next.FALLBACK)
