"""Waiting callers and free agents, brought together: the live side of the ACD.

A caller handed to a queue waits inside its FastAGI session (music on hold, announcements of
position and estimated wait). When the scheduler offers the call to an agent, the session
ends with CC_NEXT=connect and the dialplan (`cc-connect`) rings the agent's phone with a
screen-pop caller name; the Dial result comes back over a new AGI session (`offer/STATUS`):
unanswered, the caller waits again in the very same place. Answer and hang-up are seen on
AMI (DialEnd, Hangup). If the daemon goes away, the dialplan brings queued callers back
(`requeue`) with their original enqueue time."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panoramisk.message import Message

from callcenter.acd import AgentPaused, Offer, Overflow, QueueConfig, Scheduler, SchedulerError
from callcenter.agents import AgentBook, AgentRecord, AgentState
from callcenter.agi import AgiHangup, AgiSession
from callcenter.site import Site
from callcenter.store.recorder import NullRecorder

__all__ = ["QueueService", "WaitingCall", "requeue_callback"]

CALLBACK_ATTEMPTS = 3  # dialling the customer, then the final status is "failed"
# pauses the daemon made (not the agent): lifted when the phone is reachable again
SYSTEM_PAUSES = frozenset({"unreachable", "busy"})
CALLBACK_RETRY_SECONDS = 120  # the default of a queue's callback_retry_seconds

log = logging.getLogger(__name__)


@dataclass
class WaitingCall:
    call_id: str
    queue: str
    priority: int
    caller: str
    label: str
    enqueued_ms: int
    decision: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop()
                                          .create_future())
    agent: str = ""
    state: str = "waiting"  # waiting, offered, answered
    number: str = ""  # the number the caller dialled (its routes call them back)
    callback: bool = False
    attempts: int = 0
    entry: str = field(default_factory=lambda: str(uuid.uuid4()))  # this stay in this queue
    entered_ms: int = 0
    origin: str = ""  # the caller's channel id (a callback retry has a call id of its own)
    offers: int = 0
    offered_ms: int = 0
    answered_ms: int = 0


def requeue_callback(scheduler: Scheduler, call_id: str, queue: str, now: int, *,
                     priority: int, enqueue_time: int) -> list[Any]:
    """Put a callback retry back in its old place and return the scheduler's decisions.

    `enqueue` may offer the call at once to a free agent; `to_callback` would then refuse a
    call that is no longer waiting, and those decisions were lost with the exception: the
    agent stayed reserved (ringing) in the scheduler while the book showed it ready — never
    offered a call again. An offered retry keeps its offer (the daemon treats it as a
    callback, since its WaitingCall says so)."""
    decisions = scheduler.enqueue(call_id, queue, now, priority=priority,
                                  enqueue_time=enqueue_time)
    if any(isinstance(d, Offer) and d.call_id == call_id for d in decisions):
        return decisions
    return decisions + scheduler.to_callback(call_id, now)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat()


def _label(contact: str, vip: int, queue: str) -> str:
    """The caller name the agent's phone shows: VIP tier, student/parent name, queue."""
    text = " ".join(p for p in (f"VIP{vip}" if vip else "", contact, queue) if p)
    return re.sub(r"[^\w .-]", "", text)[:40]


