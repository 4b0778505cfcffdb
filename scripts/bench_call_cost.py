#!/usr/bin/env python3
"""CPU per inbound call (a benchmark, not a test): real Asterisk, the real daemon with its
private PostgreSQL, N agents at auto-answering SIPp phones, SIPp callers at R calls/s whose
flow goes straight to a queue, T seconds of talk.

Prints the daemon's CPU ms per call (utime+stime from /proc/PID/stat, before and after the
caller run), Asterisk's and PostgreSQL's likewise, calls answered/offered, SIP
retransmissions, and AMI events the daemon dispatched per call.
Usage: scripts/bench_call_cost.py [--agents 50] [--rate 10] [--seconds 30] [--talk 3]
                                  [--app-queue]
`--app-queue`: the same Asterisk, phones and callers, with stock app_queue in place of the
daemon (the number's calls go to `Queue()`, the agents are its static members, least recent
first, the same ring time and wrap-up): the side-by-side of issue 13, part 5.
Runs on ports 19060 (SIP), 19038 (AMI), 19573 (AGI), 19700 (the phones) and 19432
(PostgreSQL) in a temporary folder; run it under `flock /tmp/cc-live.lock` beside the test suite."""

from __future__ import annotations

import argparse
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

import yaml
from benchkit import stop_daemon, write_figures

from callcenter.asterisk import start, stop
from callcenter.asterisk.launcher import pid_of
from callcenter.daemon.app import status_socket
from callcenter.daemon.paths import daemon_paths
from callcenter.daemon.status import query_status
from callcenter.render import render_site
from callcenter.sipp import Sipp, pause, register_scenario, uac_scenario, uas_scenario
from callcenter.sipp.runner import _last_stats
from callcenter.site import load_site, load_site_file
from callcenter.site.secrets import generate_secrets
from callcenter.store import Cluster, upgrade

SIP, AMI, AGI, PHONES, PG = 19060, 19038, 19573, 19700, 19432
NUMBER = "4008001234"
CLK = os.sysconf("SC_CLK_TCK")

def make_site(work: Path, agents: int) -> Path:
    """The example site cut down to one queue, one flow (straight to it) and N agents."""
    with resources.as_file(resources.files("callcenter") / "example") as src:
        shutil.copytree(src, work / "site")
    path = work / "site" / "site.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["asterisk"].update(sip_port=SIP, ami_port=AMI, agi_port=AGI)
    data["agents"] = [{"id": str(5000 + i), "name": f"Agent {i}", "extension": str(6000 + i),
                       "site": "bj-hq", "skills": {"sales": 5}} for i in range(agents)]
    data["queues"] = {"sales": {"name": "Bench", "code": "801", "skills": {"sales": 1},
                                "strategy": "longest_idle", "max_wait_seconds": 600,
                                "wrap_up_seconds": 1, "ring_seconds": 10,
                                "overflow": "hangup"}}
    (work / "site" / "flows" / "direct.yaml").write_text(yaml.safe_dump(
        {"description": "straight to the queue", "entry": "q",
         "nodes": {"q": {"type": "queue", "queue": "sales"}}}), encoding="utf-8")
    data["flows"] = {"direct": "flows/direct.yaml"}
    for n in data["numbers"]:
        n["flow"] = "direct"
    data["fallback"]["extensions"] = [a["extension"] for a in data["agents"][:3]]
    data.pop("outbound", None)
    data["outbound"] = {"api": {"port": 0}}  # ports of the test suite's daemons stay free
    data["metrics"] = {"port": 0}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    generate_secrets(load_site_file(path), work / "site" / "secrets.yaml")
    return path


def use_app_queue(conf: Path, site) -> None:
    """Replace the daemon by app_queue in the rendered Asterisk: every trunk's calls go to
    Queue(bench), whose members are the agents' phones."""
    q = site.spec.queues["sales"]
    members = "".join(f"member => PJSIP/{a.extension}\n" for a in site.spec.agents)
    (conf / "queues.conf").write_text(
        "[general]\npersistentmembers = no\n\n[bench]\nstrategy = leastrecent\n"
        f"timeout = {q.ring_seconds}\nretry = 0\nwrapuptime = {q.wrap_up_seconds}\n"
        "ringinuse = no\njoinempty = yes\nleavewhenempty = no\nautofill = yes\n"
        + members)
    ext = conf / "extensions.conf"
    text = ext.read_text().replace("Goto(cc-inbound,${EXTEN},1)",
                                   "Goto(bench-app-queue,${EXTEN},1)")
    ext.write_text(text + "\n[bench-app-queue]\nexten => _X.,1,Answer()\n"
                   f" same => n,Queue(bench,,,,{q.max_wait_seconds})\n same => n,Hangup()\n")
    modules = conf / "modules.conf"
    modules.write_text(modules.read_text() + "load = app_queue.so\n")


