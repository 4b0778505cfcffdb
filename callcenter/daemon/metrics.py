"""Prometheus metrics: the wallboard's figures plus the store's health, read at scrape time
from the daemon's last wallboard (built once a second on the event loop, so the HTTP thread
never touches live state)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from callcenter.store.events import Event

__all__ = ["Metrics"]

log = logging.getLogger(__name__)

_QUEUE_GAUGES = (
    ("waiting", "callcenter_queue_waiting_calls", "Callers waiting now"),
    ("longest_wait_s", "callcenter_queue_longest_wait_seconds", "Longest current wait"),
    ("ready", "callcenter_queue_agents_ready", "Agents of the queue ready"),
    ("busy", "callcenter_queue_agents_busy", "Agents ringing, talking or in wrap-up"),
    ("paused", "callcenter_queue_agents_paused", "Agents paused"),
    ("logged_in", "callcenter_queue_agents_logged_in", "Agents logged in"),
    ("offered", "callcenter_queue_offered_today", "Queue entries today"),
    ("answered", "callcenter_queue_answered_today", "Answered today"),
    ("abandoned", "callcenter_queue_abandoned_today", "Abandoned today (not short)"),
    ("answer_rate", "callcenter_queue_answer_rate_today", "answered / (offered - short)"),
    ("service_level", "callcenter_queue_service_level_today",
     "answered within T / (answered + abandoned after T)"),
    ("all_unreachable", "callcenter_queue_all_agents_unreachable",
     "1 when every logged-in agent of the queue is paused because its phone is unreachable"),
    ("unreachable", "callcenter_queue_agents_unreachable",
     "Agents of the queue paused as unreachable"),
)

# the store's health: status key, metric, help; a flag is 1 when its value is set
_STORE_GAUGES = (
    ("db_up", "callcenter_store_up", "1 if PostgreSQL takes events"),
    ("backlog_bytes", "callcenter_store_backlog_bytes", "Spooled events not yet in PostgreSQL"),
    ("spool_error", "callcenter_store_spool_alarm",
     "1 while the spool cannot be written (disk full, I/O error)"),
    ("held_in_memory", "callcenter_store_events_held",
     "Events held in memory because the spool cannot be written"),
    ("lost_overflow", "callcenter_store_events_lost",
     "Events dropped because more than the memory bound were held"),
)
_STORE_FLAGS = frozenset({"db_up", "spool_error"})


class _WallboardCollector(Collector):
    def __init__(self, wallboard: Callable[[], dict[str, Any]],
                 store: Callable[[], dict[str, Any]]):
        self.wallboard = wallboard
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        board = self.wallboard()
        for key, name, doc in _QUEUE_GAUGES:
            fam = GaugeMetricFamily(name, doc, labels=["queue"])
            for queue, q in board.get("queues", {}).items():
                if q.get(key) is not None:
                    fam.add_metric([queue], float(q[key]))
            yield fam
        states = GaugeMetricFamily("callcenter_agent_state", "1 for the agent's state",
                                   labels=["agent", "state"])
        for a in board.get("agents", []):
            states.add_metric([a["id"], a["state"]], 1.0)
        yield states
        store = self.store()
        for key, name, doc in _STORE_GAUGES:
            value = store.get(key)
            yield GaugeMetricFamily(name, doc, value=(1.0 if value else 0.0) if
                                    key in _STORE_FLAGS else float(value or 0))


class _ClusterCollector(Collector):
    """A daemon of several: whether it leads, its term, and each node's AMI and channels."""

    def __init__(self, cluster: Callable[[], dict[str, Any] | None]):
        self.cluster = cluster

    def collect(self) -> Iterator[GaugeMetricFamily]:
        part = self.cluster()
        if not part:
            return
        yield GaugeMetricFamily("callcenter_leader", "1 while this daemon leads the ACD",
                                value=1.0 if part["leading"] else 0.0)
        yield GaugeMetricFamily("callcenter_leader_term", "The lease's term as this "
                                "daemon last saw it", value=float(part["term"]))
        up = GaugeMetricFamily("callcenter_node_ami_up", "1 while the node's AMI is "
                               "connected", labels=["node"])
        channels = GaugeMetricFamily("callcenter_node_channels", "Live channels on the "
                                     "node", labels=["node"])
        lost = CounterMetricFamily("callcenter_node_channels_lost", "Channels taken as "
                                   "ended because the node's AMI stayed away", labels=["node"])
        for name, node in sorted(part.get("nodes", {}).items()):
            up.add_metric([name], 1.0 if node["ami"] else 0.0)
            channels.add_metric([name], float(node.get("channels", 0)))
            lost.add_metric([name], float(node.get("channels_lost", 0)))
        yield up
        yield channels
        yield lost


class Metrics:
    def __init__(self, wallboard: Callable[[], dict[str, Any]],
                 store: Callable[[], dict[str, Any]],
                 cluster: Callable[[], dict[str, Any] | None] = lambda: None):
        self.registry = CollectorRegistry()
        self.events = Counter("callcenter_events", "Call events recorded", ["kind"],
                              registry=self.registry)
        self.registry.register(_WallboardCollector(wallboard, store))
        self.registry.register(_ClusterCollector(cluster))

    def on_event(self, event: Event) -> None:
        self.events.labels(event.kind).inc()

    def serve(self, host: str, port: int) -> None:
        if port:
            start_http_server(port, addr=host, registry=self.registry)
            log.info("Prometheus metrics on http://%s:%d/metrics", host, port)
