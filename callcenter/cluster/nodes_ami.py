"""Every node's AMI as one: the daemon's parts talk to `NodesAmi` exactly as to one
`AmiClient` (docs/cluster.md).

Events from all nodes reach the same handlers, each tagged with its node (`CcNode`). An
action on a channel goes to the node the channel lives on (learnt from the events); a new
call (Originate) goes to the connected node carrying the fewest channels; globals and AstDB
writes go to every connected node; CoreShowChannels gathers every node's answer.

A node whose AMI stays lost for `lost_after` seconds is taken as dead: each channel it was
carrying is handed to the handlers as a Hangup (cause 38, network out of order), so the
agents talking on it come back ready and its callers leave the queues (docs/cluster.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from panoramisk.message import Message

from callcenter.ami.client import AmiClient, AmiError
from callcenter.contract import Var

__all__ = ["NodesAmi"]

log = logging.getLogger(__name__)

NODE_FIELD = "CcNode"
# actions whose effect must reach every node (a global, an AstDB key, a user event)
_EVERY_NODE = frozenset({"DBPut", "DBDel", "DBDelTree", "UserEvent"})
# actions answered by a list that is the union of every node's list
_GATHERED = frozenset({"CoreShowChannels"})
# the events that say where a channel lives, when it ends, and a node's drain
_LEARNT = ("Newchannel", "DialEnd", "Hangup", "UserEvent")
# how long a node's AMI may be away before its calls are taken as ended: longer than a
# restart of the daemon's connection, about the proxies' probe time (the node is out there)
LOST_AFTER_SECONDS = 5.0
# `callcenter node drain` (callcenter/cli/node_cmds.py) tells the daemons with this event
DRAIN_EVENT = "CallcenterDrain"
DRAIN_VAR = Var.DRAIN.value


class _AnyConnected:
    """`connected` of the whole: set while at least one node's AMI is up."""

    def __init__(self, clients: Iterable[AmiClient]) -> None:
        self.clients = list(clients)

    def is_set(self) -> bool:
        return any(c.connected.is_set() for c in self.clients)

    async def wait(self) -> bool:
        waits = [asyncio.ensure_future(c.connected.wait()) for c in self.clients]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        return True


