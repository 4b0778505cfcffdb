"""Every node's AMI as one (callcenter/cluster/nodes_ami.py), against two real Asterisk
nodes: globals reach both, a new call goes to the node with fewer channels, an action on a
channel reaches the node it lives on, CoreShowChannels gathers both."""

from __future__ import annotations

import asyncio
import time

import pytest

from callcenter.cluster.nodes_ami import NODE_FIELD, NodesAmi
from tests.fix_cluster import RunningNodes

pytestmark = [pytest.mark.slow]


async def _connected(ami: NodesAmi, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while len(ami.up()) < len(ami.clients):
        assert time.monotonic() < deadline, f"only {ami.up()} connected"
        await asyncio.sleep(0.1)


async def _until(check, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.1)


def _originate(ami: NodesAmi, tag: str):
    # a Local channel that waits (music) in the node's await-leader loop: no daemon leads
    return ami.action({"Action": "Originate", "Channel": "Local/s@cc-await-leader/n",
                       "Application": "Wait", "Data": "30", "ChannelId": tag,
                       "OtherChannelId": f"{tag}-2", "Async": "true"}, as_list=False)


def test_one_ami_over_two_nodes(nodes: RunningNodes) -> None:
    async def main() -> None:
        ami = NodesAmi.for_site(nodes.site.spec, nodes.site.secrets.ami_secret)
        seen: list[tuple[str, str]] = []
        ami.on_event("Newchannel", lambda m: seen.append((m[NODE_FIELD], m["Uniqueid"])))
        runner = asyncio.ensure_future(ami.run())
        try:
            await _connected(ami)
            await ami.set_global("CC_TEST_MARK", "both")
            for name in nodes.dirs:
                assert "CC_TEST_MARK=both" in nodes.cli(name, "dialplan show globals")

            await _originate(ami, "call-one")
            first = (await _until(lambda: [n for n, u in seen if u == "call-one"]))[0]
            await _originate(ami, "call-two")
            second = (await _until(lambda: [n for n, u in seen if u == "call-two"]))[0]
            assert {first, second} == set(nodes.dirs), "the second call went to the busier node"
            assert ami.load()[first] >= 1 and ami.load()[second] >= 1

            gathered = await ami.action({"Action": "CoreShowChannels"}, as_list=True)
            where = {m["Uniqueid"]: m[NODE_FIELD] for m in gathered
                     if m.get("Event") == "CoreShowChannel"}
            assert where["call-one"] == first and where["call-two"] == second

            # a channel action goes to the channel's node: hang up call-two by its name
            name = next(m["Channel"] for m in gathered if m.get("Uniqueid") == "call-two")
            await ami.action({"Action": "Hangup", "Channel": name})
            await _until(lambda: ami.node_of("call-two") is None)
            assert ami.node_of("call-one") == first
        finally:
            runner.cancel()
            await ami.stop()

    asyncio.run(main())


def test_a_dead_node_leaves_the_other_working(nodes: RunningNodes) -> None:
    async def main() -> None:
        ami = NodesAmi.for_site(nodes.site.spec, nodes.site.secrets.ami_secret)
        hangups: list[str] = []
        ami.on_event("Hangup", lambda m: hangups.append((m["Uniqueid"], m[NODE_FIELD])))
        runner = asyncio.ensure_future(ami.run())
        try:
            await _connected(ami)
            await _originate(ami, "call-doomed")  # both idle: media-1 takes it
            await _until(lambda: ami.node_of("call-doomed") == "media-1")
            nodes.stop("media-1")
            await _until(lambda: ami.up() == ["media-2"], timeout=20)
            # the node cannot say its calls ended: a few seconds later they are taken as
            # ended (its agents come back ready, its callers leave the queues)
            await _until(lambda: ("call-doomed", "media-1") in hangups,
                         timeout=ami.lost_after + 5)
            assert ami.load()["media-1"] == 0
            assert ami.connected.is_set()
            await ami.set_global("CC_TEST_MARK", "one")  # taken by the node that is up
            assert "CC_TEST_MARK=one" in nodes.cli("media-2", "dialplan show globals")
            await _originate(ami, "call-three")
            assert ami.least_loaded() == "media-2"
        finally:
            runner.cancel()
            await ami.stop()

    asyncio.run(main())


def test_drain_and_resume_a_node(nodes: RunningNodes) -> None:
    """`callcenter node drain`: the node refuses new inbound calls, the daemons' new calls
    go elsewhere, the command waits for the node's last call; `resume` undoes it."""
    from click.testing import CliRunner

    from callcenter.cli import main as cli_main

    site = str(nodes.site.path)

    def run(*args: str):
        return CliRunner().invoke(cli_main, ["node", *args])

    async def main() -> None:
        ami = NodesAmi.for_site(nodes.site.spec, nodes.site.secrets.ami_secret)
        runner = asyncio.ensure_future(ami.run())
        try:
            await _connected(ami)
            await _originate(ami, "call-busy")
            busy = await _until(lambda: ami.node_of("call-busy"))
            res = await asyncio.to_thread(run, "drain", site, busy, "--wait", "1")
            assert res.exit_code == 1, res.output
            assert "takes no new calls" in res.output and "still up" in res.output
            await _until(lambda: ami.drained == {busy})
            other = next(n for n in nodes.dirs if n != busy)
            assert ami.least_loaded() == other
            # a carrier's call reaching the drained node is refused at once (503)
            before = nodes.channels(busy)
            nodes.cli(busy, "channel originate Local/4008009999@cc-inbound/n application "
                            "Wait 30")
            await asyncio.sleep(1.0)
            assert nodes.channels(busy) == before
            nodes.cli(busy, "channel request hangup all")
            res = await asyncio.to_thread(run, "drain", site, busy, "--wait", "10")
            assert res.exit_code == 0 and "is drained" in res.output, res.output
            res = await asyncio.to_thread(run, "resume", site, busy)
            assert res.exit_code == 0, res.output
            await _until(lambda: not ami.drained)
        finally:
            runner.cancel()
            await ami.stop()

    asyncio.run(main())
    bad = run("drain", site, "media-9")
    assert bad.exit_code == 1 and "no node 'media-9'" in bad.output
