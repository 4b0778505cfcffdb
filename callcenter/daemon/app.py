"""The callcenter daemon: one place that wires AMI, FastAGI, flows and the status endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import time
from pathlib import Path
from typing import Any

from callcenter import __version__
from callcenter.agents import AgentBook, AgentRecord
from callcenter.agents.features import FeatureCodes
from callcenter.agents.state import DEVICE_STATES
from callcenter.agi import AgiHangup, AgiServer, AgiSession
from callcenter.ami import AmiClient, LiveChannels
from callcenter.daemon.flowcalls import FlowCalls
from callcenter.daemon.logs import call_id
from callcenter.daemon.queueing import QueueService
from callcenter.daemon.status import StatusServer
from callcenter.site import Site

__all__ = ["Daemon", "status_socket"]

log = logging.getLogger(__name__)


def status_socket(conf_dir: Path) -> Path:
    return conf_dir.resolve() / "run" / "callcenter.sock"


class Daemon:
    """Runs until SIGTERM/SIGINT. Calls in progress keep going in Asterisk when it stops:
    their AGI step ends and the dialplan continues (to the fallback)."""

    def __init__(self, site: Site, conf_dir: Path, *, agi_port: int | None = None,
                 clock_offset: dt.timedelta = dt.timedelta(0)):
        self.site = site
        self.conf_dir = conf_dir.resolve()
        ast = site.spec.asterisk
        self.started = time.time()
        self.ami = AmiClient(host="127.0.0.1", port=ast.ami_port, username="callcenter",
                             secret=site.secrets.ami_secret)
        self.channels = LiveChannels(self.ami)
        self.agents = AgentBook([a.id for a in site.spec.agents],
                                self.conf_dir / "db" / "agents.json")
        self.agents.listeners.append(self._publish_agent)
        self.queues = QueueService(site, self.agents, sounds=self.conf_dir / "sounds",
                                   ami=self.ami)
        self.ami.on_event("DialEnd", self.queues.on_dial_end)
        self.ami.on_event("Hangup", self.queues.on_hangup)
        self.ami.on_event("OriginateResponse", self.queues.on_originate_response)
        self.ami.on_event("UserEvent", self.queues.on_user_event)
        self.flows = FlowCalls(site, self.conf_dir, clock_offset, self.queues)
        self.features = FeatureCodes(self.agents, site.secrets.pins,
                                     {a.extension for a in site.spec.agents})
        self.ami.on_ready(self._publish_all_agents)
        self.agi = AgiServer(self.handle_agi, host=ast.agi_host,
                             port=agi_port or ast.agi_port, allowed=ast.addresses)
        self.status = StatusServer(status_socket(self.conf_dir), self.snapshot)
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
        from callcenter.daemon.agi_io import clean_caller_number

        log.info("queued caller back after a daemon restart: %s", queue)
        await self.queues.wait(session, queue=queue, priority=int(prio) if prio.isdigit() else 0,
                               caller=clean_caller_number(session.env.get("callerid", "")),
                               enqueued_ms=int(since) if since.isdigit() else None)

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
                    "refused": self.agi.refused, "broken": self.agi.broken},
            "channels": self.channels.snapshot(),
            "flows": self.flows.snapshot(),
            "queues": self.queues.snapshot(),
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
        self.ami.start()
        ticker = asyncio.create_task(self.queues.tick_forever(), name="acd-tick")
        log.info("callcenter %s running: FastAGI on %s:%s, status on %s", __version__,
                 self.agi.host, self.agi.port, self.status.path)
        try:
            await self._stop.wait()
        finally:
            log.info("stopping: no new calls taken; calls in progress continue in Asterisk")
            ticker.cancel()
            await self.agi.stop()
            await self.status.stop()
            await self.ami.stop()
            log.info("stopped")
