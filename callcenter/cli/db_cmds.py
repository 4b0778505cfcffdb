"""`callcenter db upgrade`: create or migrate the store's schema."""

from __future__ import annotations

from pathlib import Path

import click

from callcenter.cli.common import conf_option, dsn_option, reported, store_dsn

__all__ = ["COMMANDS"]


@click.group()
def db() -> None:
    """The call-event store (PostgreSQL)."""


@db.command()
@dsn_option
@conf_option
def upgrade(dsn: str | None, conf_dir: Path) -> None:
    """Apply the schema migrations that are missing (safe to run twice). Without a DSN, the
    daemon's private cluster under --conf is created and started."""
    from callcenter.store import SCHEMA_VERSION
    from callcenter.store import upgrade as run_upgrade

    with reported():
        applied = run_upgrade(store_dsn(dsn, conf_dir))
        click.echo(f"schema at version {SCHEMA_VERSION}" +
                   (f" (applied {', '.join(map(str, applied))})" if applied else
                    " (nothing to do)"))


COMMANDS = (db,)
