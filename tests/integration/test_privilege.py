"""Least privilege (issue 10, part 4): the private PostgreSQL, the AMI user, the Asterisk
process and the files holding secrets or callers' data."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from callcenter.store import Cluster
from callcenter.store.cluster import _tool

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="these checks switch users: root")


def _as_nobody(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "nobody", "--", *cmd], capture_output=True,
                          text=True, timeout=30, cwd="/")


def _psql_as_nobody(cluster: Cluster, user: str) -> subprocess.CompletedProcess[str]:
    return _as_nobody("psql", "-X", "-w", "-At", "-h", str(cluster.socket_dir), "-p",
                      str(cluster.port), "-U", user, "-d", "callcenter", "-c",
                      "SELECT count(*) FROM pg_roles")


@pytest.mark.security
@pytest.mark.parametrize("role", ["callcenter", "postgres"])
def test_other_local_user_cannot_connect(pg_cluster: Cluster, role: str) -> None:
    assert _as_nobody("true").returncode == 0  # runuser itself works
    res = _psql_as_nobody(pg_cluster, role)
    assert res.returncode != 0, res.stdout
    assert "Permission denied" in res.stderr or "authentication failed" in res.stderr


@pytest.mark.security
def test_folders_and_socket_are_closed(pg_cluster: Cluster) -> None:
    for d in (pg_cluster.directory, pg_cluster.socket_dir, pg_cluster.data):
        assert d.stat().st_mode & 0o007 == 0, d
    sock = pg_cluster.socket_dir / f".s.PGSQL.{pg_cluster.port}"
    if pg_cluster.proxy_client:
        # the folder is the gate (the server's user may not set the socket's group): only
        # the proxies' group passes it, and the peer map lets that user in as its role only
        import grp
        import pwd

        proxy_gid = pwd.getpwnam(pg_cluster.proxy_client).pw_gid
        for d in (pg_cluster.directory, pg_cluster.socket_dir):
            assert d.stat().st_gid == proxy_gid, grp.getgrgid(d.stat().st_gid)
            assert d.stat().st_mode & 0o777 == 0o750, oct(d.stat().st_mode)
    else:
        assert sock.stat().st_mode & 0o077 == 0
    hba = (pg_cluster.data / "pg_hba.conf").read_text()
    assert "trust" not in hba.split("\n", 1)[1] and "peer map=" in hba


@pytest.mark.security
def test_peer_map_refuses_even_with_the_socket_open(own_cluster: Cluster) -> None:
    """If the folders were opened by mistake, authentication still refuses `nobody`."""
    sock = own_cluster.socket_dir / f".s.PGSQL.{own_cluster.port}"
    for path in (own_cluster.directory, own_cluster.socket_dir):
        path.chmod(0o755)
    sock.chmod(0o777)
    for role in ("callcenter", "postgres"):
        res = _psql_as_nobody(own_cluster, role)
        assert res.returncode != 0
        assert "authentication failed" in res.stderr, res.stderr


@pytest.mark.security
def test_daemon_role_is_no_superuser(pg_cluster: Cluster, tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    with psycopg.connect(pg_cluster.dsn()) as conn:
        row = conn.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                           "WHERE rolname = current_user").fetchone()
        assert row == (False, False, False)
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database "
                             "WHERE datname = current_database()").fetchone()
        assert owner == ("callcenter",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"COPY (SELECT 1) TO PROGRAM 'touch {target}'")
    with psycopg.connect(pg_cluster.dsn()) as conn, pytest.raises(
            psycopg.errors.InsufficientPrivilege):
        conn.execute("CREATE ROLE attacker SUPERUSER")
    assert not target.exists()


@pytest.mark.security
@pytest.mark.postgres  # starts a PostgreSQL of its own: not in the fast tier
def test_cluster_made_before_issue_10_is_adopted() -> None:
    """An old cluster (superuser `callcenter`, trust) ends with a non-superuser owner."""
    base = Path(tempfile.mkdtemp(prefix="cc-pg-legacy-"))
    base.chmod(0o755)
    data = base / "cluster" / "data"
    data.mkdir(parents=True)
    shutil.chown(data, "postgres", "postgres")
    shutil.chown(base / "cluster", "postgres", "postgres")
    sock = base / "cluster" / "socket"
    sock.mkdir()
    shutil.chown(sock, "postgres", "postgres")
    pg = ["runuser", "-u", "postgres", "--"]
    try:
        subprocess.run([*pg, _tool("initdb"), "-D", str(data), "-U", "callcenter",
                        "--auth=trust"], check=True, capture_output=True)
        opts = f"-c listen_addresses='' -c unix_socket_directories={sock} -p 15434"
        subprocess.run([*pg, _tool("pg_ctl"), "-D", str(data), "-o", opts, "-w", "-l",
                        str(data / "log"), "start"], check=True, capture_output=True)
        old = f"host={sock} port=15434 user=callcenter"
        with psycopg.connect(old + " dbname=postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE callcenter")
        with psycopg.connect(old + " dbname=callcenter") as conn:
            conn.execute("CREATE TABLE events (seq bigserial PRIMARY KEY, kind text)")
            conn.execute("INSERT INTO events (kind) VALUES ('call.start')")
        cluster = Cluster(base / "cluster", port=15434)
        cluster.start()
        with psycopg.connect(cluster.dsn()) as conn:
            assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                                ).fetchone() == (False,)
            conn.execute("INSERT INTO events (kind) VALUES ('call.end')")
            assert conn.execute("SELECT count(*) FROM events").fetchone() == (2,)
        assert _psql_as_nobody(cluster, "callcenter").returncode != 0
        cluster.stop()
    finally:
        subprocess.run([*pg, _tool("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid in /proc/{pid}/status")





async def _send(manager, action: dict[str, str]) -> dict:
    import asyncio

    reply = await asyncio.wait_for(manager.send_action(action), 10)
    return reply[0] if isinstance(reply, list) else reply


@pytest.mark.security
def test_ami_user_cannot_run_commands_or_write_files(asterisk, tmp_path: Path) -> None:
    import asyncio

    inst_root = asterisk_root()
    target = Path(f"/tmp/cc-ami-pwned-{os.getpid()}")
    inside = (inst_root / target.relative_to("/")) if inst_root else target
    attempts = [
        {"Action": "Command", "Command": "core show version"},
        {"Action": "Originate", "Channel": "Local/s@cc-nowhere", "Application": "System",
         "Data": f"touch {target}", "Async": "true"},
        {"Action": "Originate", "Channel": "Local/s@cc-nowhere", "Application": "Set",
         "Data": f"FILE({target})=pwned", "Async": "true"},
        {"Action": "Setvar", "Variable": f"FILE({target})", "Value": "pwned"},
        {"Action": "Setvar", "Variable": "SHELL(touch /tmp/x)", "Value": "1"},
    ]

    async def run() -> tuple[list[dict], dict]:
        manager = await asterisk.ami()
        try:
            refused = [await _send(manager, a) for a in attempts]
            ok = await _send(manager, {
                "Action": "Originate", "Channel": "Local/s@cc-play",
                "Application": "Wait", "Data": "1", "Async": "false", "Timeout": "5000"})
            return refused, ok
        finally:
            manager.close()

    refused, ok = asyncio.run(run())
    for action, reply in zip(attempts, refused, strict=True):
        assert reply.get("Response") == "Error", (action, dict(reply))
    assert not inside.exists() and not target.exists()
    # a normal Originate of a Local channel into the dialplan still works
    assert ok.get("Response") == "Success", dict(ok)


def asterisk_root() -> Path | None:
    from callcenter.asterisk import locate

    return locate().root


@pytest.mark.security
def test_asterisk_runs_unprivileged_and_its_folder_is_closed(asterisk) -> None:
    from callcenter.asterisk.launcher import pid_of

    pid = pid_of(asterisk.conf_dir)
    assert pid is not None
    assert _uid_of(pid) != 0
    assert pwd.getpwuid(_uid_of(pid)).pw_name == "asterisk"
    assert asterisk.conf_dir.stat().st_mode & 0o007 == 0
    for name in ("manager.conf", "pjsip.conf", "extensions.conf"):
        assert (asterisk.conf_dir / name).stat().st_mode & 0o137 == 0, name
    for d in ("log", "spool", "voicemail", "db", "run"):
        assert (asterisk.conf_dir / d).stat().st_mode & 0o077 == 0, d
    # the boxes exist before the daemon (another user) needs them, and Asterisk can record
    assert (asterisk.conf_dir / "voicemail" / "general").stat().st_uid == _uid_of(pid)


@pytest.mark.security
def test_rendered_folder_is_private(example_site, tmp_path: Path) -> None:
    from callcenter.render import render_site

    out = tmp_path / "out"
    render_site(example_site, out)
    assert out.stat().st_mode & 0o777 == 0o700
    for name in ("manager.conf", "pjsip.conf", "extensions.conf", "asterisk.conf"):
        assert (out / name).stat().st_mode & 0o777 == 0o600, name
    for d in ("log", "spool", "voicemail", "db", "run"):
        assert (out / d).stat().st_mode & 0o777 == 0o700, d


@pytest.mark.security
def test_daemon_state_is_private(daemon) -> None:
    daemon.wait_for(lambda s: s["ami"]["connected"], 10, "AMI")
    from callcenter.daemon.paths import daemon_paths

    agents = daemon_paths(daemon.conf_dir).agents
    spool = daemon_paths(daemon.conf_dir).spool
    assert not agents.exists() or agents.stat().st_mode & 0o077 == 0
    assert spool.stat().st_mode & 0o077 == 0
    assert any(spool.rglob("*")), "the daemon wrote nothing to check"
    for path in spool.rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, path
