"""pytest plugin: a centre of several parts on loopback addresses (issue 13) — the example
site with two Asterisk nodes, two proxies and two daemons on addresses of their own, each
node rendered by `render_cluster` and started as a real Asterisk.

Ports differ from the session fixture's (15060/15038/14573), so both can run in one session."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from callcenter.asterisk import cli, start, stop
from callcenter.daemon.app import status_socket
from callcenter.render import render_site
from callcenter.render.nodes import node_site
from callcenter.site import Site, load_site
from callcenter.store import Cluster
from tests.fix_asterisk import make_site, require_asterisk
from tests.fix_daemon import OPEN_AT, RunningDaemon
from tests.fix_postgres import fresh_database

NODE_SIP = 15160
NODE_AMI = 15138
DAEMON_AGI = 14673
PROXY_SIP = 15260
NODES = {"media-1": "127.0.0.21", "media-2": "127.0.0.22"}
PROXIES = ["127.0.0.31", "127.0.0.32"]
DAEMONS = {"acd-1": "127.0.0.41", "acd-2": "127.0.0.42"}


STRAIGHT = "4008009999"  # a number whose flow goes straight to the tech queue
_STRAIGHT_FLOW = """description: straight to a queue (the cluster tests)
entry: q
nodes:
  q: {type: queue, queue: tech}
"""


def make_cluster_site(directory: Path) -> Path:
    """The test site (make_site) as a centre: two nodes, two proxies, two daemons, and a
    number straight to a queue."""
    import yaml

    src = make_site(directory)
    data = yaml.safe_load(src.read_text(encoding="utf-8"))
    (directory / "flows" / "straight.yaml").write_text(_STRAIGHT_FLOW, encoding="utf-8")
    flows = {**data["flows"], "straight": "flows/straight.yaml"}
    numbers = [*data["numbers"], {"number": STRAIGHT, "flow": "straight",
                                  "first_route": "telecom", "second_route": "unicom"}]
    return make_site(
        directory, flows=flows, numbers=numbers,
        nodes={name: {"address": addr, "sip_port": NODE_SIP, "ami_port": NODE_AMI,
                      "capacity": 100, "rtp_start": 30000 + 2000 * i,
                      "rtp_end": 31999 + 2000 * i}
               for i, (name, addr) in enumerate(NODES.items())},
        proxy={"addresses": PROXIES, "sip_port": PROXY_SIP, "probe_seconds": 1},
        daemons={name: {"address": addr, "agi_port": DAEMON_AGI}
                 for name, addr in DAEMONS.items()},
        metrics={"port": 0})  # two daemons on one machine: no shared metrics port


@dataclass
class RunningNodes:
    """Asterisk nodes started by the tests, each in its own rendered folder."""

    site: Site
    dirs: dict[str, Path]
    running: set[str] = field(default_factory=set)

    def cli(self, node: str, command: str) -> str:
        return cli(self.dirs[node], command)

    def channels(self, node: str) -> int:
        """Live channels on `node`, as its CLI counts them."""
        out = self.cli(node, "core show channels count")
        for line in out.splitlines():
            if "active channel" in line:
                return int(line.split()[0])
        raise AssertionError(f"no channel count in {out!r}")

    def stop(self, node: str) -> None:
        stop(self.dirs[node])
        self.running.discard(node)

    def start(self, node: str) -> None:
        start(self.dirs[node], timeout=90)
        self.running.add(node)


@pytest.fixture(scope="session")
def cluster_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return load_site(make_cluster_site(tmp_path_factory.mktemp("centre")))


@pytest.fixture
def nodes(cluster_site: Site, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[RunningNodes]:
    """Both nodes, rendered and started for one test (a test may kill one)."""
    require_asterisk()
    base = tmp_path_factory.mktemp("nodes")
    dirs = {}
    for name in cluster_site.spec.nodes:
        dirs[name] = base / name
        render_site(node_site(cluster_site, name), dirs[name])
    running = RunningNodes(cluster_site, dirs)
    try:
        for name in dirs:
            running.start(name)
        yield running
    finally:
        for name in list(running.running):
            running.stop(name)


def start_cluster_daemon(site: Site, name: str, conf_dir: Path, log_path: Path,
                         dsn: str, at: str = OPEN_AT) -> RunningDaemon:
    """`callcenter run --as NAME`: one of the centre's daemons, recording into `dsn`."""
    sock = status_socket(conf_dir)
    sock.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "callcenter", "run", str(site.path), "--conf",
             str(conf_dir), "--log-level", "DEBUG", "--at", at, "--dsn", dsn, "--as", name],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    daemon = RunningDaemon(proc, conf_dir, log_path, dsn)
    daemon.connected_or_stopped(30, f"{name}'s AMI connections")
    return daemon


