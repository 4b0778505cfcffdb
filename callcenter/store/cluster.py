"""A private PostgreSQL cluster under the state directory: Unix socket only, no password in
any file. Used when the site configures no DSN (and by the tests).

Least privilege: the daemon connects as the role `callcenter`, which owns its database but is
no superuser (so no `COPY … TO PROGRAM`); the superuser `postgres` is only for creating the
role and databases. Connections are `peer`-authenticated through pg_ident.conf, which maps only
the daemon's OS user (and root, and the server's own user) to those roles, and the cluster's
folder and socket are closed to everyone else. A SIP proxy on the same machine (Kamailio, as
its own OS user) may be let in as the role `kamailio` only, which `ensure_location_tables`
grants the phones' registrations and nothing else."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter.errors import CallcenterError

if TYPE_CHECKING:
    import psycopg

__all__ = ["ADMIN_ROLE", "OWNER_ROLE", "PROXY_ROLE", "Cluster", "StoreError", "user_name"]

_SEARCH = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin",
           "/usr/lib/postgresql/15/bin")
ADMIN_ROLE = "postgres"
OWNER_ROLE = "callcenter"
PROXY_ROLE = "kamailio"  # the SIP proxies' role: their location table only
_MAP = "callcenter"
_LEGACY_ROLE = "callcenter_legacy_superuser"


class StoreError(CallcenterError):
    """The database cannot be reached, created or migrated."""


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for d in _SEARCH:
        if Path(d, name).exists():
            return str(Path(d, name))
    raise StoreError(f"PostgreSQL's {name} is not installed — apt-get install postgresql, "
                     "or configure a database DSN for the site")


def user_name(uid: int) -> str:
    """The login name of `uid`, as PostgreSQL's peer authentication sees it."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError as exc:
        raise StoreError(f"user id {uid} has no name in /etc/passwd — PostgreSQL's peer "
                         "authentication needs one") from exc


