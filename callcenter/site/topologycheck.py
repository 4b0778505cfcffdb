"""Checks of the topology keys (`nodes`, `proxy`, `daemons`; docs/cluster.md), with the same
located errors as the rest of the site file, and the warnings `callcenter check` prints."""

from __future__ import annotations

import itertools

from callcenter.errors import Problem
from callcenter.site.model import SiteFile
from callcenter.site.yamlsrc import PathKey, Source
from callcenter.store.cluster import PROXY_ROLE

__all__ = ["check_topology", "topology_warnings"]


def check_topology(src: Source, spec: SiteFile) -> list[Problem]:
    """Every problem in the topology: a half-described cluster, clashing addresses."""
    from callcenter.site.validate import _Checker  # validate calls this: no cycle at import

    c = _Checker(src, spec)
    if not spec.nodes:
        if spec.proxy is not None:
            c.add(("proxy",), "a proxy without nodes has nothing to send calls to",
                  "list the Asterisk servers under 'nodes:', or remove 'proxy:'")
        if spec.daemons:
            c.add(("daemons",), "'daemons:' needs 'nodes:' (one server has one daemon)",
                  "list the Asterisk servers under 'nodes:', or remove 'daemons:'")
        return c.problems
    if spec.proxy is None or not spec.proxy.addresses:
        c.add(("proxy",) if spec.proxy is None else ("proxy", "addresses"),
              "several nodes need the Kamailio proxy in front of them",
              "add 'proxy: {addresses: [ADDRESS, ADDRESS]}': the addresses carriers and "
              "phones send to")
    if not spec.daemons:
        c.add(("nodes",), "several nodes need 'daemons:' (the ACD's leader and standby)",
              "add 'daemons:' with two entries, each with its 'address:'")

    used: dict[tuple[str, int, str], PathKey] = {}

    def claim(path: PathKey, address: str, port: int, what: str, proto: str = "udp") -> None:
        c.bounded(path, "port", port, what)
        other = used.setdefault((address, port, proto), path)
        if other != path:
            c.add(path, f"{address}:{port} is already used by {'.'.join(map(str, other))}",
                  "give each node, proxy and daemon its own address or port")

    for name, node in spec.nodes.items():
        c.bounded(("nodes", name, "capacity"), "nodes.capacity", node.capacity)
        claim(("nodes", name, "sip_port"), node.address, node.sip_port, "SIP port")
        claim(("nodes", name, "ami_port"), node.address, node.ami_port, "AMI port", "tcp")
        if not 1024 <= node.rtp_start < node.rtp_end <= 65535:
            c.add(("nodes", name, "rtp_start"), f"media ports {node.rtp_start}–"
                  f"{node.rtp_end} are not a range", "use e.g. rtp_start: 10000, "
                  "rtp_end: 20000 (start below end, both 1024–65535)")
    ranges = sorted((n.address, n.rtp_start, n.rtp_end, k) for k, n in spec.nodes.items())
    for (a1, _s1, e1, k1), (a2, s2, _e2, k2) in itertools.pairwise(ranges):
        if a1 == a2 and s2 <= e1:
            c.add(("nodes", k2, "rtp_start"), f"nodes {k1} and {k2} share {a1} and their "
                  "media ports overlap", f"start {k2}'s rtp_start above {e1}")
    if spec.proxy is not None:
        px = spec.proxy
        c.bounded(("proxy", "probe_seconds"), "proxy.probe_seconds", px.probe_seconds)
        if not spec.database.dsn and px.db_role != PROXY_ROLE:
            c.add(("proxy", "db_role"), f"the private database lets the proxies in as "
                  f"'{PROXY_ROLE}' only, not as '{px.db_role}'",
                  "remove proxy.db_role, or set database.dsn to the site's PostgreSQL")
        for i, addr in enumerate(px.addresses):
            if addr in px.addresses[:i]:
                c.add(("proxy", "addresses", i), f"{addr} is listed twice",
                      "each proxy has an address of its own")
                continue
            claim(("proxy", "addresses", i), addr, px.sip_port, "SIP port")
    for name, daemon in spec.daemons.items():
        claim(("daemons", name, "agi_port"), daemon.address, daemon.agi_port, "AGI port",
              "tcp")
    return c.problems


def topology_warnings(src: Source, spec: SiteFile) -> list[Problem]:
    """A topology that works but keeps a single point of failure."""
    out: list[Problem] = []
    if not spec.nodes:
        return out
    if len(spec.nodes) == 1:
        out.append(src.problem(("nodes",), "one node: when it stops, every call stops",
                               "add a second node; the proxy spreads calls over both"))
    if spec.proxy is not None and len(spec.proxy.addresses) == 1:
        out.append(src.problem(("proxy", "addresses"), "one proxy address: when that "
                               "Kamailio stops, carriers and phones reach nothing",
                               "add a second address and give the carriers both"))
    if len(spec.daemons) == 1:
        out.append(src.problem(("daemons",), "one daemon: no standby takes over the ACD "
                               "when it stops", "add a second daemon on another server"))
    return out
