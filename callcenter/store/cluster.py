"""A private PostgreSQL cluster under the state directory: Unix socket only, no password in
any file. Used when the site configures no DSN (and by the tests)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from callcenter.errors import CallcenterError

__all__ = ["Cluster", "StoreError"]

_SEARCH = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin",
           "/usr/lib/postgresql/15/bin")


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


@dataclass
class Cluster:
    """A PostgreSQL cluster in `directory`; PostgreSQL refuses to run as root, so as root the
    cluster belongs to (and runs as) `run_as`."""

    directory: Path
    port: int = 5432
    run_as: str = "postgres"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def socket_dir(self) -> Path:
        return self.directory / "socket"

    def dsn(self, dbname: str = "callcenter") -> str:
        return f"host={self.socket_dir} port={self.port} dbname={dbname} user=callcenter"

    def _cmd(self, *args: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", self.run_as, "--", *args]
        return list(args)

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam(self.run_as)
            os.chown(path, user.pw_uid, user.pw_gid)

    def init(self) -> None:
        """Create the cluster if it does not exist (idempotent)."""
        if (self.data / "PG_VERSION").exists():
            return
        for d in (self.directory, self.data, self.socket_dir):
            d.mkdir(parents=True, exist_ok=True)
            self._chown(d)
        os.chmod(self.data, 0o700)
        res = subprocess.run(self._cmd(_tool("initdb"), "-D", str(self.data), "-U",
                                       "callcenter", "--auth=trust", "-E", "UTF8",
                                       "--locale=C.UTF-8"), capture_output=True, text=True)
        if res.returncode:
            raise StoreError(f"initdb failed: {res.stderr.strip()[-500:]}")

    def start(self, timeout: float = 30) -> None:
        self.init()
        if self.running():
            return
        opts = f"-c listen_addresses='' -c unix_socket_directories={self.socket_dir} -p {self.port}"
        res = subprocess.run(self._cmd(_tool("pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                                       str(self.data / "server.log"), "-w", "-t",
                                       str(int(timeout)), "start"),
                             capture_output=True, text=True)
        if res.returncode:
            log = (self.data / "server.log").read_text(errors="replace")[-800:]
            raise StoreError(f"PostgreSQL did not start: {res.stderr.strip()}\n{log}")
        self._create_db()

    def _create_db(self) -> None:
        import psycopg

        deadline = time.monotonic() + 10
        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
                    if not conn.execute("SELECT 1 FROM pg_database WHERE datname='callcenter'"
                                        ).fetchone():
                        conn.execute("CREATE DATABASE callcenter")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def running(self) -> bool:
        res = subprocess.run(self._cmd(_tool("pg_ctl"), "-D", str(self.data), "status"),
                             capture_output=True, text=True)
        return res.returncode == 0

    def stop(self) -> None:
        if self.data.exists() and self.running():
            subprocess.run(self._cmd(_tool("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                                     "stop"), capture_output=True, text=True)
