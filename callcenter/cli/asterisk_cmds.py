"""`callcenter asterisk start|stop|status|cli`: the Asterisk running a rendered folder."""

from __future__ import annotations

from pathlib import Path

import click

from callcenter.asterisk import cli as ast_cli
from callcenter.asterisk import is_running, locate, start, stop
from callcenter.asterisk.launcher import pid_of
from callcenter.cli.common import reported

__all__ = ["asterisk"]

conf_dir = click.argument("conf_dir", type=click.Path(file_okay=False, path_type=Path))


@click.group()
def asterisk() -> None:
    """Start, stop and query Asterisk on a folder made by 'callcenter render'."""


@asterisk.command("start")
@conf_dir
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for boot.")
def start_cmd(conf_dir: Path, timeout: float) -> None:
    """Start Asterisk on CONF_DIR and wait until it is fully booted."""
    with reported():
        pid = start(conf_dir, timeout=timeout)
        click.echo(f"Asterisk running on {conf_dir} (pid {pid}, {locate().describe()})")


@asterisk.command("stop")
@conf_dir
def stop_cmd(conf_dir: Path) -> None:
    """Stop the Asterisk running CONF_DIR."""
    with reported():
        click.echo("stopped" if stop(conf_dir) else "not running")


@asterisk.command("status")
@conf_dir
def status_cmd(conf_dir: Path) -> None:
    """Say whether Asterisk runs CONF_DIR (exit 3 when it does not)."""
    with reported():
        if not is_running(conf_dir):
            click.echo("not running")
            raise SystemExit(3)
        click.echo(f"running (pid {pid_of(conf_dir)})")
        click.echo(ast_cli(conf_dir, "core show uptime").rstrip())


@asterisk.command("cli")
@conf_dir
@click.argument("command", nargs=-1, required=True)
def cli_cmd(conf_dir: Path, command: tuple[str, ...]) -> None:
    """Run one Asterisk CLI COMMAND (asterisk -rx) in the Asterisk running CONF_DIR."""
    with reported():
        click.echo(ast_cli(conf_dir, " ".join(command)), nl=False)
