#!/usr/bin/env python3
"""Outbound reminders at scale (a benchmark, not a test; `make test` does not run it).

N reminders (default 2000) due within the same W minutes (default 10) are submitted through
the daemon's HTTP API (`POST /v1/reminders/bulk`, the `booking` client) and placed by the
real daemon through the real Asterisk over the example site's two trunks (telecom, unicom;
`--channels` each, their calls per second as the site file says) to SIPp carriers whose
callees answer after a random delay and hang up after another. Half the callees are
Beijing mobiles (1380013xxxx, shown the Beijing number on telecom), half Chengdu
(1398000xxxx, the Chengdu number on unicom). Prints: reminders placed before their deadline
(late, missed), the most calls at once and starts in one second per trunk (from the stored
attempts and events, and as each carrier counted them), the most attempts to one callee per
minute/hour/day against the site's limits, lateness p50/p99, CPU seconds of the daemon and
of Asterisk per call (/proc/PID/stat), API bulk throughput and the wall time.

It reuses the test harness (tests/fix_asterisk.py, tests/fix_postgres.py,
tests/fix_daemon.py), so it adds the repository root to sys.path and imports from `tests.`.
It uses the test ports (SIP 15060, AMI 15038, carriers 127.0.0.11:15071, 127.0.0.12:15072,
API 15480) and a PostgreSQL cluster of its own on port 15434: run it under the live lock.

Usage: flock /tmp/cc-live.lock .venv/bin/python scripts/bench_outbound.py \\
           [--reminders 2000] [--minutes 10] [--channels 30] [--json FILE]"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test harness lives in tests/

import httpx  # noqa: E402
import psycopg  # noqa: E402
import yaml  # noqa: E402

from callcenter.asterisk import start, stop  # noqa: E402
from callcenter.asterisk.launcher import pid_of  # noqa: E402
from callcenter.daemon.app import status_socket  # noqa: E402
from callcenter.render import render_site  # noqa: E402
from callcenter.sipp import SippServer, uas_scenario  # noqa: E402
from callcenter.site import load_site  # noqa: E402
from tests.fix_asterisk import API_PORT, CARRIER_IPS, CARRIER_PORTS, make_site  # noqa: E402
from tests.fix_daemon import RunningDaemon  # noqa: E402
from tests.fix_postgres import fresh_database, throwaway_cluster  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from bench_outbound_figures import analyse, carrier_view, cpu, report  # noqa: E402

PG_PORT = 15434  # not the tests' 15432/15433: PostgreSQL-only tests run without the lock
FINAL = ("done", "refused", "expired", "cancelled")
STUDENTS = ["王小明", "李华", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄婷"]
COURSES = ["英语课", "数学课", "编程课"]


def prepare_site(folder: Path, args: argparse.Namespace) -> Path:
    """The test site, with the example's callee limits and the benchmark's trunk sizes."""
    path = make_site(folder)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    with (ROOT / "callcenter" / "example" / "site.yaml").open(encoding="utf-8") as fh:
        example = yaml.safe_load(fh)
    data["outbound"]["limits"] = example["outbound"]["limits"]  # the tests loosen them
    for name in ("telecom", "unicom"):
        data["trunks"][name]["channels"] = args.channels
    campaign = data["outbound"]["campaigns"]["reminders"]
    campaign["ring_seconds"] = args.ring_seconds
    campaign["concurrency"] = args.concurrency or 2 * args.channels
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


def start_daemon(site_path: Path, conf: Path, log_path: Path, at: str, dsn: str
                 ) -> RunningDaemon:
    """`callcenter run` as the tests start it, but logging at INFO as production does."""
    status_socket(conf).unlink(missing_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "callcenter", "run", str(site_path), "--conf", str(conf),
             "--log-level", "INFO", "--at", at, "--dsn", dsn],
            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    daemon = RunningDaemon(proc, conf, log_path, dsn)
    daemon.wait_for(lambda s: s["ami"]["connected"] and s["outbound"]["api_port"]
                    and (s["outbound"]["dialler"] or {}).get("reconciled"), 60,
                    "AMI, the API and a reconciled dialler")
    return daemon


def lessons(n: int, minutes: float, first_due: dt.datetime, lead: int) -> list[dict[str, Any]]:
    """n lessons whose reminders fall due evenly over `minutes` from `first_due`."""
    step = minutes * 60 / n
    out = []
    for i in range(n):
        number = f"1380013{i // 2:04d}" if i % 2 == 0 else f"1398000{i // 2:04d}"
        start_at = first_due + dt.timedelta(seconds=i * step, minutes=lead)
        out.append({"number": number, "lesson_id": f"B-{i}", "idempotency_key": f"bench-{i}",
                    "lesson_start": start_at.isoformat(timespec="seconds"),
                    "student": STUDENTS[i % len(STUDENTS)], "course": COURSES[i % 3]})
    return out


async def submit(token: str, items: list[dict[str, Any]], batch: int) -> float:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{API_PORT}", timeout=120,
                                 headers={"Authorization": f"Bearer {token}"}) as c:
        t0 = time.perf_counter()
        for i in range(0, len(items), batch):
            resp = await c.post("/v1/reminders/bulk", json={"reminders": items[i:i + batch]})
            if resp.status_code != 201:
                raise SystemExit(f"bulk submission refused: {resp.status_code} "
                                 f"{resp.text[:500]}")
        return time.perf_counter() - t0


def wait_settled(dsn: str, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_print = 0.0
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            (open_jobs,) = conn.execute(
                "SELECT count(*) FROM outbound_jobs WHERE state <> ALL(%s)", (list(FINAL),)
            ).fetchone()
            (dialling,) = conn.execute(
                "SELECT count(*) FROM outbound_attempts WHERE state = 'dialling'").fetchone()
            if open_jobs == 0 and dialling == 0:
                return
            if time.monotonic() - last_print > 30:
                print(f"  … {n - open_jobs}/{n} settled, {dialling} calls in progress",
                      flush=True)
                last_print = time.monotonic()
            time.sleep(2)
    print("  timed out waiting for the jobs to settle", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reminders", type=int, default=2000)
    ap.add_argument("--minutes", type=float, default=10, help="window the calls fall due in")
    ap.add_argument("--channels", type=int, default=30, help="channels per trunk")
    ap.add_argument("--concurrency", type=int, default=0,
                    help="the reminder campaign's concurrency (default: both trunks' channels)")
    ap.add_argument("--ring-seconds", type=int, default=30)
    ap.add_argument("--answer-ms", default="1000-6000", help="callees answer after (uniform)")
    ap.add_argument("--talk-ms", default="3000-12000", help="then hang up after (uniform)")
    ap.add_argument("--at", default="2026-11-24 10:00", help="the daemon's clock (--at)")
    ap.add_argument("--batch", type=int, default=500, help="reminders per bulk request")
    ap.add_argument("--json", default="", help="also write the figures to this file")
    args = ap.parse_args()
    if not 0 < args.reminders <= 20000:
        raise SystemExit("--reminders: 1 to 20000 (the callee numbers are 2 × 10,000)")
    answer = [int(x) for x in args.answer_ms.split("-")]
    talk = [int(x) for x in args.talk_ms.split("-")]

    work = Path(tempfile.mkdtemp(prefix="cc-bench-outbound-"))
    site_path = prepare_site(work / "site", args)
    site = load_site(site_path)
    conf = work / "asterisk"
    render_site(site, conf)
    tz = ZoneInfo(site.spec.company.timezone)
    lead = site.spec.outbound.templates["lesson"].lead_minutes
    scenario = uas_scenario("answer", answer_after_ms=answer[0], answer_after_max_ms=answer[-1],
                            hangup_after_ms=talk[0], hangup_after_max_ms=talk[-1])
    carriers: list[SippServer] = []
    daemon: RunningDaemon | None = None
    print(f"work folder {work}", flush=True)
    with throwaway_cluster(PG_PORT) as cluster:
        dsn = fresh_database(cluster, "bench_outbound")
        try:
            start(conf, timeout=90)
            ast_pid = pid_of(conf)
            for name, port in CARRIER_PORTS.items():
                carriers.append(SippServer(port, scenario=scenario, local_ip=CARRIER_IPS[name],
                                           workdir=work / f"carrier-{name}").start())
            at = dt.datetime.fromisoformat(args.at).replace(tzinfo=tz)
            launched = time.time()
            daemon = start_daemon(site_path, conf, work / "daemon.log", args.at, dsn)
            # the daemon's clock runs from --at since its start: a little behind this estimate
            first_due = at + dt.timedelta(seconds=time.time() - launched + 10)
            items = lessons(args.reminders, args.minutes, first_due, lead)
            token = site.secrets.api_clients["booking"][0]
            d0, a0 = cpu(daemon.proc.pid), cpu(ast_pid)
            t0 = time.monotonic()
            took = asyncio.run(submit(token, items, args.batch))
            print(f"submitted {args.reminders} reminders in {took:.2f} s", flush=True)
            wait_settled(dsn, args.reminders, args.minutes * 60 + lead * 60 + 300)
            wall = time.monotonic() - t0
            d1, a1 = cpu(daemon.proc.pid), cpu(ast_pid)
            figures = analyse(dsn, site)
        finally:
            if daemon is not None:
                daemon.stop()
            for c in carriers:
                c.stop()
            stop(conf)
    calls = max(1, figures["attempts"])
    figures.update(
        reminders=args.reminders, minutes=args.minutes, wall_s=round(wall, 1),
        api_bulk={"seconds": round(took, 3), "per_s": round(args.reminders / took),
                  "batch": args.batch},
        cpu_s={"daemon": round(d1[0] - d0[0], 2), "daemon_children": round(d1[1] - d0[1], 2),
               "asterisk": round(a1[0] - a0[0], 2)},
        cpu_ms_per_call={"daemon": round((d1[0] - d0[0]) * 1000 / calls, 1),
                         "daemon_children": round((d1[1] - d0[1]) * 1000 / calls, 1),
                         "asterisk": round((a1[0] - a0[0]) * 1000 / calls, 1)},
        carriers={name: carrier_view(c) for name, c in zip(CARRIER_PORTS, carriers,
                                                            strict=True)},
        callees={"answer_ms": answer, "talk_ms": talk})
    report(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
if __name__ == "__main__":
    main()
