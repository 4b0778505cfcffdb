#!/usr/bin/env python3
"""Benchmark of the daemon's two links to a real Asterisk (not a test; prints figures).

1. AGI round trip per IVR step: K concurrent SIPp calls land on a FastAGI server run with our
   AgiServer; each call performs N flow-like steps (SET VARIABLE + GET VARIABLE + a 1-digit
   WAIT FOR DIGIT with a 1 ms timeout) and we time each step from the daemon side.
2. AMI events/s: a second AMI connection fires UserEvent actions as fast as Asterisk takes
   them; we count how many events per second our AmiClient (with the live-channel view
   attached) receives and dispatches.

Usage: scripts/bench_daemon.py [--calls 20] [--steps 50] [--events 20000] [--json FILE]
Runs Asterisk on ports 17060/17038/17573 in a temporary folder and stops it afterwards."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from importlib import resources
from pathlib import Path

import yaml

from callcenter.agi import AgiServer, AgiSession
from callcenter.ami import AmiClient, LiveChannels
from callcenter.asterisk import start, stop
from callcenter.render import render_site
from callcenter.sipp import Sipp, uac_scenario
from callcenter.site import load_site, load_site_file
from callcenter.site.secrets import generate_secrets

SIP, AMI, AGI = 17060, 17038, 17573


def make_site(work: Path) -> Path:
    with resources.as_file(resources.files("callcenter") / "example") as src:
        shutil.copytree(src, work / "site", dirs_exist_ok=True)
    path = work / "site" / "site.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["asterisk"].update(sip_port=SIP, ami_port=AMI, agi_port=AGI)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    generate_secrets(load_site_file(path), work / "site" / "secrets.yaml")
    return path


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))] if s else 0.0


async def bench_agi(site_path: Path, calls: int, steps: int, work: Path) -> dict:
    step_times: list[float] = []
    done = 0

    async def handler(session: AgiSession, path: str, args: list[str]) -> None:
        nonlocal done
        for i in range(steps):
            t = time.perf_counter()
            await session.set_variable("CC_STEP", str(i))
            await session.get_variable("CC_STEP")
            await session.command("WAIT FOR DIGIT", 1)
            step_times.append(time.perf_counter() - t)
        await session.set_variable("CC_NEXT", "hangup")
        done += 1

    server = AgiServer(handler, port=AGI)
    await server.start()
    sipp = Sipp(f"127.0.0.1:{SIP}", local_ip="127.0.0.11", workdir=work / "sipp")  # telecom
    t0 = time.perf_counter()
    result = await asyncio.to_thread(sipp.run, uac_scenario(), service="4008001234",
                                     calls=calls, rate=calls, limit=calls, timeout=120)
    wall = time.perf_counter() - t0
    await server.stop()
    return {"calls": calls, "steps_per_call": steps, "completed_flows": done,
            "sipp_successful": result.successful, "sipp_failed": result.failed,
            "step_ms_median": statistics.median(step_times) * 1000 if step_times else None,
            "step_ms_p99": pct(step_times, 0.99) * 1000,
            "agi_commands_per_s": 3 * len(step_times) / wall, "wall_s": wall}


async def bench_ami(secret: str, events: int) -> dict:
    client = AmiClient(host="127.0.0.1", port=AMI, username="callcenter", secret=secret)
    LiveChannels(client)
    got = 0
    first = last = 0.0

    def count(msg) -> None:
        nonlocal got, first, last
        if msg.get("UserEvent") == "Bench":
            got += 1
            last = time.perf_counter()
            if got == 1:
                first = last

    client.on_event("UserEvent", count)
    client.start()
    await asyncio.wait_for(client.connected.wait(), 10)
    reader, writer = await asyncio.open_connection("127.0.0.1", AMI)
    await reader.readline()
    writer.write(f"Action: Login\r\nUsername: callcenter\r\nSecret: {secret}\r\n"
                 "Events: off\r\n\r\n".encode())
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    t0 = time.perf_counter()
    batch = b"".join(f"Action: UserEvent\r\nUserEvent: Bench\r\nN: {i}\r\n\r\n".encode()
                     for i in range(events))
    writer.write(batch)
    await writer.drain()
    deadline = time.perf_counter() + 60
    while got < events and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    writer.close()
    await client.stop()
    span = (last - first) or 1e-9
    return {"events_sent": events, "events_received": got, "events_per_s": got / span,
            "total_s": time.perf_counter() - t0}


async def main_async(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="cc-bench-"))
    site_path = make_site(work)
    site = load_site(site_path)
    conf = work / "asterisk"
    render_site(site, conf)
    start(conf)
    try:
        agi = await bench_agi(site_path, args.calls, args.steps, work)
        ami = await bench_ami(site.secrets.ami_secret, args.events)
    finally:
        stop(conf)
    return {"agi": agi, "ami": ami}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--json", default="bench-daemon.json")
    args = ap.parse_args()
    res = asyncio.run(main_async(args))
    a, m = res["agi"], res["ami"]
    print(f"AGI: {a['calls']} concurrent calls x {a['steps_per_call']} steps: per step "
          f"median {a['step_ms_median']:.2f} ms, p99 {a['step_ms_p99']:.2f} ms "
          f"(3 AGI commands/step; {a['agi_commands_per_s']:.0f} commands/s overall); "
          f"flows completed {a['completed_flows']}, SIPp ok {a['sipp_successful']}")
    print(f"AMI: {m['events_received']}/{m['events_sent']} events, "
          f"{m['events_per_s']:.0f} events/s dispatched by the daemon's client")
    Path(args.json).write_text(json.dumps(res, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
