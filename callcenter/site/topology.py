"""The centre's topology in the site file: Asterisk media nodes, the Kamailio proxies in
front of them and the daemons (one leads the ACD, the others stand by). A site file without
`nodes` is one server, as before (docs/cluster.md)."""

from __future__ import annotations

import dataclasses
from dataclasses import field

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass

from callcenter.site.fields import Host, Key

__all__ = ["DaemonDef", "NodeDef", "Proxy", "node_settings"]

_STRICT = ConfigDict(extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True)


@dataclass(config=_STRICT)
class NodeDef:
    """One Asterisk media server."""

    address: Host
    sip_port: int = 5060
    ami_port: int = 5038
    # concurrent calls with media it carries: the proxy's share of new calls follows it
    capacity: int = 300
    # the node's media ports (nodes on one machine need ranges that do not overlap)
    rtp_start: int = 10000
    rtp_end: int = 20000


@dataclass(config=_STRICT)
class Proxy:
    """The Kamailio front: what carriers and phones send to. Two addresses or more, one
    proxy each, sharing the phones' registrations in PostgreSQL."""

    addresses: list[Host] = field(default_factory=list)
    sip_port: int = 5060
    # how often each proxy sends OPTIONS to every node; a node that misses them is out
    probe_seconds: int = 2
    # the database (in the site's PostgreSQL) holding the shared registrations
    database: Key = "kamailio"
    # the PostgreSQL role the proxies log in as: granted that database's location table only
    db_role: Key = "kamailio"
    # the OS user (and group of the same name) each proxy drops to once its ports are bound
    run_as: Key = "kamailio"


@dataclass(config=_STRICT)
class DaemonDef:
    """One callcenter daemon; the nodes hand calls to the daemons in file order."""

    address: Host
    agi_port: int = 4573
    status_port: int = 0  # 0: the Unix status socket only


def node_settings(settings: object, node: NodeDef, daemon: DaemonDef) -> object:
    """The `asterisk:` settings as node `node` sees them: it binds its own address and ports
    and hands calls first to `daemon`."""
    return dataclasses.replace(settings, sip_bind=node.address,  # type: ignore[type-var]
                               sip_port=node.sip_port, ami_port=node.ami_port,
                               agi_host=daemon.address, agi_port=daemon.agi_port,
                               rtp_start=node.rtp_start, rtp_end=node.rtp_end)