def leading(d: RunningDaemon) -> bool:
    return bool((d.status().get("cluster") or {}).get("leading"))


@pytest.fixture
def cluster_db(pg_cluster: Cluster, request: pytest.FixtureRequest) -> str:
    """The centre's fresh database (events, lease); a test may seed it before `daemons`."""
    return fresh_database(pg_cluster, request.node.name)


def seed_agent(dsn: str, agent_id: str, state: str, device: str) -> None:
    """Record that `agent_id` was last in `state` at `device` (as a daemon would have): the
    daemon that takes the lead starts from it."""
    import datetime as dt
    import json
    import uuid

    import psycopg

    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO events (id, at, kind, agent_id, data) VALUES "
                     "(%s, %s, 'agent.state', %s, %s::jsonb)",
                     (uuid.uuid4(), now, agent_id,
                      json.dumps({"state": state, "device": device, "reason": "",
                                  "since": now.isoformat()})))


KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"


def require_kamailio() -> None:
    """Fail (never skip) a test that needs Kamailio on a machine without it."""
    if not Path(KAMAILIO).exists():
        pytest.fail("Kamailio is needed for this test: run scripts/install-kamailio")


def start_proxy(cfg: Path, log_path: Path, cluster: Cluster, address: str
                ) -> subprocess.Popen[bytes]:
    """One Kamailio on its rendered config, in a process group of its own; returns once it
    answers SIP (a stranger's OPTIONS is challenged: any answer means it listens)."""
    from tests.integration.sipraw import request as sip_request

    env = dict(os.environ, PGHOST=str(cluster.socket_dir), PGPORT=str(cluster.port))
    with log_path.open("ab") as log:
        proc = subprocess.Popen([KAMAILIO, "-f", str(cfg), "-DD", "-E", "-m", "64", "-M", "8"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    deadline = time.monotonic() + 15
    while sip_request("OPTIONS", "nobody", src="127.0.0.1", target=(address, PROXY_SIP),
                      timeout=0.5).code == 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            end_proxy(proc)
            text = log_path.read_text(errors="replace")[-2000:]
            pytest.fail(f"Kamailio on {address} did not start:\n{text}")
    return proc


def end_proxy(proc: subprocess.Popen[bytes]) -> None:
    """Stop one Kamailio and its children (its own process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture
def proxies(nodes: RunningNodes, pg_cluster: Cluster, tmp_path: Path
            ) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Both Kamailio proxies in front of the running nodes, registrations in PostgreSQL."""
    from callcenter.render.kamailio import config_name, kamailio_files, write_kamailio
    from callcenter.store.registrations import ensure_location_tables

    require_kamailio()
    site = nodes.site
    ensure_location_tables(pg_cluster.create_database(site.spec.proxy.database,
                                                      replace=True))
    out = tmp_path / "kamailio"
    write_kamailio(kamailio_files(site), out)
    running: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for address in PROXIES:
            running[address] = start_proxy(out / config_name(address),
                                           tmp_path / f"kamailio-{address}.log", pg_cluster,
                                           address)
        yield running
    finally:
        for proc in running.values():
            end_proxy(proc)


@pytest.fixture
def daemons(nodes: RunningNodes, cluster_db: str, tmp_path: Path
            ) -> Iterator[dict[str, RunningDaemon]]:
    """Both daemons on the running nodes, sharing a fresh database: acd-1 leads (it was
    started first), acd-2 stands by. Each keeps its state under one node's folder."""
    dsn = cluster_db
    running: dict[str, RunningDaemon] = {}
    try:
        for (name, _addr), node in zip(DAEMONS.items(), nodes.dirs, strict=True):
            conf = nodes.dirs[node]
            running[name] = start_cluster_daemon(nodes.site, name, conf,
                                                 tmp_path / f"{name}.log", dsn)
            if name == "acd-1":
                running[name].wait_for(lambda s: s["cluster"]["leading"], 20, "the lead")
        running["acd-2"].wait_for(lambda s: s["cluster"]["lease"].get("holder") == "acd-1",
                                  20, "standing by for acd-1")
        yield running
    finally:
        for d in running.values():
            d.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"nodes", "daemons", "proxies"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.asterisk)
            item.add_marker(pytest.mark.cluster)
