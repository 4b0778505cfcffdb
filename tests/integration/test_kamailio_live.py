"""Kamailio in front of two Asterisk nodes (docs/cluster.md), all real: PostgreSQL, two nodes
rendered by render_cluster on 127.0.0.21/22, two Kamailio proxies on 127.0.0.31/32, SIPp
phones and carriers. A phone registers at one proxy (the row is in PostgreSQL) and is
reached through the other; carriers' calls are spread over both nodes; an unknown address
is refused; a killed node is out within the probe interval and new calls go to the other.

Without a daemon the nodes' calls wait for a leader, then reach the static fallback: the
tests count calls where they land, not what the ACD does with them. Each Kamailio is started
by root, as a service manager would, and runs as the user `kamailio`; the private PostgreSQL
lets that user in as the role `kamailio`, granted the location table only."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from callcenter.asterisk import cli, start, stop
from callcenter.asterisk.launcher import pid_of
from callcenter.render.kamailio import FR_TIMER_MS, config_name
from callcenter.render.nodes import render_cluster
from callcenter.sipp import Sipp, SippServer
from callcenter.sipp.scenarios import register_scenario, uas_scenario
from callcenter.site import Site, load_site
from callcenter.store import Cluster
from callcenter.store.registrations import ensure_location_tables, registrations
from tests.fix_asterisk import CARRIER_IPS, require_asterisk
from tests.fix_cluster import (
    NODES,
    PROXIES,
    PROXY_SIP,
    end_proxy,
    make_cluster_site,
    require_kamailio,
    start_proxy,
)
from tests.fix_postgres import fresh_database
from tests.integration.sipraw import request

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp, pytest.mark.postgres,
              pytest.mark.cluster, pytest.mark.slow]

NUMBER = "4008001234"  # the example's hotline
PHONE_IP = "127.0.0.1"
PHONE_PORTS = {"8001": 15301, "8002": 15302}


@dataclass
class Front:
    """Two nodes and the proxies in front of them."""

    site: Site
    out: Path
    dsn: str
    proxies: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)

    def node_dir(self, name: str) -> Path:
        return self.out / "nodes" / name

    def processed(self, name: str) -> int:
        """Calls the node has taken since it started (its CLI's count)."""
        out = cli(self.node_dir(name), "core show channels count")
        m = re.search(r"(\d+) calls? processed", out)
        assert m, out
        return int(m[1])

    def log(self, address: str) -> str:
        return (self.out / f"kamailio-{address}.log").read_text(errors="replace")


def _start_proxy(front: Front, cluster: Cluster, address: str) -> subprocess.Popen[bytes]:
    return start_proxy(front.out / "kamailio" / config_name(address),
                       front.out / f"kamailio-{address}.log", cluster, address)


_end = end_proxy


@pytest.fixture(scope="module")
def front(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    require_asterisk()
    require_kamailio()
    site = load_site(make_cluster_site(tmp_path_factory.mktemp("proxied")))
    out = tmp_path_factory.mktemp("front")
    render_cluster(site, out)
    dsn = pg_cluster.create_database(site.spec.proxy.database, replace=True)
    ensure_location_tables(dsn)
    ensure_location_tables(dsn)  # a second proxy's start: nothing to do, no error
    running = Front(site, out, dsn)
    try:
        for name in NODES:
            start(running.node_dir(name), timeout=90)
            running.running.add(name)
        for address in PROXIES:
            running.proxies[address] = _start_proxy(running, pg_cluster, address)
        yield running
    finally:
        for proc in running.proxies.values():
            _end(proc)
        for name in NODES:
            stop(running.node_dir(name))


def _invite(caller: str, cseq: int, auth: bool) -> str:
    return f"""  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{caller}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: <sip:{caller}@[local_ip]:[local_port]>
      {"[authentication]" if auth else ""}
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
  ]]></send>
  <recv response="100" optional="true"/>
"""


def _in_dialog(method: str, caller: str, cseq: int) -> str:
    retrans = ' retrans="500"' if method == "BYE" else ""
    return f"""  <send{retrans}><![CDATA[
      {method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{caller}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
"""


def call_scenario(caller: str, *, auth: bool = False, talk_ms: int = 600) -> str:
    """A call through a proxy that hangs up after `talk_ms`: with `auth` a desk phone
    answering the proxy's 407 challenge. ACK and BYE follow the Record-Route set, as a real
    phone's do (the proxy relays in-dialog requests by their Route)."""
    first = 2 if auth else 1
    parts = ['<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">',
             '<scenario name="through-the-proxy">']
    if auth:
        parts += [_invite(caller, 1, False), '  <recv response="407" auth="true"/>',
                  """  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:""" + caller + """@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>"""]
    parts += [_invite(caller, first, auth), '  <recv response="180" optional="true"/>',
              '  <recv response="183" optional="true"/>', '  <recv response="200" rrs="true"/>',
              _in_dialog("ACK", caller, first),
              # the far end may hang up first (a node without a daemon plays its fallback)
              f'  <recv request="BYE" timeout="{talk_ms}" ontimeout="ours"/>',
              """  <send next="done"><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>""", '  <label id="ours"/>',
              _in_dialog("BYE", caller, first + 1), '  <recv response="200"/>',
              '  <label id="done"/>', "</scenario>"]
    return "\n".join(parts) + "\n"


def _password(site: Site, ext: str) -> str:
    agent = next(a for a in site.spec.agents if a.extension == ext)
    return site.secrets.sip_passwords[agent.id]


def _register(front: Front, ext: str, proxy: str, tmp_path: Path) -> None:
    sipp = Sipp(f"{proxy}:{PROXY_SIP}", local_ip=PHONE_IP, workdir=tmp_path / f"reg{ext}")
    res = sipp.run(register_scenario(ext, expires=600), service=ext,
                   local_port=PHONE_PORTS[ext], timeout=15,
                   extra=["-au", ext, "-ap", _password(front.site, ext)])
    assert res.successful == 1, res.errors[-800:] + res.stdout[-800:]


def _carrier_calls(front: Front, proxy: str, calls: int, tmp_path: Path, *,
                   src: str = CARRIER_IPS["telecom"], tag: str = "carrier"):
    sipp = Sipp(f"{proxy}:{PROXY_SIP}", local_ip=src, workdir=tmp_path / tag)
    return sipp.run(call_scenario("13800138000"), service=NUMBER,
                    calls=calls, rate=10, timeout=40)


def test_a_phone_registers_at_one_proxy_and_is_reached_through_either(
        front: Front, tmp_path: Path) -> None:
    _register(front, "8001", PROXIES[0], tmp_path)
    rows = [r for r in registrations(front.dsn) if r.extension == "8001"]
    assert len(rows) == 1, rows
    assert f"@{PHONE_IP}:{PHONE_PORTS['8001']}" in rows[0].contact
    assert rows[0].server_id == 1  # the first proxy took it
    # a wrong password is refused and stores nothing
    bad = request("REGISTER", "8002", src=PHONE_IP, target=(PROXIES[1], PROXY_SIP),
                  password="wrong-password")
    assert bad.code in (401, 403), bad.text
    assert not [r for r in registrations(front.dsn) if r.extension == "8002"]

    phone = SippServer(PHONE_PORTS["8001"], scenario=uas_scenario("answer"),
                       local_ip=PHONE_IP, workdir=tmp_path / "phone8001").start()
    try:
        for name in NODES:  # the nodes see the phone through the proxies at once
            cli(front.node_dir(name), "pjsip qualify 8001")
        time.sleep(1)
        # 8002's desk phone dials 8001 through the second proxy: the proxy authenticates it,
        # a node takes the call as agent 8002 and rings 8001 through a proxy
        scenario = call_scenario("8002", auth=True, talk_ms=1000)
        caller = Sipp(f"{PROXIES[1]}:{PROXY_SIP}", local_ip=PHONE_IP,
                      workdir=tmp_path / "caller8002")
        res = caller.run(scenario, service="8001", timeout=30,
                         extra=["-au", "8002", "-ap", _password(front.site, "8002")])
        assert res.successful == 1, res.errors[-1500:]
        assert phone.count("SuccessfulCall") >= 1 or "INVITE sip:8001@" in phone.messages()
        assert "X-CC-Agent" not in phone.messages()  # the header stays between proxy and node
    finally:
        phone.stop()


def _uids(pgid: int) -> dict[int, int]:
    """pid → real and effective user id (both must agree) of a process group's members."""
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            status = (entry / "status").read_text()
        except (OSError, ProcessLookupError):
            continue
        real, effective, *_ = re.search(r"^Uid:\s+(.*)$", status, re.M)[1].split()
        assert real == effective, status
        out[int(entry.name)] = int(real)
    return out


@pytest.mark.security
def test_each_proxy_runs_as_kamailio_with_the_location_table_only(
        front: Front, pg_cluster: Cluster) -> None:
    import pwd

    import psycopg

    kamailio = pwd.getpwnam("kamailio").pw_uid
    for address, proc in front.proxies.items():
        uids = _uids(proc.pid)
        assert len(uids) > 4, (address, uids)  # the main process and its SIP workers
        assert set(uids.values()) == {kamailio}, (address, uids)
    grants = {"location": ("SELECT", "INSERT", "UPDATE", "DELETE"), "version": ("SELECT",)}
    with psycopg.connect(pg_cluster.admin_dsn(front.site.spec.proxy.database)) as conn:
        for table, wanted in grants.items():
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"):
                has = conn.execute("SELECT has_table_privilege('kamailio', %s, %s)",
                                   (table, privilege)).fetchone()[0]
                assert has == (privilege in wanted), (table, privilege)
        role = conn.execute("SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
                            "WHERE rolname = 'kamailio'").fetchone()
        assert role == (False, False, False)
    events_dsn = fresh_database(pg_cluster, "kamailio_grants")  # the daemon's schema
    with psycopg.connect(events_dsn) as conn:
        assert not conn.execute("SELECT has_table_privilege('kamailio', 'events', 'SELECT')"
                                ).fetchone()[0]
    # the proxies' user is let in as their role only, never as the daemon's
    psql = ["runuser", "-u", "kamailio", "--", "psql", "-X", "-h", str(pg_cluster.socket_dir),
            "-p", str(pg_cluster.port), "-d", front.site.spec.proxy.database, "-tAc",
            "SELECT current_user"]
    ok = subprocess.run(psql, capture_output=True, text=True)
    assert ok.stdout.strip() == "kamailio", ok.stderr
    refused = subprocess.run([*psql, "-U", "callcenter"], capture_output=True, text=True)
    assert refused.returncode != 0 and "authentication failed" in refused.stderr, refused


def test_carriers_calls_are_spread_over_both_nodes(front: Front, tmp_path: Path) -> None:
    before = {name: front.processed(name) for name in NODES}
    res = _carrier_calls(front, PROXIES[0], 20, tmp_path)
    assert res.successful == 20, res.errors[-1500:]
    # and through the other proxy address, the carrier's second choice
    res2 = _carrier_calls(front, PROXIES[1], 4, tmp_path, tag="second")
    assert res2.successful == 4, res2.errors[-1500:]
    taken = {name: front.processed(name) - before[name] for name in NODES}
    print(f"\ncalls per node: {taken}")
    assert sum(taken.values()) == 24, taken
    assert all(n >= 3 for n in taken.values()), f"one node took (nearly) all: {taken}"


def test_an_unknown_address_is_refused(front: Front, tmp_path: Path) -> None:
    before = {name: front.processed(name) for name in NODES}
    res = _carrier_calls(front, PROXIES[0], 1, tmp_path, src="127.0.0.99", tag="stranger")
    assert res.successful == 0 and res.failed == 1
    # a stranger cannot pose as an agent or a carrier with the proxy's own headers either
    ans = request("INVITE", "13800138000", src="127.0.0.99", to_user=NUMBER,
                  target=(PROXIES[0], PROXY_SIP))
    assert ans.code in (401, 407), ans.text
    assert {name: front.processed(name) for name in NODES} == before


def test_a_killed_node_is_out_within_the_probe_interval(front: Front,
                                                        tmp_path: Path) -> None:
    dead, alive = "media-2", "media-1"
    probe = front.site.spec.proxy.probe_seconds
    pid = pid_of(front.node_dir(dead))
    assert pid is not None
    marks = {a: front.log(a).count("is down") for a in PROXIES}
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    # calls placed at once still succeed: a call sent to the dead node fails over
    burst = _carrier_calls(front, PROXIES[0], 4, tmp_path, tag="burst")
    assert burst.successful == 4, burst.errors[-1500:]
    limit = probe + FR_TIMER_MS / 1000 + 2.0
    out_after: dict[str, float] = {}
    while len(out_after) < len(PROXIES) and time.monotonic() - killed < limit + 5:
        for a in PROXIES:
            if a not in out_after and front.log(a).count("is down") > marks[a]:
                out_after[a] = time.monotonic() - killed
        time.sleep(0.1)
    print(f"\nnode {dead} killed: out at the proxies after "
          + ", ".join(f"{a} {t:.1f} s" for a, t in sorted(out_after.items()))
          + f" (probe {probe} s, no-answer timer {FR_TIMER_MS / 1000:g} s)")
    assert set(out_after) == set(PROXIES), "a proxy never took the dead node out"
    assert max(out_after.values()) <= limit
    before = front.processed(alive)
    started = time.monotonic()
    res = _carrier_calls(front, PROXIES[1], 6, tmp_path, tag="after")
    took = time.monotonic() - started
    print(f"6 calls after the node was out: {res.successful} answered in {took:.1f} s")
    assert res.successful == 6, res.errors[-1500:]
    assert front.processed(alive) - before == 6
    # none of them waited for the dead node's no-answer timer
    assert "did not answer" not in front.log(PROXIES[1]).split("is down")[-1]