@dataclass
class Cluster:
    """A PostgreSQL cluster in `directory`; PostgreSQL refuses to run as root, so as root the
    cluster belongs to (and runs as) `run_as`. `client` is the OS user of the daemon, the
    only one (besides root and the server's user) let in as the daemon's role; by default
    the current user. `proxy_client`, when set, is the OS user of the SIP proxies on this
    machine, let in as PROXY_ROLE only."""

    directory: Path
    port: int = 5432
    run_as: str = "postgres"
    client: str | None = None
    proxy_client: str | None = None

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def socket_dir(self) -> Path:
        return self.directory / "socket"

    def dsn(self, dbname: str = "callcenter") -> str:
        """The daemon's DSN: the database owner, not a superuser."""
        return f"host={self.socket_dir} port={self.port} dbname={dbname} user={OWNER_ROLE}"

    def proxy_dsn(self, dbname: str) -> str:
        """The SIP proxies' DSN (as `proxy_client` would connect)."""
        return f"host={self.socket_dir} port={self.port} dbname={dbname} user={PROXY_ROLE}"

    def admin_dsn(self, dbname: str = "postgres") -> str:
        """The superuser's DSN, for creating roles and databases only."""
        return f"host={self.socket_dir} port={self.port} dbname={dbname} user={ADMIN_ROLE}"

    @property
    def _server_user(self) -> str:
        return self.run_as if os.geteuid() == 0 else user_name(os.geteuid())

    @property
    def _client_user(self) -> str:
        return self.client or user_name(os.geteuid())

    def _client_group(self) -> str | None:
        """The group that may use the socket: the daemon's when it is neither root nor the
        server's own user (who reach a 0700 folder anyway), else the proxy's, if any. A proxy
        user must be in the daemon's group to share it."""
        user = self._client_user
        group = (None if user in ("root", self._server_user)
                 else grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name)
        proxy = self.proxy_client
        if proxy is None or proxy in ("root", self._server_user):
            return group
        try:
            entry = pwd.getpwnam(proxy)
        except KeyError:
            raise StoreError(f"the SIP proxy's user {proxy!r} does not exist — install "
                             "Kamailio (scripts/install-kamailio), which creates it") from None
        own = grp.getgrgid(entry.pw_gid).gr_name
        if group is None:
            return own
        if group != own and proxy not in grp.getgrnam(group).gr_mem:
            raise StoreError(f"the SIP proxy's user {proxy!r} cannot reach the database "
                             f"socket: add it to the daemon's group ('adduser {proxy} "
                             f"{group}') and start again")
        return group

    def _cmd(self, *args: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", self.run_as, "--", *args]
        return list(args)

    def _own(self, path: Path, mode: int, group: str | None = None) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam(self.run_as)
            gid = grp.getgrnam(group).gr_gid if group else user.pw_gid
            os.chown(path, user.pw_uid, gid)
        elif group:
            os.chown(path, -1, grp.getgrnam(group).gr_gid)
        os.chmod(path, mode)

    def init(self) -> None:
        """Create the cluster if it does not exist (idempotent), and (re)write its access
        rules: folders closed to others, peer authentication through the map."""
        group = self._client_group()
        shared = 0o750 if group else 0o700
        for d in (self.directory, self.socket_dir):
            d.mkdir(parents=True, exist_ok=True)
            self._own(d, shared, group)
        if not (self.data / "PG_VERSION").exists():
            self.data.mkdir(exist_ok=True)
            self._own(self.data, 0o700)
            res = subprocess.run(self._cmd(_tool("initdb"), "-D", str(self.data), "-U",
                                           ADMIN_ROLE, "--auth=reject", "-E", "UTF8",
                                           "--locale=C.UTF-8"), capture_output=True, text=True)
            if res.returncode:
                raise StoreError(f"initdb failed: {res.stderr.strip()[-500:]}")
        self._write_access()

    def _write_access(self) -> None:
        server, client = self._server_user, self._client_user
        ident = [f"{_MAP} {server} {ADMIN_ROLE}", f"{_MAP} {server} {OWNER_ROLE}",
                 f"{_MAP} {client} {OWNER_ROLE}"]
        if os.geteuid() == 0:  # root may administer the cluster it started
            ident += [f"{_MAP} root {ADMIN_ROLE}", f"{_MAP} root {OWNER_ROLE}"]
        if self.proxy_client:
            ident.append(f"{_MAP} {self.proxy_client} {PROXY_ROLE}")
            if os.geteuid() == 0:  # Kamailio checks its database as root, then drops to it
                ident.append(f"{_MAP} root {PROXY_ROLE}")
        files = {
            "pg_hba.conf": "# written by callcenter at every start: Unix socket only, each OS "
                           "user only as the roles pg_ident.conf maps it to\n"
                           f"local all all peer map={_MAP}\n",
            "pg_ident.conf": "# written by callcenter at every start\n"
                             + "\n".join(dict.fromkeys(ident)) + "\n"}
        for name, text in files.items():
            path = self.data / name
            path.write_text(text, encoding="utf-8")
            self._own(path, 0o600)

    def start(self, timeout: float = 30) -> None:
        self.init()
        if self.running():
            self._reload()
        else:
            # the folders (0750, the clients' group; see init) decide who reaches the
            # socket: the server's user need not be in that group to create it
            opts = (f"-c listen_addresses='' -c unix_socket_directories={self.socket_dir} "
                    f"-p {self.port} -c unix_socket_permissions="
                    + ("0777" if self._client_group() else "0700"))
            res = subprocess.run(self._cmd(_tool("pg_ctl"), "-D", str(self.data), "-o", opts,
                                           "-l", str(self.data / "server.log"), "-w", "-t",
                                           str(int(timeout)), "start"),
                                 capture_output=True, text=True)
            if res.returncode:
                log = (self.data / "server.log").read_text(errors="replace")[-800:]
                raise StoreError(f"PostgreSQL did not start: {res.stderr.strip()}\n{log}")
        self._provision()

    def _reload(self) -> None:
        subprocess.run(self._cmd(_tool("pg_ctl"), "-D", str(self.data), "reload"),
                       capture_output=True, text=True)

    def _admin(self) -> psycopg.Connection:
        import psycopg

        deadline = time.monotonic() + 10
        while True:
            try:
                return psycopg.connect(self.admin_dsn(), autocommit=True)
            except psycopg.OperationalError as exc:
                if f'role "{ADMIN_ROLE}" does not exist' in str(exc):
                    self._adopt_legacy()
                elif time.monotonic() > deadline:
                    raise StoreError(f"cannot connect to the private PostgreSQL in "
                                     f"{self.directory}: {exc}") from exc
                time.sleep(0.2)

    def _provision(self) -> None:
        """The owner role (no superuser) and its database; idempotent."""
        with self._admin() as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname=%s",
                                (OWNER_ROLE,)).fetchone():
                conn.execute(f"CREATE ROLE {OWNER_ROLE} LOGIN NOSUPERUSER NOCREATEDB "
                             "NOCREATEROLE")
            conn.execute(f"ALTER ROLE {OWNER_ROLE} NOSUPERUSER NOCREATEDB NOCREATEROLE")
            if self.proxy_client:
                if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname=%s",
                                    (PROXY_ROLE,)).fetchone():
                    conn.execute(f"CREATE ROLE {PROXY_ROLE} LOGIN")
                conn.execute(f"ALTER ROLE {PROXY_ROLE} LOGIN NOSUPERUSER NOCREATEDB "
                             "NOCREATEROLE NOINHERIT")
        self.create_database("callcenter", replace=False)

    def create_database(self, name: str, *, replace: bool = False) -> str:
        """A database owned by the daemon's role; return its DSN. `name` is an identifier
        chosen by the code, never by a caller."""
        if not name.replace("_", "").isalnum() or not name.isascii():
            raise StoreError(f"database name {name!r}: letters, digits and _ only")
        with self._admin() as conn:
            if replace:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s",
                                (name,)).fetchone():
                conn.execute(f"CREATE DATABASE {name} OWNER {OWNER_ROLE}")
            conn.execute(f"ALTER DATABASE {name} OWNER TO {OWNER_ROLE}")
        self._adopt_objects(name)
        return self.dsn(name)

    def _adopt_legacy(self) -> None:
        """A cluster made before issue 10 has `callcenter` as its superuser: add the admin
        role, then rename the old superuser out of the way (nothing maps to it)."""
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {ADMIN_ROLE} SUPERUSER LOGIN")
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute(f"ALTER ROLE {OWNER_ROLE} RENAME TO {_LEGACY_ROLE}")
            conn.execute(f"ALTER ROLE {_LEGACY_ROLE} NOLOGIN")

    def _adopt_objects(self, dbname: str) -> None:
        """Hand the legacy superuser's tables to the owner role (after `_adopt_legacy`)."""
        import psycopg

        kinds = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
        with psycopg.connect(self.admin_dsn(dbname), autocommit=True) as conn:
            # tables first: a table takes its serial columns' sequences along
            for wanted in ("rpvm", "S"):
                rows = conn.execute(
                    "SELECT c.relkind, format('%%I.%%I', n.nspname, c.relname) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles r ON "
                    "r.oid = c.relowner WHERE r.rolname = %s AND "
                    "strpos(%s, c.relkind::text) > 0 AND n.nspname NOT LIKE 'pg\\_%%' "
                    "AND n.nspname <> 'information_schema'", (_LEGACY_ROLE, wanted)).fetchall()
                for kind, qualified in rows:
                    conn.execute(f"ALTER {kinds.get(kind, 'TABLE')} {qualified} OWNER TO "
                                 f"{OWNER_ROLE}")

    def running(self) -> bool:
        res = subprocess.run(self._cmd(_tool("pg_ctl"), "-D", str(self.data), "status"),
                             capture_output=True, text=True)
        return res.returncode == 0

    def stop(self) -> None:
        if self.data.exists() and self.running():
            subprocess.run(self._cmd(_tool("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                                     "stop"), capture_output=True, text=True)
