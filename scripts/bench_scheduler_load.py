"""The workload of scripts/bench_scheduler.py: the seeded setup (20,000 agents, 200 queues,
10,000 waiting calls) and the stream of mixed events, with just enough bookkeeping to keep
every event valid. Not a benchmark on its own."""

from __future__ import annotations

import hashlib
import importlib
import random
import time
from array import array
from typing import Any

from callcenter.acd.types import AgentPaused, Offer, Overflow, QueueConfig

N_AGENTS = 20_000
N_QUEUES = 200
N_WAITING = 10_000
N_SKILLS = 40
SITES = ["bj", "sh", "gz", "cd"]
TARGETS = ["voicemail:main", "callback", "queue:q0", "hangup"]


class Bag:
    """A set with O(1) add, remove and uniform random pick (driver bookkeeping)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, x: str) -> None:
        if x not in self.index:
            self.index[x] = len(self.items)
            self.items.append(x)

    def discard(self, x: str) -> None:
        i = self.index.pop(x, None)
        if i is None:
            return
        last = self.items.pop()
        if i < len(self.items):
            self.items[i] = last
            self.index[last] = i

    def pick(self, rng: random.Random) -> str | None:
        return self.items[rng.randrange(len(self.items))] if self.items else None

    def __len__(self) -> int:
        return len(self.items)


def make_queues(rng: random.Random) -> list[QueueConfig]:
    out = []
    for i in range(N_QUEUES):
        skills = {f"s{s}": rng.randint(1, 5) for s in rng.sample(range(N_SKILLS),
                                                                   1 if rng.random() < 0.7 else 2)}
        expand = rng.random() < 0.5
        out.append(QueueConfig(
            f"q{i}", skills, rng.choice(["longest_idle", "fewest_calls", "highest_skill",
                                         "round_robin"]),
            weight=rng.randint(1, 3),
            site=rng.choice(SITES) if rng.random() < 0.2 else None,
            expand_after=30 if expand else None, expand_levels=rng.randint(1, 2),
            overflow_site=rng.choice(SITES) if expand and rng.random() < 0.5 else None,
            max_wait=rng.choice([300, 600, None]), overflow=rng.choice(TARGETS)))
    return out


def agent_skills(rng: random.Random) -> dict[str, int]:
    return {f"s{s}": rng.randint(1, 10) for s in rng.sample(range(N_SKILLS), rng.randint(3, 4))}


class Driver:
    """Feeds one scheduler the seeded stream and keeps just enough state to stay valid."""

    def __init__(self, impl: str, seed: int) -> None:
        # "c" and "py" are the twins; any other name is a module with a Scheduler (for
        # scripts/bench_onesource.py, which builds an alternative layout elsewhere)
        name = {"c": "callcenter.acd._scheduler_c", "py": "callcenter.acd._scheduler_py"}
        Scheduler = importlib.import_module(name.get(impl, impl)).Scheduler
        self.rng = random.Random(seed)
        self.queues = make_queues(self.rng)
        self.Scheduler = Scheduler
        self.now = 0
        self.next_call = 0
        self.next_agent = 0
        self.waiting = Bag()
        self.offered: dict[str, str] = {}  # call -> agent
        self.offer_bag = Bag()
        self.on_call = Bag()  # agents on an answered call
        self.wrapping = Bag()
        self.paused = Bag()
        self.ready = Bag()
        self.logged = Bag()
        self.digest = hashlib.blake2b(digest_size=16)
        self.decisions = 0
        self.log: list[tuple[str, tuple, dict]] = []  # the stream, for the untimed replay

    def apply(self, decisions: list) -> None:
        for d in decisions:
            self.decisions += 1
            self.digest.update(repr(d).encode())
            if type(d) is Offer:
                self.waiting.discard(d.call_id)
                self.ready.discard(d.agent_id)
                self.offered[d.call_id] = d.agent_id
                self.offer_bag.add(d.call_id)
            elif type(d) is Overflow:
                if d.target != "callback":
                    self.waiting.discard(d.call_id)
            elif type(d) is AgentPaused:
                self.ready.discard(d.agent_id)
                self.paused.add(d.agent_id)

    def setup(self) -> None:
        rng = self.rng
        self.sched = self.Scheduler(self.queues)
        s = self.sched
        for _ in range(N_AGENTS):
            aid = f"agent{self.next_agent}"
            self.next_agent += 1
            self.apply(s.login(aid, self.now, site=rng.choice(SITES), skills=agent_skills(rng)))
            self.apply(s.busy(aid, self.now))  # on other calls while the queues fill up
            self.logged.add(aid)
            self.on_call.add(aid)
        for _ in range(N_WAITING):
            self.now += rng.randint(0, 3)
            self.enqueue_now()

    def enqueue_args(self) -> tuple[tuple, dict]:
        rng = self.rng
        cid = f"call{self.next_call}"
        self.next_call += 1
        kw: dict[str, Any] = {"priority": 0 if rng.random() < 0.9 else rng.randint(1, 3),
                              "caller": f"1{rng.randrange(10**9):09d}"}
        return (cid, f"q{rng.randrange(N_QUEUES)}", self.now), kw

    def enqueue_now(self) -> None:
        args, kw = self.enqueue_args()
        self.waiting.add(args[0])
        self.apply(self.sched.enqueue(*args, **kw))

    def next_event(self) -> tuple[Any, tuple, dict, Any]:
        """Pick the next event: (bound method, args, kwargs, bookkeeping after the call).

        Shares are chosen so arrivals match departures and the queues stay near 10,000."""
        rng = self.rng
        s = self.sched
        now = self.now
        r = rng.random()
        if r < 0.25 and self.offer_bag:  # the rung phone's outcome
            cid = self.offer_bag.pick(rng)
            agent = self.offered.pop(cid)
            self.offer_bag.discard(cid)
            x = rng.random()
            if x < 0.9:
                return s.answered, (cid, now), {}, lambda: self.on_call.add(agent)
            if x < 0.98:
                def back() -> None:
                    self.waiting.add(cid)
                    if agent not in self.paused.index:
                        self.ready.add(agent)
                return s.offer_failed, (cid, now, "no_answer"), {}, back
            return s.offer_failed, (cid, now, "busy"), {}, lambda: self.waiting.add(cid)
        if r < 0.47 and self.on_call:  # a call ends
            aid = self.on_call.pick(rng)
            self.on_call.discard(aid)
            self.wrapping.add(aid)
            return s.wrap_up, (aid, now), {}, None
        if r < 0.70 and (self.wrapping or self.paused):  # back to ready
            use_wrap = self.wrapping and (rng.random() < 0.85 or not self.paused)
            bag = self.wrapping if use_wrap else self.paused
            aid = bag.pick(rng)
            bag.discard(aid)
            self.ready.add(aid)
            return s.ready, (aid, now), {}, None
        if r < 0.72 and self.waiting:  # caller hangs up
            cid = self.waiting.pick(rng)
            self.waiting.discard(cid)
            return s.leave, (cid, now, "abandoned"), {}, None
        if r < 0.735 and self.ready:
            aid = self.ready.pick(rng)
            self.ready.discard(aid)
            self.paused.add(aid)
            return s.pause, (aid, now, rng.choice(["break", "lunch", "training"])), {}, None
        if r < 0.74 and self.logged:
            aid = self.logged.pick(rng)
            return s.set_skills, (aid, now, agent_skills(rng)), {}, None
        if r < 0.745 and self.waiting:
            cid = self.waiting.pick(rng)
            return s.transfer, (cid, f"q{rng.randrange(N_QUEUES)}", now), {}, None
        if r < 0.748 and self.waiting:
            cid = self.waiting.pick(rng)
            return s.to_callback, (cid, now), {}, None
        if r < 0.7495 and self.paused:
            aid = self.paused.pick(rng)
            self.paused.discard(aid)
            self.logged.discard(aid)
            return s.logout, (aid, now), {}, None
        if r < 0.751:
            aid = f"agent{self.next_agent}"
            self.next_agent += 1
            self.logged.add(aid)
            self.ready.add(aid)
            return (s.login, (aid, now), {"site": rng.choice(SITES), "skills":
                                           agent_skills(rng)}, None)
        args, kw = self.enqueue_args()  # a new caller (also whatever was not possible above)
        return s.enqueue, args, kw, lambda: self.waiting.add(args[0])

    def stream(self, events: int) -> tuple[array, dict[str, array]]:
        rng = self.rng
        lat = array("q")
        by_kind: dict[str, array] = {}
        clock = time.perf_counter_ns
        tick = self.sched.tick
        next_tick = (self.now // 1000 + 1) * 1000
        for _ in range(events):
            self.now += rng.randint(0, 4)
            if self.now >= next_tick:
                next_tick += 1000
                t0 = clock()
                out = tick(self.now)
                t1 = clock()
                lat.append(t1 - t0)
                by_kind.setdefault("tick", array("q")).append(t1 - t0)
                self.log.append(("tick", (self.now,), {}))
                self.apply(out)
                continue
            fn, args, kw, after = self.next_event()
            if kw:
                t0 = clock()
                out = fn(*args, **kw)
                t1 = clock()
            else:
                t0 = clock()
                out = fn(*args)
                t1 = clock()
            lat.append(t1 - t0)
            by_kind.setdefault(fn.__name__, array("q")).append(t1 - t0)
            self.log.append((fn.__name__, args, kw))
            if after is not None:
                after()
            self.apply(out)
        return lat, by_kind
