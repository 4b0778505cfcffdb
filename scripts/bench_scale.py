#!/usr/bin/env python3
"""How much one daemon carries (a benchmark, not a test): the REAL daemon on one core, fed
by a load generator that plays an Asterisk node's AMI and FastAGI traffic without media
(scripts/loadgen_ami.py, loadgen_agi.py, loadgen_calls.py; docs/scale.md).

Writes a site of N agents and Q queues (one number and one flow straight to its queue
each), logs the agents in, starts `callcenter run` pinned to one core, fills the centre to
its steady state (rate × talk time concurrent calls: exponential talk times are memoryless,
so calls started in a burst are already in equilibrium), then measures a window of Poisson
arrivals: calls offered / answered / abandoned, dispatch latency p50/p95/p99 (an agent
becoming free, or a caller entering with a free agent, to the offer reaching the caller's
AGI session), the daemon's CPU (utime+stime from /proc) and RSS, AMI events/s and AGI
commands/s it handled.

Usage: scripts/bench_scale.py --agents 500 --queues 5 --rate 5 --talk 40 --seconds 60
Runs on ports 21038 (AMI) and 21573 (FastAGI); the big runs under `flock /tmp/cc-live.lock`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from benchkit import stop_daemon
from loadgen_agi import AgiCounters, AgiLink
from loadgen_ami import AmiServer, EventFilters, SimChannel, SimNode, read_classes, summary
from loadgen_calls import Generator, Traffic, latency

from callcenter.daemon.app import status_socket
from callcenter.daemon.paths import daemon_paths
from callcenter.daemon.status import query_status
from callcenter.site import load_site, load_site_file
from callcenter.site.limits import MAX_FILE_BYTES
from callcenter.site.secrets import generate_secrets

AMI, AGI = 21038, 21573
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def make_site(work: Path, agents: int, queues: int, wrap: int) -> Path:
    """The example site with N agents (agent i serves queue i mod Q) and Q queues, each
    reached by a number of its own whose flow goes straight to it."""
    with resources.as_file(resources.files("callcenter") / "example") as src:
        shutil.copytree(src, work / "site")
    path = work / "site" / "site.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["asterisk"].update(ami_port=AMI, agi_port=AGI)
    names = [f"q{k}" for k in range(queues)]
    data["skills"] = {n: {"description": f"bench queue {n}"} for n in names}
    data["agents"] = [{"id": str(1_000_000 + i), "name": f"A{i}",
                       "extension": str(200_000 + i), "site": "bj-hq",
                       "skills": {names[i % queues]: 5}} for i in range(agents)]
    data["queues"] = {n: {"name": f"Bench {n}", "code": str(700 + k), "skills": {n: 1},
                          "strategy": "longest_idle", "max_wait_seconds": 3600,
                          "wrap_up_seconds": wrap, "ring_seconds": 20, "overflow": "hangup"}
                      for k, n in enumerate(names)}
    flows = work / "site" / "flows"
    for n in names:
        (flows / f"{n}.yaml").write_text(yaml.safe_dump(
            {"description": f"straight to {n}", "entry": "q",
             "nodes": {"q": {"type": "queue", "queue": n}}}), encoding="utf-8")
    data["flows"] = {n: f"flows/{n}.yaml" for n in names}
    data["numbers"] = [{"number": f"4008{k:06d}", "description": f"bench {n}", "flow": n,
                        "first_route": "telecom", "second_route": "unicom"}
                       for k, n in enumerate(names)]
    data["fallback"]["extensions"] = [a["extension"] for a in data["agents"][:3]]
    data.pop("outbound", None)
    data["outbound"] = {"api": {"port": 0}}  # the test suite's ports stay free
    data["metrics"] = {"port": 0}
    # JSON is YAML, and the shortest way to write 20,000 agents
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                    encoding="utf-8")
    generate_secrets(load_site_file(path), work / "site" / "secrets.yaml")
    return path


def seed_logins(conf: Path, site: Any, ready: int) -> None:
    """Every agent logged in at its own phone before the daemon starts: the first `ready`
    ready, the others on a break (logged in, so the scheduler still holds them)."""
    paths = daemon_paths(conf)
    paths.prepare()
    now = time.time()
    paths.agents.write_text(json.dumps({"agents": [
        {"agent_id": a.id, "state": "ready" if i < ready else "paused", "since": now,
         "device": a.extension, "pause_reason": "" if i < ready else "break", "misses": 0}
        for i, a in enumerate(site.spec.agents)]}))


async def agi_logins(node: SimNode, site: Any, counters: AgiCounters, limit: int) -> float:
    """Log every agent in over FastAGI, as a desk phone dialling *21 does; seconds taken."""
    secret = site.secrets.agi_secret
    sem = asyncio.Semaphore(limit)

    async def one(agent: Any) -> None:
        async with sem:
            ch = SimChannel(node.new_id(), f"PJSIP/{agent.extension}-{int(agent.id):08x}",
                            caller=agent.extension, exten="*21", context="cc-agents")
            link = AgiLink(node, ch, counters, host="127.0.0.1", port=AGI,
                           dtmf_script={"agent-user": agent.id,
                                        "agent-pass": site.secrets.pins[agent.id]})
            node.add(ch)
            await link.run(f"{secret}/feature/login")
            node.remove(ch)

    t0 = time.monotonic()
    await asyncio.gather(*(one(a) for a in site.spec.agents))
    return time.monotonic() - t0


def proc_cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / CLK  # utime, stime


def proc_rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


async def wait_until(what: str, test: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if test():
                return
        await asyncio.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def agi_open() -> bool:
    """The daemon listens for FastAGI (read from /proc: a probe connection would be logged
    as a broken session)."""
    port = f":{AGI:04X} "
    return any(port in line and line.split()[3] == "0A"
               for line in Path("/proc/net/tcp").read_text().splitlines()[1:])


async def bench(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    t0 = time.monotonic()
    path = make_site(work, args.agents, args.queues, args.wrap)
    site = load_site(path)
    conf = work / "asterisk"
    if args.render:
        from callcenter.render import render_site

        render_site(site, conf)
    manager = (conf / "manager.conf").read_text() if args.render else ""
    classes = read_classes(manager)
    filters = EventFilters.parse(manager)
    conf.mkdir(exist_ok=True)
    ready = args.agents if args.ready is None else args.ready
    if args.login == "file":
        seed_logins(conf, site, ready)
    setup_s = time.monotonic() - t0
    node = SimNode("node-1", read=classes, filters=filters)
    ami = AmiServer(node, site.secrets.ami_secret, port=AMI)
    await ami.start()
    counters = AgiCounters()
    log = (work / "daemon.log").open("wb")
    cmd = [sys.executable, "-m", "callcenter", "run", str(path), "--conf", str(conf),
           "--at", "2026-11-24 10:05", "--log-level", args.log_level]
    cmd += ["--dsn", args.dsn] if args.dsn else ["--no-store"]
    if args.daemon_cpu is not None:
        cmd = ["taskset", "-c", str(args.daemon_cpu), *cmd]
    env, cwd = dict(os.environ), None
    if args.daemon_src:  # the daemon of that source tree (a commit checked out elsewhere);
        # run from there too: `python -m` puts the working folder first on the path
        cwd = Path(args.daemon_src).resolve()
        env["PYTHONPATH"] = str(cwd)
    daemon = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    pid, out = daemon.pid, {}
    try:
        await wait_until("the daemon's AMI login", ami.connected, 600)
        await wait_until("the daemon's FastAGI port", agi_open, 120)
        start_s = time.monotonic() - t0
        login_s = None
        if args.login == "agi":
            login_s = await agi_logins(node, site, counters, 50)
        traffic = Traffic(rate=args.rate, talk=args.talk, secret=site.secrets.agi_secret,
                          numbers=[(n.number, n.flow) for n in site.spec.numbers],
                          agi_port=AGI, patience=args.patience, ring=args.ring,
                          wrap=args.wrap, agent_hangs_first=args.agent_hangs_first)
        gen = Generator(node, traffic, counters)
        # fill: the steady state's concurrent calls, at the fill rate, then settle
        target = args.prefill if args.prefill is not None else int(args.rate * args.talk)
        fill_t = time.monotonic()
        while gen.active < target:
            gen.spawn()
            await asyncio.sleep(1 / args.fill_rate)
        fill_s = time.monotonic() - fill_t
        await gen.arrivals(args.settle)
        # the measured window
        f = gen.figures
        made = node.events_made
        before = {"offered": f.offered, "answered": f.answered, "abandoned": f.abandoned,
                  "completed": f.completed, "started": f.started, "events": node.events_sent,
                  "agi": counters.commands, "cpu": proc_cpu_ms(pid), "t": time.monotonic(),
                  "other": sum(f.other.values())}
        gen.measure_from = before["t"]
        spy = None
        if args.profile:
            spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record",
                                    "-o", args.profile, "--pid", str(pid), "-d",
                                    str(int(args.seconds)), "-r", "50", "--nonblocking",
                                    "-f", "raw" if args.profile.endswith(".txt") else
                                    "flamegraph"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        conc: list[int] = []
        lag: list[float] = []  # the generator's own loop lag: its timestamps are this late
        gen_cpu = time.process_time()

        async def sample() -> None:
            loop = asyncio.get_running_loop()
            while True:
                conc.append(gen.active)
                for _ in range(10):
                    due = loop.time() + 0.1
                    await asyncio.sleep(0.1)
                    lag.append((loop.time() - due) * 1000)

        sampler = asyncio.create_task(sample())
        await gen.arrivals(args.seconds)
        sampler.cancel()
        wall = time.monotonic() - before["t"]
        cpu = proc_cpu_ms(pid) - before["cpu"]
        gen_cpu = time.process_time() - gen_cpu
        calls = f.started - before["started"]
        out = {
            "agents": args.agents, "ready": ready, "queues": args.queues, "rate": args.rate,
            "talk_s": args.talk, "wrap_s": args.wrap, "patience_s": args.patience,
            "window_s": round(wall, 1), "ami_read": sorted(classes),
            "site_file_kb": path.stat().st_size // 1024,
            "site_file_cap_kb": MAX_FILE_BYTES // 1024,
            "setup_s": round(setup_s, 1), "daemon_start_s": round(start_s - setup_s, 1),
            "login_s": None if login_s is None else round(login_s, 1),
            "fill_s": round(fill_s, 1), "fill_calls": target,
            "concurrent_mean": round(sum(conc) / max(1, len(conc))),
            "concurrent_max": max(conc, default=0), "waiting_end": gen.waiting,
            "calls_arrived": calls,
            "offered": f.offered - before["offered"],
            "answered": f.answered - before["answered"],
            "abandoned": f.abandoned - before["abandoned"],
            "completed": f.completed - before["completed"],
            "other_outcomes": dict(f.other), "double_offers": f.double_offers,
            "dispatch_free_agent_ms": latency(f.enter_to_offer),
            "dispatch_waiting_caller_ms": latency(f.free_to_offer),
            "dispatch_all_ms": latency(f.enter_to_offer + f.free_to_offer),
            "daemon_cpu_ms": round(cpu), "daemon_cpu_pct": round(cpu / wall / 10, 1),
            "daemon_cpu_ms_per_call": round(cpu / max(1, calls), 2),
            "daemon_rss_mb": round(proc_rss_mb(pid)),
            "generator_cpu_pct": round(gen_cpu / wall * 100, 1),
            "generator_lag_ms": latency(lag),
            "ami_events_per_s": round((node.events_sent - before["events"]) / wall),
            "ami_events_raised_per_s": round((node.events_made - made) / wall),
            "ami_filters": len(filters.includes) + len(filters.excludes),
            "agi_commands_per_s": round((counters.commands - before["agi"]) / wall),
            "agi_by_command": dict(counters.by_command), "agi_failed": counters.failed,
            "ami_actions": summary(node)["actions"],
        }
        if spy is not None:
            spy.wait(60)
        with contextlib.suppress(Exception):
            stats = query_status(status_socket(conf), timeout=30)["queues"]["stats"]
            out["daemon_stats"] = {k: stats.get(k) for k in (
                "offered", "answered", "abandoned", "no_answer", "queue_to_ring_ms_median")}
        gen.cancel()
    finally:
        stop_daemon(daemon, 30)
        await ami.stop()
        log.close()
    return out


def report(r: dict[str, Any]) -> str:
    d = r["dispatch_all_ms"]
    return (f"{r['agents']} agents ({r['ready']} ready), {r['queues']} queues, "
            f"{r['rate']} calls/s, talk {r['talk_s']} s: ~{r['concurrent_mean']} concurrent "
            f"(max {r['concurrent_max']}) over {r['window_s']} s; arrived "
            f"{r['calls_arrived']}, offered {r['offered']}, answered {r['answered']}, "
            f"abandoned {r['abandoned']}, double offers {r['double_offers']}; dispatch "
            f"p50/p95/p99 {d['p50']}/{d['p95']}/{d['p99']} ms (free agent "
            f"{r['dispatch_free_agent_ms']['p99']}, waiting caller "
            f"{r['dispatch_waiting_caller_ms']['p99']} ms p99); daemon CPU "
            f"{r['daemon_cpu_pct']} % of a core, {r['daemon_cpu_ms_per_call']} ms/call, RSS "
            f"{r['daemon_rss_mb']} MB; AMI {r['ami_events_per_s']} events/s, AGI "
            f"{r['agi_commands_per_s']} commands/s; generator CPU "
            f"{r['generator_cpu_pct']} %, its loop lag p99 {r['generator_lag_ms']['p99']} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=500)
    ap.add_argument("--ready", type=int, help="agents ready (the rest on a break; all)")
    ap.add_argument("--queues", type=int, default=5)
    ap.add_argument("--rate", type=float, default=5.0, help="calls per second (Poisson)")
    ap.add_argument("--talk", type=float, default=40.0, help="mean talk time, seconds")
    ap.add_argument("--wrap", type=int, default=0, help="the queues' wrap_up_seconds")
    ap.add_argument("--patience", type=float, default=120.0, help="mean patience, seconds")
    ap.add_argument("--ring", type=float, default=2.0, help="seconds before agents answer")
    ap.add_argument("--agent-hangs-first", type=float, default=0.3)
    ap.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    ap.add_argument("--settle", type=float, default=10.0)
    ap.add_argument("--prefill", type=int, help="concurrent calls to fill (rate × talk)")
    ap.add_argument("--fill-rate", type=float, default=300.0)
    ap.add_argument("--login", choices=("file", "agi"), default="file",
                    help="agents.json before the start, or *21 over FastAGI")
    ap.add_argument("--dsn", help="PostgreSQL for the events (default: spool only)")
    ap.add_argument("--log-level", default="INFO")
    ap.add_argument("--daemon-cpu", type=int, default=1, help="core for the daemon")
    ap.add_argument("--gen-cpu", type=int, default=0, help="core for the generator")
    ap.add_argument("--daemon-src", help="run the daemon of this source tree (PYTHONPATH)")
    ap.add_argument("--no-render", dest="render", action="store_false")
    ap.add_argument("--profile", help="py-spy output of the window (.svg, or .txt: raw)")
    ap.add_argument("--json", default="bench-scale.json")
    args = ap.parse_args()
    if args.profile and not (Path(sys.executable).parent / "py-spy").exists():
        ap.error("--profile needs py-spy in the venv: .venv/bin/pip install py-spy")
    if args.gen_cpu is not None:
        os.sched_setaffinity(0, {args.gen_cpu})
    work = Path(tempfile.mkdtemp(prefix="cc-scale-"))
    try:
        r = asyncio.run(bench(args, work))
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    print(report(r))
    Path(args.json).write_text(json.dumps(r, indent=2))
    print(f"wrote {args.json}" + (f" (work folder {work})" if os.environ.get("KEEP") else ""))


if __name__ == "__main__":
    main()
