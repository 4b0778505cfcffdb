#!/usr/bin/env python3
"""HTTP API throughput (a benchmark, not a test): the real app on uvicorn and a throwaway
PostgreSQL cluster, the example site. Prints reminders stored per second for bulk requests
of a day's lessons, for resending the same batches (idempotent, nothing new stored) and
for single POST /v1/reminders with some concurrency.

Usage: scripts/bench_api.py [--lessons 2000] [--batch 500] [--single 500] [--concurrency 8]"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import shutil
import statistics
import tempfile
import time
from importlib import resources
from pathlib import Path

import httpx

from callcenter.api import ApiServer, create_app
from callcenter.outbound.jobs import JobStore
from callcenter.site import load_site, load_site_file
from callcenter.site.secrets import generate_secrets
from callcenter.store import Cluster, upgrade

CST = dt.timezone(dt.timedelta(hours=8))


def lessons(n: int, prefix: str) -> list[dict[str, object]]:
    start = dt.datetime.now(CST).replace(microsecond=0) + dt.timedelta(hours=2)
    return [{"number": f"138{i:08d}", "lesson_id": f"{prefix}-{i}", "student": "王小明",
             "course": "英语课", "idempotency_key": f"{prefix}-{i}",
             "lesson_start": (start + dt.timedelta(minutes=i % 600)).isoformat()}
            for i in range(n)]


async def bulk(c: httpx.AsyncClient, items: list[dict[str, object]], batch: int) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(items), batch):
        resp = await c.post("/v1/reminders/bulk", json={"reminders": items[i:i + batch]})
        resp.raise_for_status()
    return time.perf_counter() - t0


async def singles(c: httpx.AsyncClient, items: list[dict[str, object]], concurrency: int
                  ) -> tuple[float, list[float]]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(item: dict[str, object]) -> None:
        body = dict(item)
        key = str(body.pop("idempotency_key"))
        async with gate:
            t = time.perf_counter()
            resp = await c.post("/v1/reminders", json=body, headers={"Idempotency-Key": key})
            latencies.append(time.perf_counter() - t)
            resp.raise_for_status()

    t0 = time.perf_counter()
    await asyncio.gather(*(one(item) for item in items))
    return time.perf_counter() - t0, latencies


async def run(dsn: str, folder: Path, args: argparse.Namespace) -> None:
    with resources.as_file(resources.files("callcenter") / "example") as src:
        shutil.copytree(src, folder / "site", ignore=shutil.ignore_patterns("__pycache__"))
    path = folder / "site" / "site.yaml"
    generate_secrets(load_site_file(path), path.parent / "secrets.yaml")
    site = load_site(path, env={})
    token = site.secrets.api_clients["booking"][0]
    async with JobStore(dsn, max_size=args.pool) as store, \
            ApiServer(create_app(site, store), "127.0.0.1", 0) as server, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=120,
                              headers={"Authorization": f"Bearer {token}"}) as c:
        day = lessons(args.lessons, "bulk")
        took = await bulk(c, day, args.batch)
        print(f"bulk: {args.lessons} reminders in batches of {args.batch}: {took:.2f} s "
              f"({args.lessons / took:,.0f} reminders/s)")
        took = await bulk(c, day, args.batch)
        print(f"bulk resent (same keys, nothing new): {took:.2f} s "
              f"({args.lessons / took:,.0f} reminders/s)")
        took, lat = await singles(c, lessons(args.single, "one"), args.concurrency)
        q = statistics.quantiles(lat, n=100)
        print(f"single POST: {args.single} at concurrency {args.concurrency}: "
              f"{args.single / took:,.0f} requests/s, latency p50 {q[49] * 1000:.1f} ms, "
              f"p99 {q[98] * 1000:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lessons", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--single", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--pool", type=int, default=4, help="the job store's connections")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="cc-bench-api-"))
    base.chmod(0o755)
    cluster = Cluster(base / "cluster", port=18433)
    cluster.start()
    try:
        dsn = cluster.create_database("bench_api", replace=True)
        upgrade(dsn)
        asyncio.run(run(dsn, base, args))
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
