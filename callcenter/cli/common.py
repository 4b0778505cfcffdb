"""Helpers shared by the CLI commands: loading a site and reporting errors the same way."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from callcenter.clock import SYSTEM, Clock
from callcenter.errors import CallcenterError, SiteError
from callcenter.site import Site, load_site

__all__ = ["cli_clock", "conf_option", "dsn_option", "load", "reported", "secrets_option",
           "site_argument", "store_connection", "store_dsn"]

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def reported() -> Iterator[None]:
    """Turn our errors into a message on stderr and exit status 1 (2 for usage errors)."""
    try:
        yield
    except SiteError as exc:
        for p in exc.problems:
            click.echo(str(p), err=True)
        n = len(exc.problems)
        click.echo(f"{n} problem{'s' if n != 1 else ''} found; nothing was written.", err=True)
        raise SystemExit(1) from None
    except CallcenterError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None


def site_argument(f: F) -> F:
    return click.argument("site", type=click.Path(dir_okay=False, path_type=Path))(f)


def secrets_option(f: F) -> F:
    return click.option("--secrets", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, help="Secrets file (default: $CALLCENTER_SECRETS, the "
                        "site's 'secrets:' key, or secrets.yaml beside the site file).")(f)


DEFAULT_CONF = Path(os.environ.get("CALLCENTER_CONF", "/var/lib/callcenter/asterisk"))

conf_option = click.option(
    "--conf", "conf_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_CONF,
    show_default=True, help="The folder 'callcenter render' wrote, where the daemon keeps its "
    "state and private database ($CALLCENTER_CONF).")
dsn_option = click.option("--dsn", default=None, help="PostgreSQL of the call events "
                          "($CALLCENTER_DSN; default: the private cluster of --conf).")


def store_dsn(dsn: str | None, conf_dir: Path, *, start: bool = True) -> str:
    """--dsn, else $CALLCENTER_DSN, else the daemon's private cluster under --conf. With
    `start` the cluster is started if need be; without (reports, exports: readers must not
    leave a server running behind the daemon's back) a cluster that is not running is an
    error saying so."""
    from callcenter.daemon.paths import daemon_paths
    from callcenter.store.database import embedded_cluster, resolve_dsn

    state = daemon_paths(conf_dir).cluster_state()
    found = resolve_dsn(dsn, None, state, start=start)
    if start or dsn or os.environ.get("CALLCENTER_DSN"):
        return found
    cluster = embedded_cluster(state)
    try:
        made = (cluster.data / "PG_VERSION").exists()
        up = (cluster.socket_dir / f".s.PGSQL.{cluster.port}").exists()
    except PermissionError:  # another user's cluster: connecting tells what is wrong
        return found
    if not made:
        raise CallcenterError(f"no call-event store under {conf_dir}: the daemon has not run "
                              "with this --conf (or keeps its events elsewhere: give --dsn)")
    if not up:
        raise CallcenterError(f"the daemon's store (the private PostgreSQL in "
                              f"{cluster.directory}) is not running — start the daemon "
                              "('callcenter run', or systemctl start callcenter), which starts "
                              "it, or give --dsn")
    return found


@contextmanager
def store_connection(dsn: str | None, conf_dir: Path, *, start: bool = True
                     ) -> Iterator[Any]:
    """A psycopg connection to the call-event database; losing it is a clear error."""
    import psycopg

    try:
        with psycopg.connect(store_dsn(dsn, conf_dir, start=start), connect_timeout=10
                             ) as conn:
            yield conn
    except psycopg.OperationalError as exc:
        raise CallcenterError(f"cannot reach the call-event database: "
                              f"{str(exc).strip().splitlines()[0]}") from None


def cli_clock() -> Clock:
    """The clock a command reads "today" and "now" from: `obj={"clock": ...}` given to the
    command (tests), else the system clock."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    clock = obj.get("clock") if isinstance(obj, dict) else None
    return clock if clock is not None else SYSTEM


def load(site: Path, secrets: Path | None) -> Site:
    return load_site(site, secrets=secrets)
