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
from callcenter.acd.live.service import LiveAcd
from callcenter.agents import AgentBook
from callcenter.agents.features import FeatureCodes
from callcenter.agi import AgiHangup, AgiServer, AgiSession
from callcenter.ami import LiveChannels
from callcenter.clock import SYSTEM, ShiftedClock
from callcenter.contract import Route
from callcenter.daemon.board import Board
from callcenter.daemon.callspans import resume_call_ends
from callcenter.daemon.document import agents_document, cluster_document, status_document
from callcenter.daemon.flowcalls import FlowCalls
from callcenter.daemon.heartbeat import Heartbeat
from callcenter.daemon.lamps import AgentLamps
from callcenter.daemon.logs import call_id
from callcenter.daemon.metrics import Metrics
from callcenter.daemon.nodes import agi_binding, make_ami, make_leadership, this_daemon
from callcenter.daemon.notify import Notifier
from callcenter.daemon.paths import daemon_paths
from callcenter.daemon.status import StatusServer
from callcenter.daemon.supervisor import Supervisor
from callcenter.daemon.today import TodayStats
from callcenter.daemon.trunks import trunk_attempt
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
                 store: bool = True, name: str | None = None):
        # whatever the daemon creates (agents.json, spool, logs, sockets) is its own: callers'
        # numbers and agents' states are nobody else's business (issue 10)
        os.umask(0o077)
        self.site = site
        self.conf_dir = conf_dir.resolve()
        # the daemon's own state, apart from Asterisk's folders (it runs as another user)
        self.paths = daemon_paths(self.conf_dir)
        self.paths.prepare()
        self.name = this_daemon(site, name)  # which of several daemons, "" on one server
        self.started = time.time()
        spec = site.spec
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
        self.metrics = Metrics(lambda: self.board.latest, self.recorder.snapshot,
                               lambda: cluster_document(self))
        self.recorder.listeners += [self.today.on_event, self.metrics.on_event]
        self.ami = make_ami(site)
        self.channels = LiveChannels(self.ami)
        self.agents = AgentBook([a.id for a in site.spec.agents],
                                self.paths.agents)
        self.lamps = AgentLamps(self.agents, self.ami, self.recorder, spec)
        self.queues = LiveAcd(site, self.agents, sounds=self.conf_dir / "sounds",
                              ami=self.ami, recorder=self.recorder)
        self.board = Board(spec, self.agents, self.queues, self.today, self.recorder, SYSTEM)
        self.ami.on_event("DialEnd", self.queues.on_dial_end)
        self.ami.on_event("Hangup", self.queues.on_hangup)
        self.ami.on_event("OriginateResponse", self.queues.on_originate_response)
        self.ami.on_event("UserEvent", self.queues.on_user_event)
        self.ami.on_event("AttendedTransfer", self.queues.on_attended_transfer)
        self.ami.on_event("UserEvent", lambda msg: trunk_attempt(self.recorder, msg))
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
        self.ami.on_event("Hangup", lambda msg: self.flows.spans.on_hangup(msg.get("Uniqueid", "")))
        self.features = FeatureCodes(self.agents, site.secrets.pins,
                                     {a.extension for a in site.spec.agents},
                                     emit=self.recorder.emit)
        from callcenter.daemon.outbound import OutboundPart

        self.outbound = OutboundPart(site, self.conf_dir, recorder=self.recorder, ami=self.ami,
                                     acd=self.queues, queues=self.queues.snapshot,
                                     agents=lambda: self.snapshot_agents(),
                                     clock=ShiftedClock(clock_offset))
        bind = agi_binding(site, self.name, agi_port)
        self.agi = AgiServer(self.handle_agi, host=bind.host, port=bind.port,
                             allowed=bind.allowed, secret=site.secrets.agi_secret)
        # several daemons: this one serves calls only while it leads (docs/cluster.md)
        self.leadership = (make_leadership(self, bind.url(site.secrets.agi_secret))
                           if self.name else None)
        self.supervisor = Supervisor()
        self.notifier = Notifier(alive=lambda: not self.supervisor.failed.is_set())
        self.heartbeat = (Heartbeat(self.ami, extra=self.leadership.globals,
                                    beating=lambda: self.leadership.leading)
                          if self.leadership else Heartbeat(self.ami))
        self.status = StatusServer(self.paths.socket, self.snapshot,
                                   {"unlock": self._unlock})
        self._stop = asyncio.Event()

    async def handle_agi(self, session: AgiSession, path: str, args: list[str]) -> None:
        token = call_id.set(session.uniqueid or session.channel)
        try:
            kind, _, name = path.partition("/")
            if kind == Route.FLOW:
                await self.flows.run(session, name, args)
            elif kind == Route.FEATURE:
                await self.features.handle(session, name)
            elif kind == Route.OFFER:
                with contextlib.suppress(AgiHangup):  # recorded as an abandon
                    await self.queues.offer_result(session, name)
            elif kind == Route.SURVEY:  # the agent hung up first: the queue's survey
                with contextlib.suppress(AgiHangup):
                    await self.flows.after_agent_hangup(session)
            elif kind == Route.TRANSFER_QUEUE:
                with contextlib.suppress(AgiHangup):
                    await self.queues.transfer(session, name)
            elif kind == Route.DIAL:  # an agent's outside call from a desk phone
                from callcenter.dialling.deskphone import agent_dial

                with contextlib.suppress(AgiHangup):
                    await agent_dial(session, self.site.spec, self.agents, name,
                                     emit=self.recorder.emit, base_dir=self.site.base_dir)
            elif kind == Route.OUTBOUND:  # an automatic call was answered
                with contextlib.suppress(AgiHangup):
                    await self.outbound.handle(session, name)
            elif kind == Route.REQUEUE:
                with contextlib.suppress(AgiHangup):
                    await self._requeue(session)
            else:
                log.warning("unknown FastAGI path %r", path)
        finally:
            call_id.reset(token)

    async def _requeue(self, session: AgiSession) -> None:
        """A queued caller the dialplan brings back (the daemon restarted under it)."""
        from callcenter.daemon.agi_io import clean_caller_number

        await self.flows.spans.adopt(session, outcome="queue")
        await self.queues.requeue(session, clean_caller_number(session.env.get("callerid", "")))

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

    def snapshot(self) -> dict[str, Any]:
        return status_document(self)

    def snapshot_agents(self) -> list[dict[str, Any]]:
        return agents_document(self.agents)

    def stop(self) -> None:
        self._stop.set()

    async def _start_parts(self, stack: contextlib.AsyncExitStack) -> None:
        """Start each part in order, each with its stop pushed on `stack`, so they stop in
        reverse: new calls are refused first, the event store is closed last."""
        stack.callback(self.notifier.close)  # the last to go: after STOPPING=1
        stack.push_async_callback(self.recorder.close)
        stack.callback(self.agents.close)  # the agent journal fsynced at a clean stop
        stack.push_async_callback(self.ami.stop)
        stack.push_async_callback(self.queues.close)  # wrap-up timers, callbacks
        stack.push_async_callback(self.outbound.close)  # the API, dialler, job store
        lead = self.leadership
        # long-lived tasks, started in this order; a task that dies is restarted
        for name, factory in (("event-writer", self.recorder.run), ("ami", self.ami.run),
                              ("acd-tick", self.queues.tick_forever),
                              ("wallboard", self.board.run_forever),
                              # a standby dials nobody
                              ("outbound", lead.gated(self.outbound.run_forever) if lead
                               else self.outbound.run_forever),
                              ("heartbeat", self.heartbeat.run_forever),
                              ("watchdog", self.notifier.watchdog_forever),
                              *((("leadership", lead.run_forever),) if lead else ())):
            self.supervisor.add(name, factory)
        self.supervisor.start()
        stack.push_async_callback(self.supervisor.stop)
        try:
            self.metrics.serve(self.site.spec.metrics.host, self.site.spec.metrics.port)
        except OSError as exc:  # metrics are worth a warning, not a refusal to take calls
            log.warning("Prometheus metrics not served on port %d: %s",
                        self.site.spec.metrics.port, exc)
        await self.status.start()
        stack.push_async_callback(self.status.stop)
        if lead:  # FastAGI opens when this daemon leads, and closes when it stops leading
            stack.push_async_callback(lead.close)
        else:
            await self.agi.start()  # calls reach the daemon only once the rest is up
            stack.push_async_callback(self.agi.stop)
            resume = asyncio.create_task(
                resume_call_ends(self.flows.spans, self.recorder, self.channels))
            stack.callback(resume.cancel)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        async with contextlib.AsyncExitStack() as stack:
            await self._start_parts(stack)
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
                log.info("stopping: no new calls taken; calls in progress continue in "
                         "Asterisk")
                self.notifier.stopping()
        log.info("stopped")
        self.supervisor.check()  # exit non-zero: systemd restarts a daemon that gave up
