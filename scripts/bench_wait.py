#!/usr/bin/env python3
"""Waiting callers' cost and a freed agent's wait for the next caller (a benchmark, not a
test): real Asterisk, the real daemon, SIPp desk phones and SIPp callers in the sales queue.

1. Cost: four agents on long calls, `--waiting` callers wait `--window` seconds; the
   daemon's CPU (/proc) over that window, less its CPU over as long with nobody waiting,
   per waiting caller-second.
2. Latency: the agents' phones hang up each call after 1 s (no wrap-up) while callers queue
   up behind them; for each offer, the time from the agent's phone sending BYE (the agent is
   free) to the next INVITE reaching it (SIPp message timestamps), and the daemon's own
   offer-to-ring time (`offer_to_ring_ms_*` in `callcenter status`).

`--daemon-src DIR` runs the daemon from another checkout (e.g. a worktree of the commit
before), to measure before and after on the same machine.
Usage: scripts/bench_wait.py [--waiting 50] [--window 20] [--offers 120]"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from bench_acd_e2e import phones_up, stack_up
from benchkit import stop_daemon, write_figures

from callcenter.asterisk import stop
from callcenter.daemon.app import status_socket
from callcenter.daemon.status import query_status
from callcenter.sipp import Sipp, SippServer, dtmf, pause, uac_scenario, uas_scenario

SIP, AMI, AGI = 18160, 18138, 18673
PHONES = {"8003": 18303, "8101": 18401, "8001": 18301, "8102": 18402}
_TICK = os.sysconf("SC_CLK_TCK")
PHONES_UP: list[SippServer] = []  # the phones running now: stopped whatever happens


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def status(conf: Path) -> dict:
    return query_status(status_socket(conf))


def wait_until(conf: Path, predicate, timeout: float, what: str) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = status(conf)
        if predicate(doc):
            return doc
        time.sleep(0.2)
    raise SystemExit(f"never reached: {what}")


def callers(sipp: Sipp, n: int, rate: float, seconds: int) -> threading.Thread:
    """`n` callers choosing sales (key 1), each on the line `seconds` in all."""
    steps = [pause(1500), dtmf("1", 0), pause(seconds * 1000)]
    t = threading.Thread(target=sipp.run, args=(uac_scenario(
        caller_number="13900139000", steps=steps, ending="hangup"),), kwargs=dict(
        service="4008001234", calls=n, rate=rate, limit=n, timeout=int(n / rate + seconds + 90)))
    t.start()
    return t


_STAMP = re.compile(r"^-{10,} (\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d\.\d+)\s*$")


def free_to_ring(phone: SippServer) -> list[float]:
    """Seconds from each BYE the phone sent to the next INVITE it received."""
    out, bye = [], None
    stamp = None
    for line in phone.messages().splitlines():
        m = _STAMP.match(line)
        if m:
            stamp = datetime.fromisoformat(f"{m[1]} {m[2]}").timestamp()
        elif stamp is not None and line.startswith("BYE sip:"):
            bye = stamp
        elif stamp is not None and line.startswith("INVITE sip:") and bye is not None:
            out.append(stamp - bye)
            bye = None
    return out


def pct(values: list[float], share: float) -> float:
    """Nearest rank: the value `share` of the samples are at or below."""
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(len(ordered) * share))) - 1]


def cost(sipp: Sipp, site, work: Path, conf: Path, daemon: int, args) -> dict:
    phones = PHONES_UP[:] = phones_up(sipp, site, PHONES, work / "a", uas_scenario("answer"))
    busy = callers(sipp, len(PHONES), 2, args.window * 2 + 40)
    wait_until(conf, lambda s: s["queues"]["stats"]["answered"] >= len(PHONES), 60,
               "every agent on a call")
    c0, t0 = cpu_seconds(daemon), time.monotonic()
    time.sleep(args.window)
    idle = (cpu_seconds(daemon) - c0) / (time.monotonic() - t0)
    waiting = callers(sipp, args.waiting, 10, args.window * 2 + 10)
    wait_until(conf, lambda s: len(s["queues"]["waiting"]) >= len(PHONES) + args.waiting,
               60, "every caller waiting")
    c0, t0 = cpu_seconds(daemon), time.monotonic()
    time.sleep(args.window)
    busy_cpu = (cpu_seconds(daemon) - c0) / (time.monotonic() - t0)
    waiting.join()
    busy.join()
    for p in phones:
        p.stop()
    per = (busy_cpu - idle) / args.waiting
    return {"idle_cpu_share": round(idle, 4), "waiting_cpu_share": round(busy_cpu, 4),
            "cpu_ms_per_caller_second": round(per * 1000, 4)}


def latency(sipp: Sipp, site, work: Path, conf: Path, args) -> dict:
    phones = PHONES_UP[:] = phones_up(sipp, site, PHONES, work / "b",
                                      uas_scenario("answer", hangup_after_ms=1000))
    before = status(conf)["queues"]["stats"]["offered"]
    t = callers(sipp, args.offers + len(PHONES), 5, 240)
    wait_until(conf, lambda s: s["queues"]["stats"]["offered"] - before >= args.offers,
               600, f"{args.offers} offers")
    stats = status(conf)["queues"]["stats"]
    gaps = [g for p in phones for g in free_to_ring(p)]
    for p in phones:
        p.stop()
    t.join(timeout=5)
    return {"offers_measured_at_phones": len(gaps),
            "free_to_ring_ms_p50": round(pct(gaps, 0.5) * 1000, 1),
            "free_to_ring_ms_p99": round(pct(gaps, 0.99) * 1000, 1),
            "free_to_ring_ms_max": round(max(gaps) * 1000, 1),
            **{k: v for k, v in stats.items() if k.startswith("offer_to_ring")}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--waiting", type=int, default=50)
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--offers", type=int, default=120)
    ap.add_argument("--daemon-src", help="run the daemon from this checkout instead")
    ap.add_argument("--json", default="bench-wait.json")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cc-wait-"))
    site, conf, daemon, sipp = stack_up(
        work, (SIP, AMI, AGI), list(PHONES),
        {"wrap_up_seconds": 0, "ring_seconds": 8, "max_wait_seconds": 900},
        {"PYTHONPATH": args.daemon_src} if args.daemon_src else None)
    try:
        out = {"waiting": args.waiting, "window_s": args.window,
               **cost(sipp, site, work, conf, daemon.pid, args)}
        print(json.dumps(out), flush=True)
        out |= latency(sipp, site, work, conf, args)
    finally:
        for p in PHONES_UP:
            p.stop()
        stop_daemon(daemon)
        stop(conf)
    print(json.dumps(out, indent=2))
    write_figures(args.json, out, work)


if __name__ == "__main__":
    main()
