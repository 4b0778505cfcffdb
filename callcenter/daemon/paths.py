"""Every path the callcenter daemon owns: all under DIR/daemon/ (DIR: the rendered folder).

Asterisk's own folders (DIR/log, run, spool, db, voicemail) belong to the `asterisk` user; the
daemon runs as `callcenter` (issue 10) and keeps its state apart, in a 0700 folder of its own
that `callcenter render` (as root) hands to that user. The private PostgreSQL cluster of a
daemon that runs as a non-root user lives in DIR/daemon/pg; a daemon run as root keeps it
where it always was (callcenter.store.database)."""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from callcenter.errors import CallcenterError

__all__ = ["DAEMON_USER", "DaemonPaths", "daemon_paths", "hand_over"]

log = logging.getLogger(__name__)

DAEMON_USER = "callcenter"  # the OS user of the systemd unit (scripts/systemd)


@dataclass(frozen=True)
class DaemonPaths:
    conf_dir: Path  # resolved

    @property
    def root(self) -> Path:
        return self.conf_dir / "daemon"

    @property
    def spool(self) -> Path:
        """The event spool (Asterisk's own spool is DIR/spool)."""
        return self.root / "spool"

    @property
    def agents(self) -> Path:
        return self.root / "db" / "agents.json"

    @property
    def agents_journal(self) -> Path:
        """The agents' changes since agents.json was last written whole (one line each;
        callcenter.agents.journal)."""
        return self.agents.with_suffix(".journal")

    @property
    def legacy_agents(self) -> Path:
        """Where agents' states were kept before issue 10 (inside Asterisk's DIR/db)."""
        return self.conf_dir / "db" / "agents.json"

    @property
    def socket(self) -> Path:
        """The status socket (`callcenter status`, `top`, `agent unlock`)."""
        return self.root / "run" / "callcenter.sock"

    @property
    def own_cluster(self) -> Path:
        """The state folder of the private cluster of a daemon run as a non-root user."""
        return self.root

    def cluster_state(self) -> Path:
        """The state folder handed to callcenter.store.database for the private cluster: the
        daemon's own folder when it runs unprivileged (or already keeps a cluster there, for
        a root CLI command), else DIR as before issue 10."""
        if os.geteuid() != 0 or (self.own_cluster / "pg" / "data" / "PG_VERSION").exists():
            return self.own_cluster
        return self.conf_dir

    def prepare(self) -> None:
        """Make the daemon's folders (0700) and bring over a pre-issue-10 agents.json."""
        try:
            for d in (self.root, self.spool, self.agents.parent, self.socket.parent):
                d.mkdir(mode=0o700, exist_ok=True)
        except PermissionError as exc:
            raise CallcenterError(
                f"cannot create {exc.filename}: the daemon's folder {self.root} must belong "
                f"to the daemon's user — run 'callcenter render' as root (it hands the folder "
                f"to user {DAEMON_USER}), or 'chown -R {_me()} {self.root}'") from None
        self.adopt_legacy_agents()

    def adopt_legacy_agents(self) -> bool:
        """Copy DIR/db/agents.json once to its new place if that has none, so agents stay
        logged in across the upgrade; then the old file goes. False when nothing was moved
        (none there, or unreadable for this user: `callcenter render` as root moves it)."""
        if self.agents.exists():
            return False
        try:
            data = self.legacy_agents.read_bytes()
        except FileNotFoundError:
            return False
        except OSError as exc:  # Asterisk's folder is closed to the daemon's user
            log.info("cannot look for old agent states in %s (%s); 'callcenter render' as "
                     "root moves them", self.legacy_agents, exc.strerror)
            return False
        self.agents.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.agents.with_name(f".{self.agents.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, self.agents)
        with contextlib.suppress(OSError):
            self.legacy_agents.unlink()
        log.info("agent states moved from %s to %s", self.legacy_agents, self.agents)
        return True


def daemon_paths(conf_dir: Path) -> DaemonPaths:
    return DaemonPaths(conf_dir.resolve())


def hand_over(conf_dir: Path, user: str = DAEMON_USER) -> bool:
    """As root, with `user` existing: make DIR/daemon (0700) and give it, and everything in
    it, to that user (the rendered folder itself stays root's). False when not done."""
    paths = daemon_paths(conf_dir)
    paths.root.mkdir(mode=0o700, exist_ok=True)
    os.chmod(paths.root, 0o700)
    if os.geteuid() != 0:
        return False
    try:
        ent = pwd.getpwnam(user)
    except KeyError:
        return False
    paths.adopt_legacy_agents()
    for base, dirs, files in os.walk(paths.root):
        for name in [".", *dirs, *files]:
            path = Path(base, name)
            if not path.is_symlink():
                os.chown(path, ent.pw_uid, ent.pw_gid)
    return True


def _me() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())

