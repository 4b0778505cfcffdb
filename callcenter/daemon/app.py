"""The callcenter daemon: one place that wires AMI, FastAGI, flows and the status endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

from callcenter import __version__
from callcenter.agents import AgentBook, AgentRecord
from callcenter.agents.features import FeatureCodes
from callcenter.agents.state import DEVICE_STATES, AgentState
from callcenter.agi import AgiHangup, AgiServer, AgiSession
from callcenter.ami import AmiClient, LiveChannels
from callcenter.clock import ShiftedClock
from callcenter.daemon.flowcalls import FlowCalls
from callcenter.daemon.logs import call_id
from callcenter.daemon.metrics import Metrics
from callcenter.daemon.notify import Notifier
from callcenter.daemon.paths import daemon_paths
from callcenter.daemon.queueing import QueueService
from callcenter.daemon.status import StatusServer
from callcenter.daemon.supervisor import Supervisor
from callcenter.daemon.today import TodayStats
from callcenter.site import Site
from callcenter.store.database import resolve_dsn
from callcenter.store.recorder import EventRecorder

__all__ = ["Daemon", "status_socket"]

log = logging.getLogger(__name__)


def status_socket(conf_dir: Path) -> Path:
    return daemon_paths(conf_dir).socket


class Daemon:
    """Runs until SIGTERM/SIGINT. Calls in progress keep going in Asterisk when it stops:
    their AGI step ends and the dialplan continues (to the fallback)."""

    def __init__(self, site: Site, conf_dir: Path, *, agi_port: int | None = None,
                 clock_offset: dt.timedelta = dt.timedelta(0), dsn: str | None = None,
                 store: bool = True):
        # whatever the daemon creates (agents.json, spool, logs, sockets) is its own: callers'
        # numbers and agents' states are nobody else's business (issue 10)
        os.umask(0o077)
        self.site = site
        self.conf_dir = conf_dir.resolve()
        # the daemon's own state, apart from Asterisk's folders (it runs as another user)
        self.paths = daemon_paths(self.conf_dir)
        self.paths.prepare()
        ast = site.spec.asterisk
        self.started = time.time()
        spec = site.spec
        self._agent_specs = {a.id: a for a in spec.agents}
        # the agents whose skills meet each queue's requirement (the wallboard's columns)
        self._serving = {name: [a.id for a in spec.agents
                                if all(a.skills.get(k, 0) >= lvl for k, lvl in q.skills.items())]
                         for name, q in spec.queues.items()}
        # events go to the spool first, then PostgreSQL: a DSN given, or the private cluster
        self.recorder = EventRecorder(
            self.paths.spool,
            (lambda: resolve_dsn(dsn, spec.database.dsn, self.paths.cluster_state()))
            if store else None,
            upgrade=True)
        self.today = TodayStats({name: q.service_level_seconds
                                 for name, q in spec.queues.items()},
                                spec.company.timezone, spec.database.short_abandon_seconds,
                                ShiftedClock(clock_offset))
        self.metrics = Metrics(lambda: self._board, self.recorder.snapshot)
        self.recorder.listeners += [self.today.on_event, self.metrics.on_event]
        self._board: dict[str, Any] = {}
        self._unreachable_alarmed: set[str] = set()
        self.ami = AmiClient(host="127.0.0.1", port=ast.ami_port, username="callcenter",
                             secret=site.secrets.ami_secret)
        self.channels = LiveChannels(self.ami)
        self.agents = AgentBook([a.id for a in site.spec.agents],
                                self.paths.agents)
        self.agents.listeners.append(self._publish_agent)
        self.agents.transitions.append(self._record_agent)
        self.queues = QueueService(site, self.agents, sounds=self.conf_dir / "sounds",
                                   ami=self.ami, recorder=self.recorder)
        self.ami.on_event("DialEnd", self.queues.on_dial_end)
        self.ami.on_event("Hangup", self.queues.on_hangup)
        self.ami.on_event("OriginateResponse", self.queues.on_originate_response)
        self.ami.on_event("UserEvent", self.queues.on_user_event)
        self.ami.on_event("UserEvent", self._on_user_event)
        # agents' phones: on a live channel after a restart, and reachable again
        self.channels.resynced.append(lambda: self.queues.relearn_phones(self.channels))
        self.channels.gone.append(self.queues.phone_hung_up)
        self.ami.on_event("ContactStatus", self.queues.on_contact_status)
        self.ami.on_event("DeviceStateChange", self.queues.on_device_state)
        # contacts: the store's table (imported with `callcenter contacts import`), then the
        # site file's contact file
        from callcenter.ivr.engine import site_contacts
        from callcenter.store.contacts import PgContacts

        self.contacts = PgContacts(lambda: self.recorder.pool, fallback=site_contacts(site))
        self.flows = FlowCalls(site, self.conf_dir, clock_offset, self.queues, self.recorder,
                               self.contacts)
        self.ami.on_event("Hangup", lambda msg: self.flows.on_hangup(msg.get("Uniqueid", "")))
        self.features = FeatureCodes(self.agents, site.secrets.pins,
                                     {a.extension for a in site.spec.agents},
                                     emit=self.recorder.emit)
        self.ami.on_ready(self._publish_all_agents)
        self.agi = AgiServer(self.handle_agi, host=ast.agi_host,
                             port=agi_port or ast.agi_port, allowed=ast.addresses,
                             secret=site.secrets.agi_secret)
        self.supervisor = Supervisor()
        self.notifier = Notifier(alive=lambda: not self.supervisor.failed.is_set())
        self.beats = 0
        self.status = StatusServer(self.paths.socket, self.snapshot,
                                   {"unlock": self._unlock})
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle_agi(self, session: AgiSession, path: str, args: list[str]) -> None:
        token = call_id.set(session.uniqueid or session.channel)
        try:
            kind, _, name = path.partition("/")
            if kind == "flow":
                await self.flows.run(session, name, args)
            elif kind == "feature":
                await self.features.handle(session, name)
            elif kind == "offer":
                with contextlib.suppress(AgiHangup):  # recorded as an abandon
                    await self.queues.offer_result(session, name)
            elif kind == "transfer-queue":
                with contextlib.suppress(AgiHangup):
                    await self.queues.transfer(session, name)
            elif kind == "dial":  # an agent's outside call from a desk phone
                from callcenter.dialling.deskphone import agent_dial

                with contextlib.suppress(AgiHangup):
                    await agent_dial(session, self.site.spec, self.agents, name,
                                     emit=self.recorder.emit)
            elif kind == "requeue":
                with contextlib.suppress(AgiHangup):
                    await self._requeue(session)
            else:
                log.warning("unknown FastAGI path %r", path)
        finally:
            call_id.reset(token)

    async def _requeue(self, session: AgiSession) -> None:
        """A queued caller the dialplan brings back (the daemon restarted under it)."""
        queue = await session.get_variable("CC_QUEUE") or ""
        if queue not in self.site.spec.queues:
            await session.set_variable("CC_NEXT", "fallback")
            return
        prio = await session.get_variable("CC_PRIORITY") or "0"
        since = await session.get_variable("CC_ENQUEUED") or ""
        entry = await session.get_variable("CC_ENTRY") or ""
        entered = await session.get_variable("CC_ENTERED") or ""
        from callcenter.daemon.agi_io import clean_caller_number

        log.info("queued caller back after a daemon restart: %s", queue)
        await self.queues.wait(session, queue=queue, priority=int(prio) if prio.isdigit() else 0,
                               caller=clean_caller_number(session.env.get("callerid", "")),
                               enqueued_ms=int(since) if since.isdigit() else None,
                               reason="requeue",
                               entry=re.sub(r"[^0-9a-f-]", "", entry)[:36],
                               entered_ms=int(entered) if entered.isdigit() else None)

    def _unlock(self, req: dict[str, Any]) -> dict[str, Any]:
        """`callcenter agent unlock`: lift a desk-phone login lock (agent id or phone)."""
        agent = re.sub(r"\D", "", str(req.get("agent") or ""))[:8]
        phone = re.sub(r"\D", "", str(req.get("phone") or ""))[:8]
        if not agent and not phone:
            return {"error": "give an agent id or a phone extension"}
        done = self.features.unlock(agent, phone)
        log.info("login unlock requested for agent %r phone %r: %s", agent, phone,
                 "lifted" if done else "was not locked")
        return {"unlocked": done, "agent": agent, "phone": phone}

    def _record_agent(self, rec: AgentRecord, prev: AgentState, since: float,
                      reason: str) -> None:
        agent = self._agent_specs.get(rec.agent_id)
        self.recorder.emit("agent.state", agent_id=rec.agent_id,
                           site=agent.site if agent else None, state=rec.state.value,
                           reason=rec.pause_reason, prev=prev.value, prev_reason=reason,
                           since=dt.datetime.fromtimestamp(since, dt.UTC).isoformat(),
                           device=rec.device)

    def _on_user_event(self, msg: Any) -> None:
        """Each dial out through a trunk (the dialplan's cc-dial-trunk reports it)."""
        if msg.get("UserEvent") != "CallcenterTrunk":
            return
        self.recorder.emit("trunk.attempt", call_id=msg.get("Uniqueid") or None,
                           number=re.sub(r"\D", "", msg.get("Number", "")),
                           route=msg.get("Route", "") if msg.get("Route") in (
                               "first", "second") else "",
                           trunk=re.sub(r"[^a-z0-9_-]", "", msg.get("Trunk", "")),
                           status=re.sub(r"[^A-Z]", "", msg.get("Status", "")),
                           purpose="callback" if msg.get("Callback") else "outbound")

    def wallboard(self) -> dict[str, Any]:
        """Per queue: waiting, longest wait, agents by state, today's figures; per agent:
        state and since when (what `callcenter top` and the metrics show)."""
        spec, now_ms = self.site.spec, self.queues.now()
        today = self.today.snapshot()
        busy_states = {AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP}
        unreachable = self.queues.unreachable_queues()
        self._alarm_unreachable(unreachable)
        queues: dict[str, Any] = {}
        for name, q in spec.queues.items():
            waiting = [c for c in self.queues.calls.values()
                       if c.queue == name and c.state == "waiting" and not c.callback]
            states = [self.agents.agents[a].state for a in self._serving[name]]
            queues[name] = {
                "name": q.name, "waiting": len(waiting),
                "longest_wait_s": round(max((now_ms - c.entered_ms for c in waiting),
                                            default=0) / 1000, 1),
                "ready": sum(s == AgentState.READY for s in states),
                "busy": sum(s in busy_states for s in states),
                "paused": sum(s == AgentState.PAUSED for s in states),
                "logged_in": sum(s != AgentState.LOGGED_OUT for s in states),
                "unreachable": sum(self.agents.agents[a].state == AgentState.PAUSED and
                                   self.agents.agents[a].pause_reason == "unreachable"
                                   for a in self._serving[name]),
                "all_unreachable": name in unreachable,
                **today.get(name, {})}
        names = self._agent_specs
        agents = [{"id": r.agent_id, "name": names[r.agent_id].name,
                   "site": names[r.agent_id].site, "state": r.state.value,
                   "reason": r.pause_reason, "since": r.since, "device": r.device}
                  for r in self.agents.agents.values() if r.agent_id in names]
        return {"at": dt.datetime.now(dt.UTC).isoformat(), "day": self.today.day.isoformat(),
                "queues": queues, "agents": agents, "alarms": self.alarms()}

    def alarms(self) -> list[str]:
        """What a person must act on now (`callcenter status`, `callcenter top`)."""
        out = [f"queue {q}: every logged-in agent's phone is unreachable"
               for q in self.queues.unreachable_queues()]
        store = self.recorder
        if store.spool_error:
            out.append(f"{store.spool_error}: {len(store.held)} events held in memory "
                       f"(at most {store.held_max}), {store.lost_overflow} lost")
        elif store.lost_overflow:
            out.append(f"{store.lost_overflow} events were lost while the spool was full")
        return out

    def _alarm_unreachable(self, queues: list[str]) -> None:
        for q in set(queues) - self._unreachable_alarmed:
            log.error("ALARM: queue %s: every logged-in agent's phone is unreachable; "
                      "callers get no agent until a phone answers again", q)
        for q in self._unreachable_alarmed - set(queues):
            log.info("queue %s: an agent's phone is reachable again", q)
        self._unreachable_alarmed = set(queues)

    async def _heartbeat_forever(self, interval: float = 1.0) -> None:
        """Tell Asterisk the loop is alive (CC_ALIVE = epoch seconds): the dialplan sends new
        calls to the static fallback when this goes stale (a hung or stopped daemon)."""
        while True:
            if self.ami.connected.is_set():
                try:
                    await self.ami.set_global("CC_ALIVE", str(int(time.time())))
                    self.beats += 1
                except Exception as exc:  # AMI trouble is the AMI client's to report
                    log.debug("heartbeat not sent: %s", exc)
                await asyncio.sleep(interval)
            else:  # the first beat goes out as soon as AMI is up: calls then reach flows
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.ami.connected.wait(), interval)

    async def _board_forever(self) -> None:
        while True:
            try:
                self._board = self.wallboard()
            except Exception:  # the board is a view; a bug in it must not stop the daemon
                log.exception("wallboard")
            await asyncio.sleep(1)

    def _publish_agent(self, rec: AgentRecord) -> None:
        """Show the agent's state on BLF lamps (Custom:agent-ID device state)."""
        if not self.ami.connected.is_set():
            return  # published on the next connect
        task = asyncio.create_task(self._set_devstate(rec))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _set_devstate(self, rec: AgentRecord) -> None:
        try:
            await self.ami.action({"Action": "Setvar",
                                   "Variable": f"DEVICE_STATE(Custom:agent-{rec.agent_id})",
                                   "Value": DEVICE_STATES[rec.state]})
        except Exception as exc:  # a lamp is not worth failing a call over
            log.warning("could not publish agent %s state: %s", rec.agent_id, exc)

    async def _publish_all_agents(self) -> None:
        for rec in self.agents.agents.values():
            await self._set_devstate(rec)

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "uptime_seconds": round(time.time() - self.started, 1),
            "site": str(self.site.path),
            "ami": {"connected": self.ami.connected.is_set(), "connects": self.ami.connects,
                    "events": self.ami.events_seen, "resyncs": self.channels.resyncs},
            "agi": {"port": self.agi.port, "sessions": len(self.agi.sessions),
                    "refused": self.agi.refused, "broken": self.agi.broken,
                    "unauthenticated": self.agi.unauthenticated},
            "tasks": {"restarts": self.supervisor.snapshot(), "heartbeats": self.beats},
            "logins_locked": self.features.lockout.snapshot(),
            "channels": self.channels.snapshot(),
            "flows": self.flows.snapshot(),
            "queues": self.queues.snapshot(),
            "wallboard": self.wallboard(),
            "store": self.recorder.snapshot(),
            "alarms": self.alarms(),
            "agents": [{"id": r.agent_id, "state": r.state.value, "device": r.device,
                        "reason": r.pause_reason, "since": r.since, "misses": r.misses}
                       for r in self.agents.agents.values()],
        }

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        await self.agi.start()
        await self.status.start()
        # started in this order, stopped in reverse; a task that dies is restarted
        for name, factory in (("event-writer", self.recorder.run), ("ami", self.ami.run),
                              ("acd-tick", self.queues.tick_forever),
                              ("wallboard", self._board_forever),
                              ("heartbeat", self._heartbeat_forever),
                              ("watchdog", self.notifier.watchdog_forever)):
            self.supervisor.add(name, factory)
        self.supervisor.start()
        try:
            self.metrics.serve(self.site.spec.metrics.host, self.site.spec.metrics.port)
        except OSError as exc:  # metrics are worth a warning, not a refusal to take calls
            log.warning("Prometheus metrics not served on port %d: %s",
                        self.site.spec.metrics.port, exc)
        log.info("callcenter %s running: FastAGI on %s:%s, status on %s", __version__,
                 self.agi.host, self.agi.port, self.status.path)
        self.notifier.ready(f"FastAGI on port {self.agi.port}")
        failed = asyncio.create_task(self.supervisor.failed.wait())
        stop = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({failed, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            failed.cancel()
            stop.cancel()
            log.info("stopping: no new calls taken; calls in progress continue in Asterisk")
            self.notifier.stopping()
            await self.agi.stop()
            await self.status.stop()
            await self.supervisor.stop()
            await self.ami.stop()
            await self.recorder.close()
            log.info("stopped")
        self.supervisor.check()  # exit non-zero: systemd restarts a daemon that gave up
