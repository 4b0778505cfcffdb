"""Least privilege (issue 10): the daemon runs as its own user `callcenter`, against the test
Asterisk (user `asterisk`), with its state in DIR/daemon and its private cluster its own."""

from __future__ import annotations

import os
import pwd
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter.daemon.paths import DAEMON_USER, daemon_paths, hand_over
from callcenter.store.database import embedded_cluster
from tests.fix_daemon import RunningDaemon

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="switches users: root"),
              pytest.mark.security]


def _ensure_user() -> pwd.struct_passwd:
    """What scripts/install-asterisk does, for a machine that has not run it since."""
    try:
        pwd.getpwnam(DAEMON_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--home", "/var/lib/callcenter", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", DAEMON_USER], check=True)
    subprocess.run(["usermod", "-aG", "asterisk", DAEMON_USER], check=True)
    return pwd.getpwnam(DAEMON_USER)


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid in /proc/{pid}/status")


def _as_daemon_user(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", DAEMON_USER, "--", *cmd], capture_output=True,
                          text=True, timeout=30, cwd="/")


def _interpreter() -> tuple[list[str], dict[str, str]]:
    """A Python the daemon's user may run, with this checkout's packages: this one, or (when
    it sits in root's home, as a pyenv does) the system's of the same version."""
    env = {k: v for k, v in os.environ.items() if k != "CALLCENTER_DSN"}
    env["PYTHONUNBUFFERED"] = "1"
    if _as_daemon_user(sys.executable, "-c", "import callcenter").returncode == 0:
        return [sys.executable], env
    system = shutil.which("python3", path="/usr/bin:/bin")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    probe = _as_daemon_user(system or "python3", "-c",
                            "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')")
    if probe.stdout.strip() != version:
        pytest.skip(f"no Python {version} that user {DAEMON_USER} may run")
    repo = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join([str(repo), *site.getsitepackages()])
    return [str(system)], env


@pytest.fixture
def user_daemon(asterisk, tmp_path: Path) -> Iterator[RunningDaemon]:
    """`callcenter run` as user callcenter on the session's rendered folder."""
    ent = _ensure_user()
    conf = asterisk.conf_dir
    # the pytest folders above DIR are root's 0700; a real DIR (/var/lib/callcenter/asterisk)
    # has traversable parents: open only the search bit, for the test's length
    opened = [p for p in conf.parents if not p.stat().st_mode & 0o001]
    modes = {p: p.stat().st_mode & 0o7777 for p in opened}
    for p in opened:
        p.chmod(modes[p] | 0o001)
    # the daemon's user must own its site copy: a secrets file is read only if it is ours
    site_dir = Path(tempfile.mkdtemp(prefix="cc-site-user-"))
    shutil.copytree(asterisk.site.path.parent, site_dir, dirs_exist_ok=True)
    subprocess.run(["chown", "-R", f"{ent.pw_uid}:{ent.pw_gid}", str(site_dir)], check=True)
    paths = daemon_paths(conf)
    paths.agents.unlink(missing_ok=True)
    shutil.rmtree(paths.spool, ignore_errors=True)
    assert hand_over(conf)  # what `callcenter render` as root does
    python, env = _interpreter()
    with (tmp_path / "daemon.log").open("ab") as log:  # the child keeps its own copy
        proc = subprocess.Popen(
            ["runuser", "-u", DAEMON_USER, "--", *python, "-m", "callcenter", "run",
             str(site_dir / asterisk.site.path.name), "--conf", str(conf), "--log-level",
             "DEBUG", "--at", "2026-11-24 20:05"],
            stdout=log, stderr=subprocess.STDOUT, cwd="/", env=env)
    d = RunningDaemon(proc, conf, tmp_path / "daemon.log")
    try:
        d.wait_for(lambda s: s["ami"]["connected"], 30, "an AMI connection")
        yield d
    finally:
        d.stop()
        cluster = embedded_cluster(paths.cluster_state())
        cluster.stop()  # as root, through its owner
        shutil.rmtree(paths.own_cluster / "pg", ignore_errors=True)
        shutil.rmtree(site_dir, ignore_errors=True)
        for p in opened:
            p.chmod(modes[p])


def _daemon_pid(runuser_pid: int) -> int:
    """runuser stays as the parent (for its PAM session): the daemon is its one child."""
    kids = Path(f"/proc/{runuser_pid}/task/{runuser_pid}/children").read_text().split()
    assert len(kids) == 1, kids
    return int(kids[0])


def test_daemon_runs_as_its_own_user(user_daemon: RunningDaemon) -> None:
    ent = pwd.getpwnam(DAEMON_USER)
    pid = _daemon_pid(user_daemon.proc.pid)
    assert "callcenter" in Path(f"/proc/{pid}/cmdline").read_text()
    assert _uid_of(pid) != 0
    assert _uid_of(pid) == ent.pw_uid
    # `callcenter status` (root, another process) reaches its socket
    res = subprocess.run([sys.executable, "-m", "callcenter", "status", "--conf",
                          str(user_daemon.conf_dir), "--json"], capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 0, res.stderr
    assert '"connected": true' in res.stdout
    paths = daemon_paths(user_daemon.conf_dir)
    # its state: callcenter's, closed to everyone else
    for d in (paths.root, paths.spool, paths.socket.parent, paths.agents.parent):
        st = d.stat()
        assert st.st_uid == ent.pw_uid and st.st_mode & 0o077 == 0, (d, oct(st.st_mode))
    assert any(paths.spool.iterdir()), "the daemon spooled nothing to check"
    for path in [*paths.spool.rglob("*"), paths.socket]:
        st = path.stat()
        assert st.st_uid == ent.pw_uid, path
        assert st.st_mode & 0o077 == 0, (path, oct(st.st_mode))
    # nothing of the daemon's went into Asterisk's folders
    assert not (user_daemon.conf_dir / "run" / "callcenter.sock").exists()


def test_daemon_user_reads_the_prompts_not_asterisks_state(user_daemon: RunningDaemon) -> None:
    conf = user_daemon.conf_dir
    listing = _as_daemon_user("ls", str(conf / "sounds"))
    assert listing.returncode == 0, listing.stderr
    # Asterisk's own runtime folders stay closed to the daemon's user
    for d in ("spool", "db", "log"):
        assert _as_daemon_user("ls", str(conf / d)).returncode != 0, d


def test_private_cluster_runs_as_the_daemon_user(user_daemon: RunningDaemon) -> None:
    ent = pwd.getpwnam(DAEMON_USER)
    # db_up turns true at the first batch stored; an idle daemon has its DSN once started
    doc = user_daemon.wait_for(lambda s: s.get("store", {}).get("database"), 60,
                               "its private database")
    assert doc["ami"]["connected"]
    pg = daemon_paths(user_daemon.conf_dir).own_cluster / "pg"
    postmaster = int((pg / "data" / "postmaster.pid").read_text().split()[0])
    assert _uid_of(postmaster) == ent.pw_uid
    for d in (pg, pg / "data", pg / "socket"):
        st = d.stat()
        assert st.st_uid == ent.pw_uid and st.st_mode & 0o077 == 0, (d, oct(st.st_mode))
