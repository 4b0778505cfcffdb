"""The callcenter daemon: one place that wires AMI, FastAGI, flows and the status endpoint."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path
from typing import Any

from callcenter import __version__
from callcenter.agi import AgiServer, AgiSession
from callcenter.ami import AmiClient, LiveChannels
from callcenter.daemon.flowcalls import FlowCalls
from callcenter.daemon.logs import call_id
from callcenter.daemon.status import StatusServer
from callcenter.site import Site

__all__ = ["Daemon", "status_socket"]

log = logging.getLogger(__name__)


def status_socket(conf_dir: Path) -> Path:
    return conf_dir.resolve() / "run" / "callcenter.sock"


class Daemon:
    """Runs until SIGTERM/SIGINT. Calls in progress keep going in Asterisk when it stops:
    their AGI step ends and the dialplan continues (to the fallback)."""

    def __init__(self, site: Site, conf_dir: Path, *, agi_port: int | None = None):
        self.site = site
        self.conf_dir = conf_dir.resolve()
        ast = site.spec.asterisk
        self.started = time.time()
        self.ami = AmiClient(host="127.0.0.1", port=ast.ami_port, username="callcenter",
                             secret=site.secrets.ami_secret)
        self.channels = LiveChannels(self.ami)
        self.flows = FlowCalls(site, self.conf_dir)
        self.agi = AgiServer(self.handle_agi, host=ast.agi_host,
                             port=agi_port or ast.agi_port, allowed=ast.addresses)
        self.status = StatusServer(status_socket(self.conf_dir), self.snapshot)
        self._stop = asyncio.Event()

    async def handle_agi(self, session: AgiSession, path: str, args: list[str]) -> None:
        token = call_id.set(session.uniqueid or session.channel)
        try:
            kind, _, name = path.partition("/")
            if kind == "flow":
                await self.flows.run(session, name, args)
            elif kind == "feature":
                log.info("keypad feature %s (agent features arrive with the ACD)", name)
                await session.command("STREAM FILE", "beeperr", "")
            else:
                log.warning("unknown FastAGI path %r", path)
        finally:
            call_id.reset(token)

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
        log.info("callcenter %s running: FastAGI on %s:%s, status on %s", __version__,
                 self.agi.host, self.agi.port, self.status.path)
        try:
            await self._stop.wait()
        finally:
            log.info("stopping: no new calls taken; calls in progress continue in Asterisk")
            await self.agi.stop()
            await self.status.stop()
            await self.ami.stop()
            log.info("stopped")
