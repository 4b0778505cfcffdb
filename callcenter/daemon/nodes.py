"""How the daemon reaches Asterisk: one server's AMI on the loopback address, or, in a
centre of several nodes, every node's AMI as one and a FastAGI port of this daemon's own
(docs/cluster.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callcenter.ami import AmiClient
from callcenter.errors import CallcenterError
from callcenter.site import Site

__all__ = ["AgiBinding", "DaemonNameError", "agi_binding", "make_ami", "make_leadership",
           "this_daemon"]


class DaemonNameError(CallcenterError):
    """A daemon of several was not told which of the site file's `daemons` it is."""


@dataclass(frozen=True)
class AgiBinding:
    host: str
    port: int
    allowed: list[str]  # addresses FastAGI connections may come from

    def url(self, secret: str) -> str:
        return f"agi://{self.host}:{self.port}/{secret}"


def this_daemon(site: Site, name: str | None) -> str:
    """The checked name of this daemon ("" on one server)."""
    spec = site.spec
    if not site.clustered:
        return ""
    if not name:
        raise DaemonNameError("this site has several daemons — say which one this is with "
                              "--as NAME (or CALLCENTER_DAEMON), one of: "
                              + ", ".join(spec.daemons))
    if name not in spec.daemons:
        raise DaemonNameError(f"no daemon {name!r} in the site file's 'daemons:' — known: "
                              + ", ".join(spec.daemons))
    return name


def make_ami(site: Site) -> Any:
    """The AMI the daemon's parts talk to: one client, or every node's as one."""
    spec = site.spec
    if site.clustered:
        from callcenter.cluster.nodes_ami import NodesAmi

        return NodesAmi.for_site(spec, site.secrets.ami_secret)
    return AmiClient(host="127.0.0.1", port=spec.asterisk.ami_port, username="callcenter",
                     secret=site.secrets.ami_secret)


def agi_binding(site: Site, name: str, port: int | None = None) -> AgiBinding:
    """Where this daemon listens for FastAGI and whom it accepts."""
    spec = site.spec
    if name:
        me = spec.daemons[name]
        # the nodes, and the addresses `asterisk.addresses` names (a node on this machine
        # connects from 127.0.0.1)
        return AgiBinding(me.address, port or me.agi_port,
                          sorted({*(n.address for n in spec.nodes.values()),
                                  *spec.asterisk.addresses}))
    ast = spec.asterisk
    return AgiBinding(ast.agi_host, port or ast.agi_port, list(ast.addresses))


def make_leadership(daemon: Any, agi_url: str) -> Any:
    """The lease on the ACD in the site's PostgreSQL (the events' database), with what this
    daemon does when it takes or loses the lead."""
    from callcenter.cluster.lease import LeaderLease
    from callcenter.cluster.takeover import take_over
    from callcenter.daemon.leadership import Leadership

    lease = LeaderLease(lambda: daemon.recorder.dsn, daemon.name)
    lead = Leadership(daemon.name, lease, daemon.agi, agi_url)

    async def rebuild(term: int) -> None:
        await take_over(daemon.recorder.dsn, daemon.agents, daemon.queues, daemon.channels,
                        daemon.flows.spans)

    async def hand_off(term: int) -> None:
        daemon.flows.spans.hand_off()

    lead.on_lead.append(rebuild)
    lead.on_lose.append(hand_off)
    daemon.queues.ctx.term = lambda: lead.term
    daemon.outbound.term = lambda: lead.term
    return lead
