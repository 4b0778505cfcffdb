#!/usr/bin/env python3
"""Benchmark of the ACD scheduler, compiled twin against pure-Python twin (not a test).

Setup: 20,000 logged-in agents (3–4 random skills, levels 1–10, 4 sites), 200 queues (1–2
required skills, random strategy, weight, expansion and overflow), 10,000 waiting calls.
Then a seeded stream of mixed events: enqueue, answer, ring-no-answer, phone busy, abandon,
wrap-up, ready, pause, skill change, transfer, callback, login/logout and a tick per
simulated second. Each implementation runs in its own child process on the same stream; the
decisions of both are hashed and must be identical.

It reports per-event latency of the scheduler call (median, p99, max; overall and per kind of
event, each call timed on its own), events/s (the recorded stream replayed back to back on a
fresh identical setup, best of --repeat runs), memory (allocations traced during the setup,
peak RSS of the child) and the C/Python ratio. Goal: C >= 200,000 events/s, p99 < 50 us,
>= 10x Python. The max latency includes the benchmark process's own garbage collections.

Usage: scripts/bench_scheduler.py [--events N] [--seed S] [--repeat R] [--json FILE]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from array import array
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
        if impl == "c":
            from callcenter.acd._scheduler_c import Scheduler
        else:
            from callcenter.acd._scheduler_py import Scheduler
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


def percentiles(values: array) -> dict[str, float]:
    s = sorted(values)
    return {"count": len(s), "median_us": round(s[len(s) // 2] / 1000, 2),
            "p99_us": round(s[min(len(s) - 1, int(len(s) * 0.99))] / 1000, 2),
            "max_us": round(s[-1] / 1000, 1)}


def replay(impl: str, seed: int, log: list[tuple[str, tuple, dict]]) -> float:
    """Seconds to run the recorded stream back to back on a fresh, identical setup: the
    throughput figure, free of the driver's bookkeeping and of per-event clock reads."""
    d = Driver(impl, seed)
    d.setup()
    s = d.sched
    calls = [(getattr(s, name), args, kw) for name, args, kw in log]
    gc.collect()
    gc.freeze()
    t0 = time.perf_counter()
    for fn, args, kw in calls:
        if kw:
            fn(*args, **kw)
        else:
            fn(*args)
    return time.perf_counter() - t0


def child(impl: str, events: int, seed: int, repeat: int) -> dict[str, Any]:
    d = Driver(impl, seed)
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    d.setup()
    setup_s = time.perf_counter() - t0
    traced, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # A long-running daemon has its configuration and agents in the oldest GC generation;
    # freezing them keeps the collector from rescanning the setup on every gen-2 pass.
    gc.collect()
    gc.freeze()
    waiting_before = len(d.waiting)
    t0 = time.perf_counter()
    lat, by_kind = d.stream(events)
    wall = time.perf_counter() - t0
    busy = sum(lat) / 1e9
    log = d.log
    waiting_after, decisions, digest = len(d.waiting), d.decisions, d.digest.hexdigest()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del d
    gc.unfreeze()
    gc.collect()
    # Best of `repeat` replays, as timeit does: the machine's noise only ever adds time.
    replays = []
    for _ in range(repeat):
        replays.append(replay(impl, seed, log))
        gc.unfreeze()
        gc.collect()
    replay_s = min(replays)
    return {
        "implementation": impl,
        "events": len(lat),
        "events_per_s": round(len(lat) / replay_s),
        "events_per_s_each_replay": [round(len(lat) / r) for r in replays],
        "events_per_s_timed_one_by_one": round(len(lat) / busy),
        "events_per_s_wall_with_driver": round(len(lat) / wall),
        **{k: v for k, v in percentiles(lat).items() if k != "count"},
        "setup_s": round(setup_s, 2),
        "setup_traced_mib": round(traced / 2**20, 1),
        "setup_traced_peak_mib": round(traced_peak / 2**20, 1),
        "peak_rss_mib": round(rss, 1),
        "waiting_before": waiting_before,
        "waiting_after": waiting_after,
        "decisions": decisions,
        "decisions_digest": digest,
        "by_event": {k: percentiles(v) for k, v in sorted(by_kind.items())},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=200_000, help="events in the measured stream")
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--json", default="bench-scheduler.json", help="where to write the figures")
    p.add_argument("--repeat", type=int, default=3, help="replays timed; the best counts")
    p.add_argument("--only", choices=["c", "py"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.only:
        print(json.dumps(child(args.only, args.events, args.seed, args.repeat)))
        return 0
    results: dict[str, Any] = {}
    env = dict(os.environ)
    env.pop("CALLCENTER_NO_EXTENSIONS", None)
    for impl in ("c", "py"):
        proc = subprocess.run([sys.executable, __file__, "--only", impl, "--events",
                               str(args.events), "--seed", str(args.seed),
                               "--repeat", str(args.repeat)],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            print(f"{impl}: failed\n{proc.stderr.strip()}", file=sys.stderr)
            continue
        results[impl] = json.loads(proc.stdout)
    print(f"ACD scheduler: {N_AGENTS:,} agents, {N_QUEUES} queues, {N_WAITING:,} waiting calls, "
          f"{args.events:,} events (seed {args.seed})")
    header = (f"{'impl':<5}{'events/s':>12}{'median µs':>11}{'p99 µs':>9}{'max µs':>9}"
              f"{'setup s':>9}{'traced MiB':>12}{'RSS MiB':>9}{'waiting':>15}")
    print(header)
    for impl, r in results.items():
        print(f"{impl:<5}{r['events_per_s']:>12,}{r['median_us']:>11}{r['p99_us']:>9}"
              f"{r['max_us']:>9}{r['setup_s']:>9}{r['setup_traced_mib']:>12}"
              f"{r['peak_rss_mib']:>9}{r['waiting_before']:>7,} → {r['waiting_after']:<6,}")
    summary: dict[str, Any] = {"agents": N_AGENTS, "queues": N_QUEUES, "waiting": N_WAITING,
                               "events": args.events, "seed": args.seed, "results": results}
    if "c" in results and "py" in results:
        c, py = results["c"], results["py"]
        ratio = c["events_per_s"] / py["events_per_s"]
        same = c["decisions_digest"] == py["decisions_digest"]
        summary.update(ratio=round(ratio, 1), identical_decisions=same)
        print(f"ratio c/py: {ratio:.1f}x; identical decisions: {'yes' if same else 'NO'} "
              f"({c['decisions']:,} decisions)")
        goals = {"c_events_per_s>=200000": c["events_per_s"] >= 200_000,
                 "c_p99_us<50": c["p99_us"] < 50, "ratio>=10": ratio >= 10}
        summary["goals"] = goals
        print("goals: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in goals.items()))
    Path(args.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {args.json}")
    return 0 if len(results) == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
