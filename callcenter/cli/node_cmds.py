"""`callcenter node drain|resume`: take one Asterisk node of several out of service for an
upgrade and back (docs/cluster.md, rolling upgrade)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import click

from callcenter.cli.common import load, reported, secrets_option, site_argument
from callcenter.cluster.nodes_ami import DRAIN_EVENT
from callcenter.contract import Var
from callcenter.errors import CallcenterError

__all__ = ["COMMANDS"]

class NodeError(CallcenterError):
    """A node could not be drained or resumed."""


async def _set_drain(site, name: str, on: bool, wait: float, echo) -> int:
    from callcenter.ami import AmiClient

    node = site.spec.nodes[name]
    ami = AmiClient(host=node.address, port=node.ami_port, username="callcenter",
                    secret=site.secrets.ami_secret, backoff=(0.5, 1.0))
    runner = asyncio.ensure_future(ami.run())
    try:
        try:
            await asyncio.wait_for(ami.connected.wait(), 10)
        except TimeoutError:
            raise NodeError(f"node {name}'s AMI at {node.address}:{node.ami_port} does not "
                            "answer — is its Asterisk running, and does its manager.conf "
                            "admit this address?") from None
        await ami.set_global(Var.DRAIN, "1" if on else "0")
        await ami.action({"Action": "UserEvent", "UserEvent": DRAIN_EVENT, "Node": name,
                          "State": "on" if on else "off"})
        if not on:
            return 0
        deadline = time.monotonic() + wait
        last = -1
        while True:
            reply = await ami.action({"Action": "CoreShowChannels"}, as_list=True,
                                     timeout=10)
            calls = sum(1 for m in (reply if isinstance(reply, list) else [reply])
                        if m.get("Event") == "CoreShowChannel")
            if calls == 0:
                return 0
            if calls != last:
                echo(f"node {name}: {calls} channels still up")
                last = calls
            if time.monotonic() >= deadline:
                return calls
            await asyncio.sleep(1.0)
    finally:
        runner.cancel()
        await ami.stop()


def _node(site, name: str) -> None:
    if not site.clustered:
        raise NodeError("this site is one server: it has no 'nodes:' to drain")
    if name not in site.spec.nodes:
        raise NodeError(f"no node {name!r} in the site file — known: "
                        + ", ".join(site.spec.nodes))


@click.group()
def node() -> None:
    """Several servers: take a node out of service and back (rolling upgrades)."""


@node.command("drain")
@site_argument
@click.argument("name")
@secrets_option
@click.option("--wait", default=3600.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the node's calls to end.")
def drain(site: Path, name: str, secrets: Path | None, wait: float) -> None:
    """Stop new calls to node NAME (the proxies send them to the others), then wait until
    its last call has ended. Exit status 1 if calls are still up after --wait."""
    with reported():
        s = load(site, secrets)
        _node(s, name)
        left = asyncio.run(_set_drain(s, name, True, wait, click.echo))
        if left:
            raise NodeError(f"node {name} takes no new calls, but {left} channels are still "
                            f"up after {wait:g} s; run the command again to wait longer")
        click.echo(f"node {name} is drained: no calls, none taken until "
                   f"`callcenter node resume {site} {name}` or its Asterisk restarts")


@node.command("resume")
@site_argument
@click.argument("name")
@secrets_option
def resume(site: Path, name: str, secrets: Path | None) -> None:
    """Let node NAME take new calls again."""
    with reported():
        s = load(site, secrets)
        _node(s, name)
        asyncio.run(_set_drain(s, name, False, 0, click.echo))
        click.echo(f"node {name} takes calls again")


COMMANDS = (node,)
