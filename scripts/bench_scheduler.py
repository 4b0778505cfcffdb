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
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from array import array
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# the workload lives beside this file (this file's folder is first on sys.path)
from bench_scheduler_load import N_AGENTS, N_QUEUES, N_WAITING, Driver


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
    p.add_argument("--only", metavar="IMPL", help="run one implementation in this process and "
                   "print its figures as JSON: c, py or a module with a Scheduler")
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
