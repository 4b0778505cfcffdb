"""`callcenter contacts import|export|count`: the contact table the flows' lookup uses."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from callcenter.cli.common import conf_option, dsn_option, reported, store_connection

__all__ = ["COMMANDS"]


@click.group()
def contacts() -> None:
    """Students and parents: number, name, VIP tier, region, language (docs/contacts.md)."""


@contacts.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--replace", is_flag=True, help="Delete contacts that are not in FILE.")
@click.option("--dry-run", is_flag=True, help="Check FILE only; change nothing.")
@click.option("--errors", "errors_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the rejected rows' problems to this CSV.")
@dsn_option
@conf_option
def import_(file: Path, replace: bool, dry_run: bool, errors_file: Path | None,
            dsn: str | None, conf_dir: Path) -> None:
    """Import a CSV (number,name,vip,region,language). Good rows are stored in one
    transaction; each bad row is reported as FILE:LINE: column: problem. Exit 1 if any row
    was rejected."""
    from rich.progress import Progress

    from callcenter.store.contacts import import_contacts, read_contacts_csv

    with reported():
        good, problems, encoding = read_contacts_csv(file)
        for p in problems:
            click.echo(str(p), err=True)
        if errors_file is not None:
            with errors_file.open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["line", "column", "problem"])
                w.writerows([p.line, p.column, p.message] for p in problems)
        rejected_lines = len({p.line for p in problems})
        if dry_run:
            click.echo(f"{file} ({encoding}): {len(good)} good rows, {rejected_lines} "
                       "rejected; nothing written (--dry-run)")
        else:
            if replace and problems:
                from callcenter.errors import CallcenterError

                raise CallcenterError("--replace with rejected rows would delete those "
                                      "contacts — fix the rows first; nothing was written")
            with store_connection(dsn, conf_dir) as conn, Progress(
                    console=None, transient=True, disable=not sys.stderr.isatty()) as bar:
                task = bar.add_task(f"importing {file.name}", total=len(good))
                result = import_contacts(conn, good, replace=replace,
                                         progress=lambda n: bar.advance(task, n))
            click.echo(f"{file} ({encoding}): imported {result.inserted}, updated "
                       f"{result.updated}, removed {result.removed}, rejected "
                       f"{rejected_lines}" + (" — the good rows were stored; fix the others "
                                              "and import again" if problems else ""))
        if problems:
            raise SystemExit(1)


@contacts.command("export")
@dsn_option
@conf_option
def export_(dsn: str | None, conf_dir: Path) -> None:
    """Every contact as CSV on standard output (the import format)."""
    with reported(), store_connection(dsn, conf_dir) as conn:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["number", "name", "vip", "region", "language"])
        w.writerows(conn.execute("SELECT number, name, vip, region, language FROM contacts "
                                 "ORDER BY number"))


@contacts.command("count")
@dsn_option
@conf_option
def count(dsn: str | None, conf_dir: Path) -> None:
    """How many contacts, and how many are VIPs."""
    with reported(), store_connection(dsn, conf_dir) as conn:
        total, vips = conn.execute("SELECT count(*), count(*) FILTER (WHERE vip > 0) "
                                   "FROM contacts").fetchone()
        click.echo(f"{total} contacts, {vips} VIP")


COMMANDS = (contacts,)
