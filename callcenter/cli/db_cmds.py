"""`callcenter db upgrade`: create or migrate the store's schema."""

from __future__ import annotations

import os
from pathlib import Path

import click

from callcenter.cli.common import reported

__all__ = ["COMMANDS"]


@click.group()
def db() -> None:
    """The call-event store (PostgreSQL)."""


@db.command()
@click.option("--dsn", default=lambda: os.environ.get("CALLCENTER_DSN"),
              help="PostgreSQL connection string ($CALLCENTER_DSN). Without one, a private "
              "cluster under --state is created and started.")
@click.option("--state", type=click.Path(file_okay=False, path_type=Path),
              default=Path("/var/lib/callcenter/pg"), show_default=True)
def upgrade(dsn: str | None, state: Path) -> None:
    """Apply the schema migrations that are missing (safe to run twice)."""
    from callcenter.store import SCHEMA_VERSION, Cluster
    from callcenter.store import upgrade as run_upgrade

    with reported():
        if not dsn:
            cluster = Cluster(state)
            cluster.start()
            dsn = cluster.dsn()
        applied = run_upgrade(dsn)
        click.echo(f"schema at version {SCHEMA_VERSION}" +
                   (f" (applied {', '.join(map(str, applied))})" if applied else
                    " (nothing to do)"))


COMMANDS = (db,)
