"""The status document: what `callcenter status`, `top` and the tests read from the daemon's
socket, gathered from each part's own snapshot."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from callcenter import __version__

if TYPE_CHECKING:
    from callcenter.agents import AgentBook
    from callcenter.daemon.app import Daemon

__all__ = ["agents_document", "status_document"]


def status_document(d: Daemon) -> dict[str, Any]:
    board = d.board.build()
    return {
        "version": __version__,
        "uptime_seconds": round(time.time() - d.started, 1),
        "site": str(d.site.path),
        # "uvloop" or "asyncio" (daemon/loop.py)
        "event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
        "ami": {"connected": d.ami.connected.is_set(), "connects": d.ami.connects,
                "events": d.ami.events_seen, "resyncs": d.channels.resyncs},
        "agi": {"port": d.agi.port, "sessions": len(d.agi.sessions),
                "refused": d.agi.refused, "broken": d.agi.broken,
                "unauthenticated": d.agi.unauthenticated},
        "tasks": {"restarts": d.supervisor.snapshot(), "heartbeats": d.heartbeat.beats},
        "logins_locked": d.features.lockout.snapshot(),
        "channels": d.channels.snapshot(),
        "flows": d.flows.snapshot(),
        "queues": d.queues.snapshot(),
        "wallboard": board,
        "store": d.recorder.snapshot(),
        "alarms": board["alarms"],
        "agents": agents_document(d.agents),
        "outbound": d.outbound.snapshot(),
        "cluster": cluster_document(d),
    }


def cluster_document(d: Daemon) -> dict[str, Any] | None:
    """This daemon's part in a centre of several: leading or not, and each node's AMI."""
    if d.leadership is None:
        return None
    load = d.ami.load()
    return {**d.leadership.snapshot(),
            "nodes": {n: {"ami": c.connected.is_set(), "connects": c.connects,
                          "address": c.host, "channels": load.get(n, 0),
                          "channels_lost": d.ami.lost.get(n, 0)}
                      for n, c in d.ami.clients.items()}}


def agents_document(book: AgentBook) -> list[dict[str, Any]]:
    return [{"id": r.agent_id, "state": r.state.value, "device": r.device,
             "reason": r.pause_reason, "since": r.since, "misses": r.misses}
            for r in book.agents.values()]
