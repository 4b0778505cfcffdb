#!/usr/bin/env python3
"""End-to-end ACD run (a benchmark, not a test): real Asterisk, the real daemon, SIPp desk
phones for four agents and a stream of SIPp callers choosing the sales queue.

Prints calls offered, answered, abandoned (callers who hang up while still waiting),
and the time from queue entry to the agent's phone ringing, as the daemon measured them.
Usage: scripts/bench_acd_e2e.py [--calls 30] [--rate 1] [--hold 10]"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import yaml
from benchkit import stop_daemon, write_figures

from callcenter.asterisk import start, stop
from callcenter.daemon.app import status_socket
from callcenter.daemon.status import query_status
from callcenter.render import render_site
from callcenter.sipp import (
    Sipp,
    SippServer,
    dtmf,
    pause,
    register_scenario,
    uac_scenario,
    uas_scenario,
)
from callcenter.site import Site, load_site, load_site_file
from callcenter.site.secrets import generate_secrets

SIP, AMI, AGI = 18060, 18038, 18573
PHONES = {"8003": 18103, "8101": 18201, "8001": 18101, "8102": 18202}


def make_site(work: Path, ports: tuple[int, int, int], agents: list[str],
              queue: dict[str, object]) -> tuple[Path, Site]:
    """The example site with Asterisk on `ports` (SIP, AMI, AGI), the agents at extensions
    `agents` selling (skill 5), and `queue` merged into the sales queue."""
    with resources.as_file(resources.files("callcenter") / "example") as src:
        shutil.copytree(src, work / "site")
    path = work / "site" / "site.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    sip, ami, agi = ports
    data["asterisk"].update(sip_port=sip, ami_port=ami, agi_port=agi)
    data["queues"]["sales"].update(queue)
    for a in data["agents"]:
        if a["extension"] in agents:
            a["skills"]["sales"] = 5
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    generate_secrets(load_site_file(path), work / "site" / "secrets.yaml")
    return path, load_site(path)


def start_daemon(path: Path, conf: Path, log: Path,
                 env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """The daemon on the rendered site, once its AMI link is up. It runs in the log's folder:
    `python -m` puts the current folder first on the path, and a PYTHONPATH in `env` (another
    checkout) must come before this one."""
    with log.open("wb") as out:
        daemon = subprocess.Popen([sys.executable, "-m", "callcenter", "run", str(path),
                                   "--conf", str(conf), "--at", "2026-11-24 20:05"],
                                  stdout=out, stderr=subprocess.STDOUT, cwd=log.parent,
                                  env={**os.environ, **(env or {})})
    for _ in range(100):
        try:
            if query_status(status_socket(conf))["ami"]["connected"]:
                break
        except Exception:
            pass  # not listening yet
        time.sleep(0.1)
    return daemon


def stack_up(work: Path, ports: tuple[int, int, int], agents: list[str],
             queue: dict[str, object], env: dict[str, str] | None = None
             ) -> tuple[Site, Path, subprocess.Popen[bytes], Sipp]:
    """Site, Asterisk and daemon running; a Sipp for customers (from the carrier's
    address; desk phones use 127.0.0.1)."""
    path, site = make_site(work, ports, agents, queue)
    conf = work / "asterisk"
    render_site(site, conf)
    start(conf)
    daemon = start_daemon(path, conf, work / "daemon.log", env)
    sipp = Sipp(f"127.0.0.1:{ports[0]}", local_ip=site.spec.trunks["telecom"].host,
                workdir=work / "sipp")
    return site, conf, daemon, sipp


def phones_up(sipp: Sipp, site: Site, phones: dict[str, int], work: Path,
              scenario: str) -> list[SippServer]:
    """Register a SIPp desk phone for each extension (answering with `scenario`) and log
    its agent in from the keypad."""
    up = []
    for ext, port in phones.items():
        agent = next(a for a in site.spec.agents if a.extension == ext)
        pw, pin = site.secrets.sip_passwords[agent.id], site.secrets.pins[agent.id]
        sipp.run(register_scenario(ext), service=ext, local_port=port, timeout=15,
                 local_ip="127.0.0.1", extra=["-au", ext, "-ap", pw])
        up.append(SippServer(port, scenario=scenario, workdir=work / f"phone{ext}").start())
        steps = [pause(800)] + [dtmf(d, 300) for d in f"{agent.id}#{pin}#"]
        sipp.run(uac_scenario(caller_number=ext, steps=steps, auth=True), service="*21",
                 timeout=30, local_ip="127.0.0.1", extra=["-au", ext, "-ap", pw])
    return up


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--rate", type=float, default=1.0)
    ap.add_argument("--hold", type=int, default=10,
                    help="seconds a caller stays on the line after choosing the queue")
    ap.add_argument("--json", default="bench-acd-e2e.json")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cc-acd-e2e-"))
    site, conf, daemon, sipp = stack_up(
        work, (SIP, AMI, AGI), list(PHONES),
        {"wrap_up_seconds": 1, "ring_seconds": 8, "max_wait_seconds": 600})
    phones: list[SippServer] = []
    try:
        phones = phones_up(sipp, site, PHONES, work, uas_scenario("answer",
                                                                  answer_after_ms=800))
        t0 = time.monotonic()
        # each caller presses 1 (sales) and stays on the line `hold` seconds in all (waiting,
        # then talking); a caller still waiting by then has abandoned
        steps = [pause(1500), dtmf("1", 0), pause(args.hold * 1000)]
        res = sipp.run(uac_scenario(caller_number="13900139000", steps=steps,
                                    ending="hangup"), service="4008001234",
                       calls=args.calls, rate=args.rate, limit=args.calls,
                       timeout=int(args.calls / args.rate + args.hold + 60))
        wall = time.monotonic() - t0
        doc = query_status(status_socket(conf))
    finally:
        stop_daemon(daemon)
        for p in phones:
            p.stop()
        stop(conf)
    stats = doc["queues"]["stats"]
    out = {"calls": args.calls, "rate": args.rate, "sipp_successful": res.successful,
           "sipp_failed": res.failed, "retransmissions": res.retransmissions,
           "wall_s": round(wall, 1), **stats}
    print(f"callers {args.calls} at {args.rate}/s, 4 agents, {args.hold} s on the line: "
          f"offered {stats['offered']}, answered {stats['answered']}, "
          f"abandoned {stats['abandoned']}, ring-no-answer {stats['no_answer']}; "
          f"queue entry → agent ringing median {stats['queue_to_ring_ms_median']} ms, "
          f"ring → answer median {stats['answer_ms_median']} ms; SIPp ok {res.successful}, "
          f"failed {res.failed}, retransmissions {res.retransmissions}")
    write_figures(args.json, out, work)


if __name__ == "__main__":
    main()
