"""Which database: a DSN given (option, $CALLCENTER_DSN, the site file), or else the private
cluster under the state directory, created and started on first use."""

from __future__ import annotations

import logging
import os
import pwd
import re
from pathlib import Path

from callcenter.store.cluster import Cluster, StoreError, user_name

__all__ = ["EMBEDDED_PORT", "default_dsn", "embedded_cluster", "resolve_dsn"]

log = logging.getLogger(__name__)

EMBEDDED_PORT = 5439  # Unix socket only; a number apart from a system PostgreSQL's 5432
DEFAULT_STATE = Path("/var/lib/callcenter")


def _reachable_by(path: Path, user: str) -> bool:
    """Can `user` reach `path`: every existing parent searchable by others (root's own
    home is not)."""
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        return False
    for parent in [path, *path.parents]:
        if not parent.exists():
            continue
        st = parent.stat()
        if st.st_uid != uid and not st.st_mode & 0o001:
            return False
    return True


def _owner(path: Path) -> str | None:
    try:
        return user_name(path.stat().st_uid)
    except (OSError, StoreError):
        return None


def embedded_cluster(state_dir: Path | None = None) -> Cluster:
    """The private cluster: `<state>/pg`. As another user it runs as that user; as root it
    runs as the owner of an existing cluster the daemon's user made, else as `postgres`, which
    must be able to reach the directory; if it cannot (a state directory under /root), the
    cluster lives under /var/lib/callcenter instead, named after the state directory."""
    state = (state_dir or DEFAULT_STATE).resolve()
    directory = state / "pg"
    if os.geteuid() != 0:  # runs as this user (the daemon's), the only client let in
        return Cluster(directory, port=EMBEDDED_PORT, client=user_name(os.geteuid()))
    owner = _owner(directory / "data")
    if owner not in (None, "root", "postgres"):
        # a cluster the unprivileged daemon made: root (a CLI command) runs it as its owner
        return Cluster(directory, port=EMBEDDED_PORT, run_as=owner, client=owner)
    if not _reachable_by(directory, "postgres"):
        tag = "-".join(p for p in state.parts[-2:] if p not in ("/", ""))
        directory = DEFAULT_STATE / f"pg-{tag}"
        log.info("state directory %s is not reachable by the postgres user; the database "
                 "cluster lives in %s", state, directory)
    return Cluster(directory, port=EMBEDDED_PORT)


def default_dsn(state_dir: Path | None = None, *, start: bool = True) -> str:
    """The embedded cluster's DSN, starting the cluster (and creating it) if asked."""
    cluster = embedded_cluster(state_dir)
    if start:
        cluster.start()
    return cluster.dsn()


def resolve_dsn(explicit: str | None = None, site_dsn: str | None = None,
                state_dir: Path | None = None, *, start: bool = True) -> str:
    """The first of: an explicit DSN, $CALLCENTER_DSN, the site file's database.dsn, the
    embedded cluster. A password belongs in ~/.pgpass or $PGPASSFILE, never in the DSN."""
    for dsn in (explicit, os.environ.get("CALLCENTER_DSN"), site_dsn):
        if dsn:
            if "password=" in dsn.replace(" ", "").lower() or re.match(
                    r"postgres(ql)?://[^/@]*:[^/@]*@", dsn):
                raise StoreError("the database DSN contains a password — put it in a "
                                 "~/.pgpass or $PGPASSFILE file instead")
            return dsn
    return default_dsn(state_dir, start=start)
