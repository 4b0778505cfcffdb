"""A node whose AMI stays away is taken as dead: the channels it carried reach the handlers
as Hangups (its agents come back ready, its callers leave the queues); a short blip does
not end anything."""

from __future__ import annotations

import asyncio

from panoramisk.message import Message

from callcenter.ami.client import AmiClient
from callcenter.cluster.nodes_ami import NODE_FIELD, NodesAmi


def _nodes(lost_after: float = 0.2) -> tuple[NodesAmi, list[Message]]:
    clients = {n: AmiClient(host="127.0.0.1", port=1, username="u", secret="s")
               for n in ("media-1", "media-2")}
    nodes = NodesAmi(clients, lost_after=lost_after)
    hangups: list[Message] = []
    nodes.on_event("Hangup", hangups.append)
    return nodes, hangups


def _call(nodes: NodesAmi, node: str, uid: str, name: str) -> None:
    nodes.clients[node].deliver(Message({"Event": "Newchannel", "Uniqueid": uid,
                                         "Channel": name}))


def test_a_lost_node_ends_only_its_own_channels() -> None:
    nodes, hangups = _nodes()
    _call(nodes, "media-1", "1.1", "PJSIP/trunk-00000001")
    _call(nodes, "media-1", "1.2", "PJSIP/8001-00000002")
    _call(nodes, "media-2", "2.1", "PJSIP/8002-00000001")
    assert nodes.load() == {"media-1": 2, "media-2": 1}
    assert nodes.node_lost("media-1") == 2
    assert [(h["Uniqueid"], h["Channel"], h[NODE_FIELD], h["Cause"]) for h in hangups] == [
        ("1.1", "PJSIP/trunk-00000001", "media-1", "38"),
        ("1.2", "PJSIP/8001-00000002", "media-1", "38")]
    assert nodes.load() == {"media-1": 0, "media-2": 1}
    assert nodes.node_of("1.2") is None and nodes.node_of("2.1") == "media-2"
    assert nodes.node_lost("media-1") == 0  # nothing is ended twice
    assert nodes.lost == {"media-1": 2, "media-2": 0}


def test_a_blip_ends_nothing_and_a_lasting_loss_ends_the_calls() -> None:
    asyncio.run(_blip_then_loss())


async def _blip_then_loss() -> None:
    nodes, hangups = _nodes(lost_after=1.0)
    _call(nodes, "media-1", "1.1", "PJSIP/trunk-00000001")
    link = nodes.clients["media-1"].connected
    link.set()
    watch = asyncio.ensure_future(nodes._watch_lost("media-1", poll=0.02))
    try:
        await asyncio.sleep(0.05)
        link.clear()  # the connection dropped, and came back within lost_after
        await asyncio.sleep(0.1)
        link.set()
        await asyncio.sleep(1.2)
        assert hangups == []
        link.clear()  # gone for good
        await asyncio.sleep(1.5)
        assert [h["Uniqueid"] for h in hangups] == ["1.1"]
    finally:
        watch.cancel()