class NodesAmi:
    """One AMI client per node, seen as one."""

    def __init__(self, clients: dict[str, AmiClient], *,
                 lost_after: float = LOST_AFTER_SECONDS) -> None:
        if not clients:
            raise AmiError("no nodes to connect to: the site file lists none under 'nodes:'")
        self.clients = clients
        self.lost_after = lost_after
        self.connected = _AnyConnected(clients.values())
        self._where: dict[str, str] = {}  # channel name or uniqueid -> node
        self._calls: dict[str, str] = {}  # uniqueid -> node: each node's live channels
        self._names: dict[str, str] = {}  # uniqueid -> channel name
        self.lost = dict.fromkeys(clients, 0)  # channels ended by their node's loss
        self.drained: set[str] = set()  # nodes `callcenter node drain` is emptying
        for name, client in clients.items():
            learn = self._learner(name)
            for event in _LEARNT:  # not "*": every other event would pay for it
                client.on_event(event, learn)
            client.on_ready(self._drain_reader(name))

    def _drain_reader(self, node: str) -> Callable[[], Awaitable[None]]:
        async def read() -> None:
            """After a (re)connect: is the node drained? (a restarted one is not)"""
            try:
                reply = await self.clients[node].action(
                    {"Action": "Getvar", "Variable": f"GLOBAL({DRAIN_VAR})"})
                on = str(getattr(reply, "Value", "") or "") == "1"
            except AmiError:
                on = False
            (self.drained.add if on else self.drained.discard)(node)
        return read

    @classmethod
    def for_site(cls, spec: Any, secret: str, **kwargs: Any) -> NodesAmi:
        return cls({name: AmiClient(host=node.address, port=node.ami_port,
                                    username="callcenter", secret=secret, **kwargs)
                    for name, node in spec.nodes.items()})

    @property
    def connects(self) -> int:
        return sum(c.connects for c in self.clients.values())

    @property
    def events_seen(self) -> int:
        return sum(c.events_seen for c in self.clients.values())

    def node_of(self, channel: str) -> str | None:
        """The node a channel (name or uniqueid) lives on, if seen."""
        return self._where.get(channel)

    def _learner(self, node: str) -> Callable[[Message], None]:
        def learn(msg: Message) -> None:
            msg[NODE_FIELD] = node
            if msg.get("Event", "") == "UserEvent" and msg.get("UserEvent") == DRAIN_EVENT:
                (self.drained.add if msg.get("State") == "on" else self.drained.discard)(node)
                return
            if msg.get("Event", "") == "Hangup":
                self._where.pop(msg.get("Channel", ""), None)
                self._where.pop(msg.get("Uniqueid", ""), None)
                self._calls.pop(msg.get("Uniqueid", ""), None)
                self._names.pop(msg.get("Uniqueid", ""), None)
                return
            self._learn(msg, node)
        return learn

    def _learn(self, msg: Message, node: str) -> None:
        for key in ("Channel", "Uniqueid", "DestChannel", "DestUniqueid"):
            value = msg.get(key)
            if value:
                self._where[value] = node
        for uid, name in (("Uniqueid", "Channel"), ("DestUniqueid", "DestChannel")):
            if msg.get(uid):
                self._calls[msg[uid]] = node
                if msg.get(name):
                    self._names[msg[uid]] = msg[name]

    def load(self) -> dict[str, int]:
        """Live channels per node, as the events told."""
        out = dict.fromkeys(self.clients, 0)
        for node in self._calls.values():
            out[node] = out.get(node, 0) + 1
        return out

    def on_event(self, pattern: str, handler: Callable[[Message], None]) -> None:
        for client in self.clients.values():
            client.on_event(pattern, handler)

    def on_ready(self, handler: Callable[[], Awaitable[None]]) -> None:
        """`handler()` after any node's (re)connect: the handler asks every node again."""
        for client in self.clients.values():
            client.on_ready(handler)

    def up(self) -> list[str]:
        return [n for n, c in self.clients.items() if c.connected.is_set()]

    async def run(self) -> None:
        await asyncio.gather(*(c.run() for c in self.clients.values()),
                             *(self._watch_lost(n) for n in self.clients))

    async def _watch_lost(self, node: str, poll: float = 0.25) -> None:
        """Take a node's channels as ended once its AMI has been away `lost_after` s."""
        client, loop = self.clients[node], asyncio.get_running_loop()
        while True:
            await client.connected.wait()
            while client.connected.is_set():
                await asyncio.sleep(poll)
            lost_at = loop.time()
            while not client.connected.is_set() and loop.time() - lost_at < self.lost_after:
                await asyncio.sleep(poll)
            if not client.connected.is_set():
                self.node_lost(node)

    def node_lost(self, node: str) -> int:
        """Every channel `node` carried, handed to the handlers as a Hangup; how many."""
        uids = [uid for uid, where in self._calls.items() if where == node]
        if uids:
            log.warning("node %s: AMI away for %g s; its %d channels are taken as ended",
                        node, self.lost_after, len(uids))
        for uid in uids:
            self.clients[node].deliver(Message({
                "Event": "Hangup", "Uniqueid": uid, "Channel": self._names.get(uid, ""),
                "Cause": "38", "Cause-txt": "Network out of order", NODE_FIELD: node}))
        self.lost[node] += len(uids)
        return len(uids)

    async def stop(self) -> None:
        for client in self.clients.values():
            await client.stop()

    async def set_global(self, name: str, value: str, *, timeout: float = 2.0) -> None:
        """Set a global on every connected node; AmiError when none took it."""
        await self._every({"Action": "Setvar", "Variable": name, "Value": value},
                          timeout=timeout)

    def send_quiet(self, actions: list[dict[str, str]]) -> bool:
        """`actions` not waiting (AmiClient.send_quiet): one on a channel to that channel's
        node, any other to every connected node."""
        up = self.up()
        by_node: dict[str, list[dict[str, str]]] = {n: [] for n in up}
        for action in actions:
            node = self.node_of(action.get("Channel", "")) if action.get("Channel") else None
            for n in ([node] if node in by_node else up):
                by_node[n].append(action)
        sent = [self.clients[n].send_quiet(acts) for n, acts in by_node.items() if acts]
        return any(sent)

    async def on_node(self, node: str, action: dict[str, str], **kwargs: Any) -> Any:
        return await self.clients[node].action(action, **kwargs)

    async def action(self, action: dict[str, str], *, as_list: bool | None = None,
                     timeout: float | None = None) -> Any:
        name = action.get("Action", "")
        kwargs = {"as_list": as_list, "timeout": timeout}
        if name == "Originate":
            return await self.on_node(self.least_loaded(), action, **kwargs)
        if name in _GATHERED:
            return await self._gather(action, **kwargs)
        if name in _EVERY_NODE or (name == "Setvar" and not action.get("Channel")):
            return await self._every(action, **kwargs)
        channel = action.get("Channel", "")
        node = self.node_of(channel) if channel else None
        if node is not None and self.clients[node].connected.is_set():
            return await self.on_node(node, action, **kwargs)
        return await self._first(action, **kwargs)

    def least_loaded(self) -> str:
        up = self.up()
        if not up:
            raise AmiError("no node's AMI is connected; the call was not started")
        load = self.load()
        # a drained node takes no new call while another can
        return min(up, key=lambda n: (n in self.drained, load[n], n))

    async def _every(self, action: dict[str, str], **kwargs: Any) -> Any:
        up = self.up()
        if not up:
            raise AmiError(f"no node's AMI is connected; {action.get('Action')} not sent")
        replies = await asyncio.gather(*(self.on_node(n, action, **kwargs) for n in up),
                                       return_exceptions=True)
        good = [r for r in replies if not isinstance(r, BaseException)]
        for node, reply in zip(up, replies, strict=True):
            if isinstance(reply, BaseException):
                log.warning("node %s: %s", node, reply)
        if not good:
            raise AmiError(f"{action.get('Action')} failed on every node: {replies[0]}")
        return good[0]

    async def _gather(self, action: dict[str, str], **kwargs: Any) -> list[Any]:
        out: list[Any] = []
        for node in self.up():
            with contextlib.suppress(AmiError):
                reply = await self.on_node(node, action, **kwargs)
                for msg in reply if isinstance(reply, list) else [reply]:
                    if msg.get("Event") == "CoreShowChannel":
                        msg[NODE_FIELD] = node
                        self._learn(msg, node)
                    out.append(msg)
        return out

    async def _first(self, action: dict[str, str], **kwargs: Any) -> Any:
        """An action on a channel we have not seen, or a lookup: the first node that
        answers without an error."""
        last: AmiError | None = None
        for node in self.up():
            try:
                return await self.on_node(node, action, **kwargs)
            except AmiError as exc:
                last = exc
        raise last or AmiError(f"no node's AMI is connected; {action.get('Action')} not sent")
