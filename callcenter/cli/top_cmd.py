"""`callcenter top`: the live wallboard, from the running daemon's status socket."""

from __future__ import annotations

import time
from pathlib import Path

import click

from callcenter.cli.common import conf_option, reported

__all__ = ["COMMANDS"]


@click.command()
@conf_option
@click.option("--once", is_flag=True, help="Print one frame and exit (for scripts).")
@click.option("--interval", type=click.FloatRange(0.2, 60), default=1.0, show_default=True)
def top(conf_dir: Path, once: bool, interval: float) -> None:
    """Per queue: waiting, longest wait, agents, today's answer rate and service level; per
    agent: state and time in it. Ctrl-C leaves."""
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    from callcenter.daemon.paths import daemon_paths
    from callcenter.daemon.status import query_status
    from callcenter.errors import CallcenterError
    from callcenter.reports.wallboard import render_wallboard

    sock = daemon_paths(conf_dir).socket
    with reported():
        board = query_status(sock)["wallboard"]  # not running: a clear error, exit 1
        if once:
            Console().print(render_wallboard(board))
            return
        try:
            with Live(render_wallboard(board), refresh_per_second=4, screen=False) as live:
                while True:
                    time.sleep(interval)
                    try:
                        live.update(render_wallboard(query_status(sock)["wallboard"]))
                    except CallcenterError as exc:
                        live.update(Text(f"daemon not answering — retrying ({exc})",
                                         style="bold red"))
        except KeyboardInterrupt:
            pass


COMMANDS = (top,)