def phones_answered(work: Path) -> int:
    """Calls the phones' UAS answered so far (its -trace_stat file, written every second)."""
    stats = _last_stats(work / "uas.csv")
    return int(stats.get("SuccessfulCall(C)", "0") or 0)


def cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / CLK  # utime, stime


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (PostgreSQL's backends)."""
    kids: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(p.name))
    out, todo = [], [pid]
    while todo:
        q = todo.pop()
        out.append(q)
        todo += kids.get(q, [])
    return out


def tree_cpu_ms(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        with contextlib.suppress(OSError):  # a backend that ended meanwhile
            total += cpu_ms(p)
    return total


def postmaster(cluster: Cluster) -> int:
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


def all_ready(sock: Path) -> bool:
    return all(a["state"] == "ready" for a in query_status(sock)["agents"])


def wait_for(what: str, test, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if test():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def run(args: argparse.Namespace, work: Path) -> dict:
    pg_base = Path(tempfile.mkdtemp(prefix="cc-call-cost-pg-"))
    pg_base.chmod(0o755)  # as root the cluster runs as the postgres user
    cluster = Cluster(pg_base / "cluster", port=PG)
    cluster.start()
    try:
        dsn = cluster.create_database("bench", replace=True)
        upgrade(dsn)
        return measure(args, work, dsn, postmaster(cluster))
    finally:
        cluster.stop()
        shutil.rmtree(pg_base, ignore_errors=True)


def measure(args: argparse.Namespace, work: Path, dsn: str, pg: int) -> dict:
    path = make_site(work, args.agents)
    site = load_site(path)
    conf = work / "asterisk"
    render_site(site, conf)
    if args.app_queue:
        use_app_queue(conf, site)
    paths = daemon_paths(conf)
    paths.prepare()
    now = time.time()
    # every agent logged in and ready at its phone (a login per agent over *21 takes seconds)
    paths.agents.write_text(json.dumps({"agents": [
        {"agent_id": a.id, "state": "ready", "since": now, "device": a.extension,
         "pause_reason": "", "misses": 0} for a in site.spec.agents]}))
    start(conf)
    sock = status_socket(conf)
    sipp = Sipp(f"127.0.0.1:{SIP}", local_ip="127.0.0.1", workdir=work / "sipp")
    # every phone registers from the one port the shared answering UAS then listens on
    # (Asterisk keeps the REGISTER's source address: rewrite_contact)
    registered = sum(sipp.run(register_scenario(a.extension), service=a.extension,
                              local_port=PHONES, timeout=15,
                              extra=["-au", a.extension, "-ap",
                                     site.secrets.sip_passwords[a.id]]).successful
                     for a in site.spec.agents)
    (work / "uas.xml").write_text(uas_scenario("answer", answer_after_ms=200))
    phones = subprocess.Popen(
        ["sipp", "-sf", str(work / "uas.xml"), "-i", "127.0.0.1", "-p", str(PHONES), "-aa",
         "-nostdin", "-trace_stat", "-stf", str(work / "uas.csv"), "-fd", "1", "-mp", "0"],
        cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    daemon = None
    if not args.app_queue:
        log = (work / "daemon.log").open("wb")
        daemon = subprocess.Popen([sys.executable, "-m", "callcenter", "run", str(path),
                                   "--conf", str(conf), "--at", "2026-11-24 10:05", "--dsn",
                                   dsn], stdout=log, stderr=subprocess.STDOUT)
    empty = {"queues": {"stats": {"offered": 0, "answered": 0}}, "ami": {"events": 0},
             "store": {"spooled": 0, "stored": 0}}

    def status() -> dict:
        return query_status(sock) if daemon else empty

    def daemon_cpu() -> float:
        return cpu_ms(daemon.pid) if daemon else 0.0

    try:
        if daemon:
            wait_for("the daemon's AMI link", lambda: status()["ami"]["connected"], 60)
            wait_for("every agent ready at a reachable phone", lambda: all_ready(sock), 90)
        calls = int(args.rate * args.seconds)
        caller = uac_scenario(caller_number="13900139000",
                              steps=[pause(int(args.talk * 1000) + 400)], ending="hangup")
        # warm-up: first-call costs (imports, pool connections) are not per-call costs
        sipp.run(caller, service=NUMBER, calls=5, rate=5, limit=5, timeout=60,
                 local_ip=site.spec.trunks["telecom"].host)
        if daemon:
            wait_for("the warm-up's events in PostgreSQL",
                     lambda: status()["store"]["db_up"], 30)
            wait_for("every agent ready again", lambda: all_ready(sock), 60)
        ast = pid_of(conf)
        time.sleep(2)  # the phones' stats file catches up with the warm-up
        before, rung0 = status(), phones_answered(work)
        t0 = (daemon_cpu(), tree_cpu_ms(ast) if ast else 0.0,
              tree_cpu_ms(pg), time.monotonic())
        res = sipp.run(caller, service=NUMBER, calls=calls, rate=args.rate,
                       limit=calls, timeout=int(args.seconds + args.talk + 60),
                       local_ip=site.spec.trunks["telecom"].host)
        time.sleep(3)  # the last hang-ups and wrap-ups, and the events' last batch
        t1 = (daemon_cpu(), tree_cpu_ms(ast) if ast else 0.0,
              tree_cpu_ms(pg), time.monotonic())
        after, rung1 = status(), phones_answered(work)
    finally:
        if daemon:
            stop_daemon(daemon)
        phones.terminate()
        phones.wait(5)
        stop(conf)
    q0, q1 = before["queues"]["stats"], after["queues"]["stats"]
    per = max(calls, 1)
    return {
        "engine": "app_queue" if args.app_queue else "callcenter",
        "agents": args.agents, "rate": args.rate, "seconds": args.seconds, "talk": args.talk,
        "calls_placed": calls, "registered": registered,
        "offered": q1["offered"] - q0["offered"] if daemon else calls,
        "answered": q1["answered"] - q0["answered"] if daemon else rung1 - rung0,
        "phones_answered": rung1 - rung0,
        "sipp_ok": res.successful, "sipp_failed": res.failed,
        "caller_retransmissions": res.retransmissions,
        "daemon_cpu_ms_per_call": round((t1[0] - t0[0]) / per, 2),
        "asterisk_cpu_ms_per_call": round((t1[1] - t0[1]) / per, 2),
        "postgres_cpu_ms_per_call": round((t1[2] - t0[2]) / per, 2),
        "wall_s": round(t1[3] - t0[3], 1),
        "ami_dispatches_per_call": round((after["ami"]["events"] - before["ami"]["events"])
                                         / per, 1),
        "events_spooled_per_call": round((after["store"]["spooled"]
                                          - before["store"]["spooled"]) / per, 1),
        "events_stored": after["store"]["stored"], "events_spooled": after["store"]["spooled"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=30.0, help="how long callers arrive")
    ap.add_argument("--talk", type=float, default=3.0, help="seconds of talk per call")
    ap.add_argument("--app-queue", action="store_true",
                    help="stock app_queue instead of the daemon, on the same traffic")
    ap.add_argument("--json", default="bench-call-cost.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cc-call-cost-"))
    out = run(args, work)
    print(f"{out['engine']}: {out['agents']} agents, {out['rate']:g} calls/s for "
          f"{out['seconds']:g} s, "
          f"{out['talk']:g} s talk: answered {out['answered']}/{out['offered']} offered, "
          f"{out['registered']} phones registered "
          f"({out['calls_placed']} placed; SIPp ok {out['sipp_ok']}, failed "
          f"{out['sipp_failed']}, retransmissions {out['caller_retransmissions']})")
    print(f"CPU per call: daemon {out['daemon_cpu_ms_per_call']} ms, Asterisk "
          f"{out['asterisk_cpu_ms_per_call']} ms, PostgreSQL "
          f"{out['postgres_cpu_ms_per_call']} ms; AMI dispatches/call "
          f"{out['ami_dispatches_per_call']}, events/call {out['events_spooled_per_call']} "
          f"(stored {out['events_stored']} of {out['events_spooled']} spooled)")
    write_figures(args.json, out, work)


if __name__ == "__main__":
    main()
