"""`callcenter export queue-log`: the stored events for tools that read Asterisk's queue_log."""

from __future__ import annotations

import itertools
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from callcenter.cli.common import conf_option, dsn_option, reported, store_connection
from callcenter.cli.report_cmds import window

__all__ = ["COMMANDS"]


@click.group()
def export() -> None:
    """Export the call events for other tools."""


@export.command("queue-log")
@click.option("--from", "start", default=None, help="Start (company time); default today.")
@click.option("--to", "end", default=None, help="End, not included; default now.")
@click.option("--queue", default=None, help="Only this queue (agent lines are always kept).")
@click.option("--timezone", default="Asia/Shanghai", show_default=True,
              help="The time zone of --from/--to.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (default: standard output).")
@dsn_option
@conf_option
def queue_log(start: str | None, end: str | None, queue: str | None, timezone: str,
              output: Path | None, dsn: str | None, conf_dir: Path) -> None:
    """Asterisk queue_log lines (QueueMetrics, Asternic): docs/queue_log.md."""
    import psycopg

    from callcenter.cli.report_cmds import NO_TABLES
    from callcenter.errors import CallcenterError
    from callcenter.reports.queue_log import queue_log_lines

    with reported():
        s, e = window(start, end, ZoneInfo(timezone))
        n = 0
        # an export reads the daemon's store; it never starts a PostgreSQL of its own
        with store_connection(dsn, conf_dir, start=False) as conn:
            lines = queue_log_lines(conn, s, e, queue)
            try:  # the query runs at the first line: a missing table fails before output
                first = next(lines, None)
            except psycopg.errors.UndefinedTable:
                raise CallcenterError(NO_TABLES) from None
            out = output.open("w", encoding="utf-8") if output else None
            try:
                for line in itertools.chain([first], lines) if first is not None else ():
                    click.echo(line, file=out)
                    n += 1
            finally:
                if out:
                    out.close()
        if n == 0:
            click.echo("no queue events in this window — nothing to export", err=True)
        if output:
            click.echo(f"wrote {n} lines to {output}", err=True)


COMMANDS = (export,)
