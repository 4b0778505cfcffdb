"""Start, stop and query an Asterisk running a rendered configuration directory."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from callcenter.asterisk.account import account, prepare_folder
from callcenter.asterisk.install import Installation, locate
from callcenter.errors import AsteriskError

__all__ = ["cli", "is_running", "pid_of", "start", "stop"]


def _conf(conf_dir: Path) -> Path:
    conf = conf_dir.resolve() / "asterisk.conf"
    if not conf.exists():
        raise AsteriskError(f"{conf} does not exist — run 'callcenter render SITE --out "
                            f"{conf_dir}' first")
    return conf


def _mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        return any(line.split()[1] == target for line in fh)


def _expose(inst: Installation, conf_dir: Path) -> None:
    """Make `conf_dir` visible at the same path inside the chroot (a bind mount)."""
    if inst.root is None:
        return
    conf_dir = conf_dir.resolve()
    root = inst.root.resolve()
    if conf_dir.is_relative_to(root):
        raise AsteriskError(f"{conf_dir} is inside the Asterisk root; render elsewhere")
    inside = root / conf_dir.relative_to("/")
    if _mounted(inside):
        return
    inside.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "--bind", str(conf_dir), str(inside)],
                         capture_output=True, text=True)
    if res.returncode:
        raise AsteriskError(f"cannot bind-mount {conf_dir} into {root}: {res.stderr.strip()} "
                            "— run as root, or install a system Asterisk")


def _unexpose(inst: Installation, conf_dir: Path) -> None:
    if inst.root is None:
        return
    inside = inst.root.resolve() / conf_dir.resolve().relative_to("/")
    if _mounted(inside):
        subprocess.run(["umount", "-l", str(inside)], capture_output=True)


def _reachable(conf_dir: Path, uid: int, gid: int) -> None:
    """A system Asterisk running as its own user must be able to walk down to the folder."""
    for parent in conf_dir.parents:
        st = parent.stat()
        bit = 0o100 if st.st_uid == uid else 0o010 if st.st_gid == gid else 0o001
        if not st.st_mode & bit:
            raise AsteriskError(f"Asterisk's user cannot enter {parent} to reach {conf_dir} — "
                                "render into a folder such as /var/lib/callcenter/asterisk")


def pid_of(conf_dir: Path) -> int | None:
    """The pid of the Asterisk running this directory, if one is alive."""
    pidfile = conf_dir.resolve() / "run" / "asterisk.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return None
    return pid


def is_running(conf_dir: Path) -> bool:
    return pid_of(conf_dir) is not None


def cli(conf_dir: Path, command: str, *, timeout: float = 15,
        inst: Installation | None = None) -> str:
    """Run one CLI command in the running Asterisk (asterisk -rx) and return its output."""
    inst = inst or locate()
    conf = _conf(conf_dir)
    try:
        res = subprocess.run(inst.command("-C", str(conf), "-rx", command),
                             capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise AsteriskError(f"Asterisk did not answer '{command}' within {timeout:g} s") from exc
    if res.returncode:
        raise AsteriskError(f"'{command}' failed: {(res.stderr or res.stdout).strip()} — is "
                            f"Asterisk running for {conf_dir}? ('callcenter asterisk start')")
    return res.stdout


# the Asterisks this process started, by configuration folder: Asterisk outlives the call
# that started it, and `stop` reaps it — also one killed meanwhile (a Popen dropped while
# its child is unreaped is a leak Python warns of)
_STARTED: dict[Path, subprocess.Popen[bytes]] = {}


def start(conf_dir: Path, *, timeout: float = 60) -> int:
    """Start Asterisk on `conf_dir` and return its pid once it is fully booted."""
    inst = locate()
    conf_dir = conf_dir.resolve()
    conf = _conf(conf_dir)
    pid = pid_of(conf_dir)
    if pid:
        return pid
    _reap(conf_dir)  # an earlier one here, killed and never stopped
    for d in ("log", "run", "spool", "db"):
        (conf_dir / d).mkdir(exist_ok=True)
    (conf_dir / "run" / "asterisk.pid").unlink(missing_ok=True)
    _expose(inst, conf_dir)
    console = open(conf_dir / "log" / "console.log", "ab")  # noqa: SIM115 - the child keeps it
    # never as root: Asterisk drops to its own account once its ports are bound (issue 10)
    acct = account(inst)
    drop: tuple[str, ...] = ()
    if acct is not None:
        if inst.root is None:
            _reachable(conf_dir, acct.uid, acct.gid)
        prepare_folder(conf_dir, acct)
        drop = ("-U", acct.name, "-G", acct.name)
    proc = subprocess.Popen(inst.command("-C", str(conf), "-f", "-n", "-q", *drop),
                            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                            start_new_session=True)
    console.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (conf_dir / "log" / "console.log").read_text(errors="replace")[-2000:]
            raise AsteriskError(f"Asterisk exited at start (status {proc.returncode}); "
                                f"its console said:\n{tail}")
        res = subprocess.run(inst.command("-C", str(conf), "-rx", "core waitfullybooted"),
                             capture_output=True, text=True, timeout=timeout)
        if res.returncode == 0 and "fully booted" in res.stdout.lower():
            _STARTED[conf_dir] = proc
            return proc.pid
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    raise AsteriskError(f"Asterisk did not boot within {timeout:g} s — see "
                        f"{conf_dir}/log/console.log")


def stop(conf_dir: Path, *, timeout: float = 20) -> bool:
    """Stop the Asterisk running `conf_dir`; return whether one was running."""
    inst = locate()
    conf_dir = conf_dir.resolve()
    pid = pid_of(conf_dir)
    if pid is None:
        _reap(conf_dir)  # killed from outside: its record is still ours to close
        _unexpose(inst, conf_dir)
        return False
    with contextlib.suppress(AsteriskError):
        cli(conf_dir, "core stop now", timeout=5, inst=inst)
    deadline = time.monotonic() + timeout
    sig = signal.SIGTERM
    while pid_of(conf_dir) is not None:
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            sig = signal.SIGKILL
            deadline = time.monotonic() + 5
        time.sleep(0.1)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    _reap(conf_dir)
    _unexpose(inst, conf_dir)
    return True


def _reap(conf_dir: Path) -> None:
    started = _STARTED.pop(conf_dir, None)
    if started is not None:
        # ended by now (or reaped by waitpid above): this records it, no child to warn of
        with contextlib.suppress(subprocess.TimeoutExpired):
            started.wait(timeout=5)