class QueueService:
    def __init__(self, site: Site, book: AgentBook, *, sounds: Path | None = None,
                 ami: Any = None, recorder: Any = None):
        self.site = site
        self.recorder = recorder if recorder is not None else NullRecorder()
        self._wrapping: dict[str, WaitingCall] = {}  # agent -> the call it wraps up
        self.sounds = sounds or Path("/nonexistent")
        self.ami = ami
        self.default_number = site.spec.numbers[0].number
        self._originates: dict[str, asyncio.Future[str]] = {}
        self.callback_results: list[dict[str, Any]] = []
        self.overflows: list[dict[str, Any]] = []
        self.book = book
        spec = site.spec
        self.scheduler = Scheduler([
            QueueConfig(name=name, skills=dict(q.skills), strategy=q.strategy, weight=q.weight,
                        site=q.site, expand_after=q.expand_after_seconds,
                        max_wait=q.max_wait_seconds or None, overflow=q.overflow)
            for name, q in spec.queues.items()])
        self.agents = {a.id: a for a in spec.agents}
        self.calls: dict[str, WaitingCall] = {}
        self.by_agent: dict[str, str] = {}
        self.offers: list[dict[str, Any]] = []
        self.stats = {"offered": 0, "answered": 0, "abandoned": 0, "no_answer": 0,
                      "overflowed": 0, "ring_ms": [], "ring_after_ms": []}
        self._last = 0
        self._syncing = False
        self._timers: set[asyncio.Task[None]] = set()
        self._phone_calls: dict[str, str] = {}  # agent -> channel of a call the ACD did not give
        book.listeners.append(self._agent_changed)
        book.transitions.append(self._agent_moved)
        for rec in book.agents.values():  # agents logged in before a restart
            if rec.state != AgentState.LOGGED_OUT:
                self._agent_changed(rec)

    def now(self) -> int:
        self._last = max(self._last, int(time.time() * 1000))
        return self._last

    # ---- events ----------------------------------------------------------------------
    def _emit(self, kind: str, call: WaitingCall, agent: str = "", **data: Any) -> None:
        self.recorder.emit(kind, call_id=call.origin or call.call_id, queue=call.queue,
                           agent_id=agent or None, site=self.site.spec.queues[call.queue].site,
                           entry=call.entry, **data)

    def _agent_moved(self, rec: AgentRecord, prev: AgentState, since: float,
                     reason: str) -> None:
        call = self._wrapping.pop(rec.agent_id, None) if prev == AgentState.WRAP_UP else None
        if call is not None:
            self._emit("queue.wrapup", call, rec.agent_id,
                       wrap_ms=max(0, int((rec.since - since) * 1000)))

    # ---- agents ----------------------------------------------------------------------
    def _agent_changed(self, rec: AgentRecord) -> None:
        if self._syncing:
            return
        s, now, aid = self.scheduler, self.now(), rec.agent_id
        try:
            known = True
            try:
                s.agent_status(aid)
            except SchedulerError:
                known = False
            if rec.state == AgentState.LOGGED_OUT:
                if known:
                    self._apply(s.logout(aid, now))
            elif not known:
                agent = self.agents[aid]
                self._apply(s.login(aid, now, site=agent.site, skills=dict(agent.skills)))
                if rec.state == AgentState.PAUSED:
                    self._apply(s.pause(aid, self.now(), rec.pause_reason or "break"))
                elif rec.state == AgentState.ON_CALL:  # believed on a call (restart)
                    self._apply(s.busy(aid, self.now()))
            elif rec.state == AgentState.READY:
                self._apply(s.ready(aid, now))
            elif rec.state == AgentState.PAUSED:
                self._apply(s.pause(aid, now, rec.pause_reason or "break"))
        except SchedulerError as exc:
            log.warning("agent %s: %s", aid, exc)

    def _book(self, fn: Any, *args: Any) -> None:
        """Change the agent book without echoing the change back into the scheduler."""
        self._syncing = True
        try:
            fn(*args)
        except Exception as exc:
            log.warning("agent state: %s", exc)
        finally:
            self._syncing = False

    # ---- phones: live channels and reachability ------------------------------------
    def relearn_phones(self, channels: Any) -> None:
        """After (re)connecting to AMI, the channel table is true: an agent whose phone is on
        a live channel is on a call (not to be rung with a second caller); an agent believed
        on a call whose phone has none, and no ACD call, is ready again."""
        for rec in list(self.book.agents.values()):
            aid = rec.agent_id
            if rec.state == AgentState.LOGGED_OUT or aid in self.by_agent:
                continue
            phone = rec.device or self.agents[aid].extension
            live = channels.of_phone(phone)
            if live and rec.state in (AgentState.READY, AgentState.WRAP_UP,
                                      AgentState.ON_CALL):
                self._phone_calls[aid] = live[0].uniqueid
                if rec.state != AgentState.ON_CALL:
                    log.info("agent %s is on a call (phone %s): not offered calls until it "
                             "ends", aid, phone)
                    self._wrapping.pop(aid, None)
                    self._book(self.book.relearn_call, aid)
                self._scheduler_busy(aid)
            elif not live and rec.state == AgentState.ON_CALL:
                log.info("agent %s's call ended while we were away: ready", aid)
                self._phone_calls.pop(aid, None)
                self._phone_free(aid)

    def phone_hung_up(self, channel: Any) -> None:
        """A channel the ACD did not give ended: its agent is free again."""
        for aid, uniqueid in list(self._phone_calls.items()):
            if uniqueid == channel.uniqueid:
                del self._phone_calls[aid]
                if aid not in self.by_agent and self.book.get(aid).state == AgentState.ON_CALL:
                    log.info("agent %s's call ended: ready", aid)
                    self._phone_free(aid)

    def _scheduler_busy(self, aid: str) -> None:
        try:
            if self.scheduler.agent_status(aid).state != "busy":
                self._apply(self.scheduler.busy(aid, self.now()))
        except SchedulerError as exc:
            log.warning("agent %s on a call: %s", aid, exc)

    def _phone_free(self, aid: str) -> None:
        self._book(self.book.call_ended, aid, False)
        try:
            self._apply(self.scheduler.ready(aid, self.now()))
        except SchedulerError as exc:
            log.warning("agent %s free: %s", aid, exc)

    def phone_reachable(self, extension: str, reachable: bool) -> None:
        """The phone's contact became (un)reachable (AMI ContactStatus): an agent the system
        paused for it comes back by itself; a ready agent whose phone went away is paused
        before a caller is rung on it."""
        for rec in list(self.book.agents.values()):
            if (rec.device or self.agents[rec.agent_id].extension) != extension:
                continue
            if reachable and rec.state == AgentState.PAUSED and \
                    rec.pause_reason in SYSTEM_PAUSES:
                log.info("agent %s's phone %s is reachable again: ready", rec.agent_id,
                         extension)
                self._book(self.book.ready, rec.agent_id)
                self._apply_safely(self.scheduler.ready, rec.agent_id)
            elif not reachable and rec.state == AgentState.READY:
                log.warning("agent %s's phone %s is unreachable: paused until it answers",
                            rec.agent_id, extension)
                self._book(self.book.pause, rec.agent_id, "unreachable")
                self._apply_safely(self.scheduler.pause, rec.agent_id, "unreachable")

    def _apply_safely(self, fn: Any, aid: str, *args: Any) -> None:
        try:
            self._apply(fn(aid, self.now(), *args))
        except SchedulerError as exc:
            log.warning("agent %s: %s", aid, exc)

    def on_contact_status(self, msg: Message) -> None:
        """AMI ContactStatus: Reachable / Unreachable / Removed / Created of an AOR."""
        status = msg.get("ContactStatus", "")
        aor = msg.get("AOR", "") or msg.get("EndpointName", "")
        if status in ("Reachable", "Created", "Updated"):
            self.phone_reachable(aor, True)
        elif status in ("Unreachable", "Removed"):
            self.phone_reachable(aor, False)

    def on_device_state(self, msg: Message) -> None:
        """AMI DeviceStateChange of PJSIP/EXT: NOT_INUSE means the phone is there again."""
        device, state = msg.get("Device", ""), msg.get("State", "")
        if device.startswith("PJSIP/") and state == "NOT_INUSE":
            self.phone_reachable(device[len("PJSIP/"):], True)

    def unreachable_queues(self) -> list[str]:
        """Queues whose logged-in agents are all paused as unreachable (an alarm)."""
        out = []
        for name, q in self.site.spec.queues.items():
            serving = [r for r in self.book.agents.values()
                       if r.state != AgentState.LOGGED_OUT
                       and all(self.agents[r.agent_id].skills.get(k, 0) >= lvl
                               for k, lvl in q.skills.items())]
            if serving and all(r.state == AgentState.PAUSED and r.pause_reason == "unreachable"
                               for r in serving):
                out.append(name)
        return out

    # ---- decisions -------------------------------------------------------------------
    def _apply(self, decisions: list[Any]) -> None:
        for d in decisions:
            pending = self.calls.get(d.call_id) if isinstance(d, Offer) else None
            if isinstance(d, Offer) and (d.callback or (pending and pending.callback)):
                call = pending
                if call is None:
                    continue
                self._offered(call, d.agent_id)
                self._book(self.book.ringing, d.agent_id)
                self.offers.append({"call": d.call_id, "caller": call.caller,
                                    "agent": d.agent_id, "queue": d.queue,
                                    "priority": call.priority, "expanded": d.expanded,
                                    "enqueued_ms": call.enqueued_ms, "callback": True})
                self._spawn(self._run_callback(call))
            elif isinstance(d, Offer):
                call = self.calls.get(d.call_id)
                if call is None or call.decision.done():
                    log.warning("offer of unknown call %s to %s", d.call_id, d.agent_id)
                    continue
                self._offered(call, d.agent_id)
                self.offers.append({"call": d.call_id, "caller": call.caller, "agent": d.agent_id,
                                    "queue": d.queue, "priority": call.priority,
                                    "expanded": d.expanded, "enqueued_ms": call.enqueued_ms})
                del self.offers[:-100]
                self._book(self.book.ringing, d.agent_id)
                call.decision.set_result(d)
            elif isinstance(d, Overflow):
                call = self.calls.get(d.call_id)
                self.stats["overflowed"] += 1
                if call and not call.decision.done():
                    call.decision.set_result(d)
            elif isinstance(d, AgentPaused):
                self._book(self.book.pause, d.agent_id, d.reason)

    def _offered(self, call: WaitingCall, agent: str) -> None:
        call.agent, call.state = agent, "offered"
        self.by_agent[agent] = call.call_id
        self.stats["offered"] += 1
        call.offers += 1
        call.offered_ms = self.now()
        self._emit("queue.offer", call, agent, attempt=call.offers)

    def _answered(self, call: WaitingCall) -> None:
        call.state = "answered"
        self.stats["answered"] += 1
        call.answered_ms = self.now()
        self._emit("queue.answer", call, call.agent, wait_ms=call.answered_ms - call.entered_ms,
                   ring_ms=call.answered_ms - call.offered_ms)

    async def tick_forever(self) -> None:
        while True:
            await asyncio.sleep(1)
            try:
                self._apply(self.scheduler.tick(self.now()))
            except SchedulerError as exc:
                log.warning("tick: %s", exc)

    # ---- a caller waiting --------------------------------------------------------------
    async def wait(self, session: AgiSession, *, queue: str, priority: int, caller: str,
                   contact: str = "", vip: int = 0, enqueued_ms: int | None = None,
                   reason: str = "flow", from_queue: str = "", entry: str = "",
                   entered_ms: int | None = None) -> None:
        """Keep the caller waiting until an agent is offered or the call overflows; then tell
        the dialplan (CC_NEXT) where to go. Returns when the AGI session should end."""
        call_id = session.uniqueid
        call = self.calls.get(call_id)
        if (call is None and enqueued_ms is None
                and self.scheduler.queue_status(queue).staffed == 0):
            # nobody who could answer is logged in (or all are paused): do not keep callers
            # on hold for nothing — the static fallback rings the site's fallback phones
            log.info("no agent available for %s: the caller takes the fallback", queue)
            self.stats["empty"] = self.stats.get("empty", 0) + 1
            self.recorder.emit("queue.unstaffed", call_id=call_id, queue=queue,
                               site=self.site.spec.queues[queue].site, caller=caller)
            await session.set_variable("CC_NEXT", "fallback")
            return
        if call is None:
            call = WaitingCall(call_id, queue, priority, caller, _label(contact, vip, queue),
                               enqueued_ms or self.now(), entered_ms=entered_ms or self.now())
            if entry:
                call.entry = entry
            self.calls[call_id] = call
            await session.set_variable("CC_ENTRY", call.entry)
            await session.set_variable("CC_ENTERED", str(call.entered_ms))
            self._emit("queue.enter", call, priority=priority, caller=caller, reason=reason,
                       from_queue=from_queue, enqueued_at=_iso(call.enqueued_ms))
            await session.set_variable("CC_NEXT", "queue")
            await session.set_variable("CC_QUEUE", queue)
            await session.set_variable("CC_PRIORITY", str(priority))
            await session.set_variable("CC_ENQUEUED", str(call.enqueued_ms))
            await session.set_variable("CC_LABEL", call.label)
            log.info("caller %s waits in %s (priority %d)", caller or "?", queue, priority)
            self._apply(self.scheduler.enqueue(call_id, queue, self.now(), priority=priority,
                                               caller=caller, enqueue_time=min(
                                                   call.enqueued_ms, self.now())))
        q = self.site.spec.queues[queue]
        try:
            await session.command("SET MUSIC", "on", q.music_class)
            started = time.monotonic()
            next_announce = started + max(q.announce.first_after, 1)
            offer_at = (started + q.callback_offer_after_seconds
                        if q.callback_offer_after_seconds is not None and caller else None)
            offered = False
            while not call.decision.done():
                resp = await session.command("WAIT FOR DIGIT", 1000)
                if offered and resp.value == ord("1"):
                    await self._become_callback(session, call)
                    return
                if offer_at is not None and not offered and time.monotonic() >= offer_at:
                    offered = True
                    await session.command("SET MUSIC", "off")
                    await session.command("STREAM FILE", self._sound("callback_offer"), "1")
                    await session.command("SET MUSIC", "on", q.music_class)
                    continue
                if q.announce.every and time.monotonic() >= next_announce:
                    next_announce = time.monotonic() + q.announce.every
                    await self._announce(session, call_id)
            await session.command("SET MUSIC", "off")
        except AgiHangup:
            self._abandon(call_id, "waiting")
            raise
        d = call.decision.result()
        if isinstance(d, Offer):
            ext = self.agents[d.agent_id].extension
            await session.set_variable("CC_AGENT_EXT", ext)
            await session.set_variable("CC_RING_SECONDS", str(q.ring_seconds))
            self.stats["ring_after_ms"].append(self.now() - call.enqueued_ms)
            await session.set_variable("CC_NEXT", "connect")
            call.ring_started = time.monotonic()  # type: ignore[attr-defined]
            log.info("offering call to agent %s at %s", d.agent_id, ext)
        elif isinstance(d, Overflow):
            self.calls.pop(call_id, None)
            kind, _, target = d.target.partition(":")
            log.info("call overflows from %s to %s", queue, d.target)
            self._emit("queue.overflow", call, wait_ms=self.now() - call.entered_ms,
                       target=d.target)
            self.overflows.append({"call": call_id, "queue": queue, "target": d.target})
            if kind == "queue" and target in self.site.spec.queues:
                with contextlib.suppress(SchedulerError):
                    self.scheduler.leave(call_id, self.now(), "overflowed")
                await self.wait(session, queue=target, priority=priority, caller=caller,
                                enqueued_ms=call.enqueued_ms, reason="overflow",
                                from_queue=queue)
                return
            if kind == "callback" and caller:
                # the scheduler keeps the call in place as a callback request
                self.calls[call_id] = call
                call.decision = asyncio.get_running_loop().create_future()
                await self._become_callback(session, call, already=True)
                return
            with contextlib.suppress(SchedulerError):
                self.scheduler.leave(call_id, self.now(), "overflowed")
            if kind == "voicemail":
                await session.command("STREAM FILE", self._sound("closed"), "")
                folder = self.sounds.parent / "voicemail" / re.sub(r"[^a-z0-9_-]", "", target)
                # render made the boxes (Asterisk's, 0700): the daemon's own user may not
                with contextlib.suppress(OSError):
                    folder.mkdir(parents=True, exist_ok=True)
                name = f"{time.strftime('%Y%m%d-%H%M%S')}-{call_id.replace('.', '-')}"
                await session.command("RECORD FILE", str(folder / name), "wav", "#", 120000,
                                      "BEEP", "s=5")
                await session.set_variable("CC_NEXT", "hangup")
            elif kind == "hangup":
                await session.command("STREAM FILE", self._sound("sorry"), "")
                await session.set_variable("CC_NEXT", "hangup")
            else:  # site:NAME and anything else: the static fallback of the site
                await session.set_variable("CC_NEXT", "fallback")

    def _sound(self, prompt: str) -> str:
        path = self.sounds / f"{prompt}.wav"
        return str(path.with_suffix("")) if path.exists() else "beep"

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _become_callback(self, session: AgiSession, call: WaitingCall,
                               already: bool = False) -> None:
        """The caller pressed 1 (or waited too long in a queue that overflows to callback):
        hang up now, keep the place, be called back."""
        if not already:
            try:
                self._apply(self.scheduler.to_callback(call.call_id, self.now()))
            except SchedulerError as exc:
                log.warning("callback: %s", exc)
                return
        call.callback = True
        call.number = await session.get_variable("CC_NUMBER") or self.default_number
        self.stats["callbacks_requested"] = self.stats.get("callbacks_requested", 0) + 1
        self._emit("queue.callback_request", call, wait_ms=self.now() - call.entered_ms,
                   number=call.number)
        log.info("caller %s asked to be called back; keeps the place in %s", call.caller,
                 call.queue)
        await session.command("SET MUSIC", "off")
        await session.command("STREAM FILE", self._sound("callback_confirm"), "")
        await session.set_variable("CC_NEXT", "hangup")

    async def _run_callback(self, call: WaitingCall) -> None:
        """Ring the agent first; once the agent answers, dial the customer through the
        number's first and second routes (dialplan cc-callback)."""
        if self.ami is None:
            return
        agent = self.agents[call.agent]
        number = next((n for n in self.site.spec.numbers if n.number == call.number),
                      self.site.spec.numbers[0])
        from callcenter.dialling import decide  # the one outbound policy (docs/dialling.md)

        q_site = self.site.spec.queues[call.queue].site or number.site or agent.site
        verdict = decide(self.site.spec, "callback", call.caller, site_name=q_site,
                         emit=self.recorder.emit, call_id=call.origin or call.call_id,
                         queue=call.queue)
        if not verdict.allowed:
            # never ring the customer; free the agent and drop the request for good
            self.stats["callbacks_refused"] = self.stats.get("callbacks_refused", 0) + 1
            agent_id, call.agent = call.agent, ""
            self.calls.pop(call.call_id, None)
            self.by_agent.pop(agent_id, None)
            self._book(self.book.ready, agent_id)
            try:
                self._apply(self.scheduler.leave(call.call_id, self.now(), "overflowed"))
            except SchedulerError as exc:
                log.warning("refused callback: %s", exc)
            return
        call.attempts += 1
        action_id = f"cb-{call.call_id}-{call.attempts}"
        q = self.site.spec.queues[call.queue]
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str] = loop.create_future()
        self._originates[action_id] = done
        variables = [f"CC_CALLBACK_ID={call.call_id}", f"CC_PRESENT={number.number}",
                     f"CC_FIRST={number.first_route}", f"CC_SECOND={number.second_route}",
                     f"CC_DIAL_OK={verdict.dial_digits}"]
        try:
            reply = await self.ami.action({
                "Action": "Originate", "ActionID": action_id,
                "Channel": f"PJSIP/{agent.extension}", "Context": "cc-callback",
                "Exten": verdict.dial_digits, "Priority": "1",
                "CallerID": f'"{_label("callback", 0, call.queue)}" <{number.number}>',
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
            agent_id, call.agent, call.state = call.agent, "", "waiting"
            self._emit("queue.ringnoanswer", call, agent_id,
                       ring_ms=self.now() - call.offered_ms, status="no_answer")
            self.by_agent.pop(agent_id, None)
            self._book(self.book.ready, agent_id)
            self._apply(self.scheduler.offer_failed(call.call_id, self.now(), "no_answer"))
            return
        if self.calls.get(call.call_id) is not call:
            return  # the customer's result came first (a fast reject): already handled
        self._callback_answered(call)
        log.info("agent %s took callback %s; dialling %s", call.agent, call.call_id,
                 call.caller)

    def _callback_answered(self, call: WaitingCall) -> None:
        """The agent's leg of a callback is up (Originate Success, or a customer result
        that can only follow it); once only."""
        if call.state == "answered":
            return
        self._answered(call)
        self._book(self.book.answered, call.agent)
        try:
            self._apply(self.scheduler.answered(call.call_id, self.now()))
        except SchedulerError as exc:
            log.warning("callback answered: %s", exc)

    def on_originate_response(self, msg: Message) -> None:
        done = self._originates.get(msg.get("ActionID", ""))
        if done is not None and not done.done():
            done.set_result(msg.get("Response", "Failure"))

    def on_user_event(self, msg: Message) -> None:
        if msg.get("UserEvent") != "CallcenterCallback":
            return
        call = self.calls.get(msg.get("Id", ""))
        if call is None:
            return
        status = msg.get("Status", "")
        # the customer's result may overtake the Originate reply: the agent did answer
        if call.state == "offered" and call.agent:
            self._callback_answered(call)
        final = "completed" if status == "ANSWER" else (
            "failed" if call.attempts >= CALLBACK_ATTEMPTS else "retry")
        self.stats[f"callbacks_{final}"] = self.stats.get(f"callbacks_{final}", 0) + 1
        self._emit("queue.callback_result", call, call.agent, attempt=call.attempts,
                   status=status, result=final)
        self.callback_results.append({"call": call.call_id, "caller": call.caller,
                                      "status": status, "attempt": call.attempts,
                                      "result": final})
        log.info("callback %s to %s: %s (%s)", call.call_id, call.caller, final, status)
        self._ended(call.call_id, how="")
        if final == "retry":
            self._spawn(self._retry_callback(call))

    async def _retry_callback(self, call: WaitingCall) -> None:
        """The customer did not answer: ask again later, in the same place."""
        await asyncio.sleep(self.site.spec.queues[call.queue].callback_retry_seconds)
        retry = WaitingCall(f"{call.call_id}-r{call.attempts}", call.queue, call.priority,
                            call.caller, call.label, call.enqueued_ms, number=call.number,
                            callback=True, attempts=call.attempts, entry=call.entry,
                            entered_ms=call.entered_ms, origin=call.origin or call.call_id)
        self.calls[retry.call_id] = retry
        try:
            self._apply(requeue_callback(self.scheduler, retry.call_id, retry.queue,
                                         self.now(), priority=retry.priority,
                                         enqueue_time=min(retry.enqueued_ms, self.now())))
        except SchedulerError as exc:
            self.calls.pop(retry.call_id, None)
            log.warning("callback retry of %s not queued: %s", call.caller, exc)

    async def _announce(self, session: AgiSession, call_id: str) -> None:
        try:
            status = self.scheduler.call_status(call_id)
        except SchedulerError:
            return
        if status.state != "waiting" or status.position < 1:
            return
        await session.command("SET MUSIC", "off")
        if status.position == 1:
            await session.command("STREAM FILE", "queue-youarenext", "")
        else:
            await session.command("STREAM FILE", "queue-thereare", "")
            await session.command("SAY NUMBER", status.position - 1, "")
            await session.command("STREAM FILE", "queue-callswaiting", "")
        minutes = round(status.estimated_wait / 60000)
        if minutes >= 1:
            await session.command("STREAM FILE", "queue-holdtime", "")
            await session.command("SAY NUMBER", minutes, "")
            await session.command("STREAM FILE", "queue-minutes", "")
        await session.command("SET MUSIC", "on")

    def _abandon(self, call_id: str, where: str) -> None:
        call = self.calls.pop(call_id, None)
        if call is None:
            return
        self.stats["abandoned"] += 1
        self._emit("queue.abandon", call, wait_ms=self.now() - call.entered_ms,
                   ringing=call.agent if call.state == "offered" else "")
        if call.agent:
            self.by_agent.pop(call.agent, None)
            self._book(self.book.ready, call.agent)
        log.info("caller hung up while %s (waited %.1f s)", where,
                 (self.now() - call.enqueued_ms) / 1000)
        try:
            self._apply(self.scheduler.leave(call_id, self.now(), "abandoned"))
        except SchedulerError as exc:
            log.warning("abandon: %s", exc)

    async def transfer(self, session: AgiSession, queue: str) -> None:
        """An agent blind-transferred the caller into `queue`: the agent's call ends (wrap-up)
        and the caller waits there with the original enqueue time and priority."""
        call_id = session.uniqueid
        if queue not in self.site.spec.queues:
            await session.set_variable("CC_NEXT", "fallback")
            return
        call = self.calls.get(call_id)
        since = await session.get_variable("CC_ENQUEUED") or ""
        prio = await session.get_variable("CC_PRIORITY") or "0"
        label = call.label if call else ""
        caller = call.caller if call else ""
        if call is not None:
            log.info("agent %s transfers the caller from %s to %s", call.agent, call.queue,
                     queue)
            self._emit("queue.transfer", call, call.agent, to_queue=queue,
                       talk_ms=self.now() - call.answered_ms if call.answered_ms else 0)
            self._ended(call_id, how="")
        self.stats["transferred"] = self.stats.get("transferred", 0) + 1
        await self.wait(session, queue=queue, priority=int(prio) if prio.isdigit() else 0,
                        caller=caller, contact=label, enqueued_ms=int(since) if since.isdigit()
                        else None, reason="transfer", from_queue=call.queue if call else "")

    # ---- the ring's result -------------------------------------------------------------
    async def offer_result(self, session: AgiSession, status: str) -> None:
        """Dial returned: ANSWER (the conversation is over) or a failure (wait again)."""
        call_id = session.uniqueid
        call = self.calls.get(call_id)
        if call is None:
            await session.set_variable("CC_NEXT", "hangup")
            return
        if status == "ANSWER" or call.state == "answered":
            self._ended(call_id, how="agent")  # the caller is still here: the agent hung up
            await session.set_variable("CC_NEXT", "hangup")
            return
        reason = {"BUSY": "busy", "CHANUNAVAIL": "unreachable",
                  "CONGESTION": "unreachable"}.get(status, "no_answer")
        self.stats["no_answer"] += 1
        agent = call.agent
        self._emit("queue.ringnoanswer", call, agent, ring_ms=self.now() - call.offered_ms,
                   status=reason)
        self.by_agent.pop(agent, None)
        call.agent, call.state = "", "waiting"
        call.decision = asyncio.get_running_loop().create_future()
        log.info("agent %s did not take the call (%s); the caller keeps the same place",
                 agent, status)
        self._book(self.book.ready, agent)
        self._apply(self.scheduler.offer_failed(call_id, self.now(), reason))
        await self.wait(session, queue=call.queue, priority=call.priority, caller=call.caller)

    def on_dial_end(self, msg: Message) -> None:
        call = self.calls.get(msg.get("Uniqueid", ""))
        if call is None or call.state != "offered" or msg.get("DialStatus") != "ANSWER":
            return
        self._answered(call)
        started = getattr(call, "ring_started", None)
        if started:
            self.stats["ring_ms"].append(int((time.monotonic() - started) * 1000))
        self._book(self.book.answered, call.agent)
        try:
            self._apply(self.scheduler.answered(call.call_id, self.now()))
        except SchedulerError as exc:
            log.warning("answered: %s", exc)
        log.info("agent %s answered", call.agent)

    def on_hangup(self, msg: Message) -> None:
        call_id = msg.get("Uniqueid", "")
        call = self.calls.get(call_id)
        if call is None:
            return
        if call.state == "answered":
            self._ended(call_id, how="caller")
        elif call.state == "offered":
            self._abandon(call_id, "ringing an agent")

    def _ended(self, call_id: str, how: str) -> None:
        """The agent's part is over: `how` the conversation ended (agent or caller hung
        up), "" when a transfer or callback result is recorded instead."""
        call = self.calls.pop(call_id, None)
        if call is None or not call.agent:
            return
        agent = call.agent
        if how:
            self._emit("queue.complete", call, agent, by=how,
                       talk_ms=self.now() - call.answered_ms if call.answered_ms else 0)
        self.by_agent.pop(agent, None)
        wrap = self.site.spec.queues[call.queue].wrap_up_seconds
        if wrap > 0:
            self._wrapping[agent] = call
        self._book(self.book.call_ended, agent, wrap > 0)
        try:
            self._apply(self.scheduler.wrap_up(agent, self.now()) if wrap > 0 else
                        self.scheduler.ready(agent, self.now()))
        except SchedulerError as exc:
            log.warning("call end: %s", exc)
        if wrap > 0:
            task = asyncio.get_running_loop().create_task(self._after_wrap(agent, wrap))
            self._timers.add(task)
            task.add_done_callback(self._timers.discard)

    async def _after_wrap(self, agent: str, seconds: int) -> None:
        await asyncio.sleep(seconds)
        if self.book.get(agent).state == AgentState.WRAP_UP:
            self._book(self.book.ready, agent)
            try:
                self._apply(self.scheduler.ready(agent, self.now()))
            except SchedulerError as exc:
                log.warning("after wrap-up: %s", exc)

    def snapshot(self) -> dict[str, Any]:
        ring = self.stats["ring_ms"]
        after = sorted(self.stats["ring_after_ms"])
        queues = {}
        for name in self.site.spec.queues:
            st = self.scheduler.queue_status(name)
            queues[name] = {"waiting": st.waiting, "staffed": st.staffed}
        return {"waiting": [{"call": c.call_id, "queue": c.queue, "state": c.state,
                             "agent": c.agent, "priority": c.priority, "caller": c.caller}
                            for c in self.calls.values()],
                "queues": queues,
                "offers": self.offers[-50:],
                "callbacks": self.callback_results[-50:],
                "overflows": self.overflows[-50:],
                "stats": {k: v for k, v in self.stats.items() if not k.startswith("ring_")}
                | {"answer_ms_median": sorted(ring)[len(ring) // 2] if ring else None,
                   "queue_to_ring_ms_median": after[len(after) // 2] if after else None}}
