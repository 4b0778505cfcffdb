"""The load generator's calls: callers arriving (Poisson), the dialplan each one runs on a
simulated node (dialplans/extensions.conf.j2 without media), the agents' phones answering,
talk times, abandons — and the dispatch latency the benchmark reports (docs/scale.md).

A caller: Newchannel, the cc-inbound steps, Answer; FastAGI flow/NAME (the daemon holds it
while it waits); the offer ends that session with CC_NEXT=connect, and the dialplan Dials
CC_AGENT_EXT: DialBegin, the agent's channel rings and answers, DialEnd ANSWER, bridge;
after the talk time the caller hangs up (Hangup events), or the agent does first (its
Hangup, then FastAGI survey on the caller's channel, then the caller's Hangup)."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any

from loadgen_agi import AgiCounters, AgiLink
from loadgen_ami import SimChannel, SimNode

__all__ = ["Generator", "Traffic"]


@dataclass(frozen=True)
class Traffic:
    rate: float  # calls per second, Poisson arrivals
    talk: float  # mean talk time (exponential), seconds
    numbers: list[tuple[str, str]]  # (number dialled, its flow): callers pick one at random
    secret: str  # the AGI secret (the first part of every request path)
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    patience: float = 120.0  # mean patience of a waiting caller (exponential), seconds
    ring: float = 2.0  # seconds an agent's phone rings before it is answered
    wrap: float = 0.0  # the queues' wrap_up_seconds (the agent is free this long after)
    agent_hangs_first: float = 0.3  # share of calls the agent ends (then the survey route)
    seed: int = 1


@dataclass
class Figures:
    offered: int = 0  # offers that reached a caller's AGI session (CC_NEXT=connect)
    answered: int = 0
    abandoned: int = 0  # hung up while waiting
    completed: int = 0
    other: dict[str, int] = field(default_factory=dict)  # fallback, hangup… (CC_NEXT)
    double_offers: int = 0  # an offer to an agent whose phone is still on a call
    free_to_offer: list[float] = field(default_factory=list)  # ms: a waiting caller
    enter_to_offer: list[float] = field(default_factory=list)  # ms: a free agent
    started: int = 0


class Generator:
    """Every simulated call of one node (several nodes: one Generator each)."""

    def __init__(self, node: SimNode, traffic: Traffic, counters: AgiCounters) -> None:
        self.node, self.t, self.counters = node, traffic, counters
        self.rng = random.Random(traffic.seed)
        self.figures = Figures()
        self.measure_from = float("inf")  # monotonic time the measured window starts
        self.free_at: dict[str, float] = {}  # agent's phone -> when it became free
        self.on_call: set[str] = set()  # agents' phones on a call now
        self.active = 0
        self.waiting = 0
        self._seq = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- arrivals ------------------------------------------------------------------------
    def spawn(self) -> None:
        task = asyncio.create_task(self.call())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def arrivals(self, seconds: float, rate: float | None = None) -> None:
        """Poisson arrivals at `rate` (the traffic's) for `seconds`."""
        rate = rate or self.t.rate
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        due = loop.time()
        while True:
            due += self.rng.expovariate(rate)
            if due >= end:  # the window lasts its full length
                await asyncio.sleep(max(0.0, end - loop.time()))
                return
            await asyncio.sleep(max(0.0, due - loop.time()))
            self.spawn()

    async def drain(self, timeout: float) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    # ---- one caller ------------------------------------------------------------------------
    def _channel(self, name: str, caller: str, exten: str, context: str) -> SimChannel:
        return SimChannel(self.node.new_id(), f"PJSIP/{name}-{next(self._seq):08x}",
                          caller=caller, exten=exten, context=context)

    async def call(self) -> None:
        node, t, fig = self.node, self.t, self.figures
        number, flow = self.rng.choice(t.numbers)
        caller = f"139{self.rng.randrange(10**8):08d}"
        ch = self._channel("trunk-telecom", caller, number, "cc-inbound")
        fig.started += 1
        self.active += 1
        try:
            node.add(ch)
            node.dialplan(ch, "cc-inbound", "NoOp Set Set Set Answer Set ExecIf GotoIf AGI")
            for var, value in (("CC_NUMBER", number), ("CC_FLOW", flow), ("CC_NEXT", "")):
                node.set_var(ch, var, value)
            node.state(ch, "Up")
            path, args = f"{t.secret}/flow/{flow}", [number]
            while True:
                nxt = await self._session(ch, path, args)
                if nxt != "connect":
                    break
                nxt = await self._connect(ch)
                if nxt != "queue":  # answered and over, or the caller is gone
                    return
                path, args = f"{t.secret}/offer/NOANSWER", []
            if nxt == "abandoned":
                fig.abandoned += 1
            else:
                fig.other[nxt or "none"] = fig.other.get(nxt or "none", 0) + 1
            node.dialplan(ch, "cc-after-flow", "GotoIf GotoIf GotoIf GotoIf NoOp Hangup")
            node.remove(ch)
        finally:
            self.active -= 1

    async def _session(self, ch: SimChannel, path: str, args: list[str]) -> str:
        """One FastAGI session while the caller waits; CC_NEXT after it, or "abandoned"."""
        loop = asyncio.get_running_loop()
        entered = time.monotonic()
        link = AgiLink(self.node, ch, self.counters, host=self.t.agi_host, port=self.t.agi_port)
        offered = False

        def on_set(var: str, value: str) -> None:
            nonlocal offered
            if var == "CC_NEXT" and value == "connect" and not offered:
                offered = True
                patience.cancel()
                self._offered(ch, entered)

        def give_up() -> None:
            if not offered:
                link.hangup()

        link.on_set = on_set
        ch.on_dtmf, ch.on_hangup = link.dtmf, link.hangup
        patience = loop.call_later(self.rng.expovariate(1 / self.t.patience), give_up)
        self.waiting += 1
        try:
            await link.run(path, args)
        finally:
            self.waiting -= 1
            patience.cancel()
            ch.on_dtmf = ch.on_hangup = None
        if link.hung_up and not offered:
            return "abandoned"
        return ch.vars.get("CC_NEXT", "")

    def _offered(self, ch: SimChannel, entered: float) -> None:
        now = time.monotonic()
        fig = self.figures
        fig.offered += 1
        phone = ch.vars.get("CC_AGENT_EXT", "")
        if phone in self.on_call:
            fig.double_offers += 1
        if now < self.measure_from:
            return
        free = self.free_at.get(phone, 0.0)
        if free > entered:
            fig.free_to_offer.append((now - free) * 1000)
        else:
            fig.enter_to_offer.append((now - entered) * 1000)

    async def _connect(self, ch: SimChannel) -> str:
        """cc-connect: Dial the agent; "queue" when it was not answered, else "done"."""
        node, t, fig = self.node, self.t, self.figures
        phone = ch.vars.get("CC_AGENT_EXT", "")
        node.dialplan(ch, "cc-after-flow", "GotoIf GotoIf GotoIf")
        node.dialplan(ch, "cc-connect", "Set Set Set Set Set Dial")
        for var in ("CALLERID(name)", "__CC_ENQUEUED", "__CC_PRIORITY", "__CC_LABEL"):
            node.set_var(ch, var, ch.vars.get(var.lstrip("_"), ""))
        agent = self._channel(phone, phone, phone, "cc-agents")
        agent.linkedid = ch.uniqueid
        node.add(agent)
        node.emit("DialBegin", _pair(ch, agent) | {"DialString": phone})
        node.dialplan(agent, "cc-agent-leg", "Set Return")
        node.state(agent, "Ringing")
        node.emit("DeviceStateChange", {"Device": f"PJSIP/{phone}", "State": "RINGING"})
        self.on_call.add(phone)
        await asyncio.sleep(t.ring)
        if ch.uniqueid not in node.channels:  # the daemon hung the caller up meanwhile
            node.remove(agent)
            self._free(phone)
            return "gone"
        node.state(agent, "Up")
        node.emit("DialEnd", _pair(ch, agent) | {"DialStatus": "ANSWER"})
        fig.answered += 1
        bridge = f"bridge-{ch.uniqueid}"
        node.emit("BridgeCreate", {"BridgeUniqueid": bridge, "BridgeType": "basic"})
        for c in (ch, agent):
            node.emit("BridgeEnter", c.fields() | {"BridgeUniqueid": bridge})
        node.emit("DeviceStateChange", {"Device": f"PJSIP/{phone}", "State": "INUSE"})
        await asyncio.sleep(self.rng.expovariate(1 / t.talk))
        for c in (ch, agent):
            node.emit("BridgeLeave", c.fields() | {"BridgeUniqueid": bridge})
        node.emit("BridgeDestroy", {"BridgeUniqueid": bridge})
        if self.rng.random() < t.agent_hangs_first:
            node.emit("HangupRequest", agent.fields())
            node.remove(agent)
            node.emit("DeviceStateChange", {"Device": f"PJSIP/{phone}", "State": "NOT_INUSE"})
            self._free(phone)
            node.dialplan(ch, "cc-connect", "GotoIf Set GotoIf AGI")
            await self._session(ch, f"{t.secret}/survey", [])
        else:
            node.emit("HangupRequest", ch.fields())
            node.remove(ch)
            node.remove(agent)
            node.emit("DeviceStateChange", {"Device": f"PJSIP/{phone}", "State": "NOT_INUSE"})
            self._free(phone)
        node.remove(ch)
        fig.completed += 1
        return "done"

    def _free(self, phone: str) -> None:
        self.on_call.discard(phone)
        self.free_at[phone] = time.monotonic() + self.t.wrap


def _pair(caller: SimChannel, agent: SimChannel) -> dict[str, str]:
    """A Dial event's fields: the caller's channel and the agent's (Dest…)."""
    out = caller.fields()
    out |= {f"Dest{k}": v for k, v in agent.fields().items()}
    return out


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))], 1)


def latency(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": percentile(values, 0.50),
            "p95": percentile(values, 0.95), "p99": percentile(values, 0.99),
            "max": round(max(values), 1) if values else None}
