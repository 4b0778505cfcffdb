"""`callcenter top`: the live wallboard, from the running daemon's status socket."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from callcenter.cli.common import cli_clock, conf_option, dsn_option, reported

__all__ = ["COMMANDS", "outbound_lines", "site_language"]


def _site(doc: dict[str, Any]) -> Any:
    """The site file the daemon runs (its status names it); None when it cannot be read here
    (another user's, or moved)."""
    from callcenter.errors import CallcenterError
    from callcenter.site import load_site_file

    try:
        return load_site_file(doc["site"])
    except (KeyError, OSError, CallcenterError):
        return None


def site_language(doc: dict[str, Any]) -> str:
    """The `company.language` of the site the daemon runs; "en" when its file is unreadable."""
    spec = _site(doc)
    return spec.company.language if spec is not None else "en"


def outbound_lines(dsn: str | None, conf_dir: Path, tz_name: str, lang: str) -> Any:
    """The outbound table below the queues (per campaign: dialling now, today's attempts and
    reached), or None when no campaign dialled today or the store is not reachable without
    starting it — the queues alone are shown then."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    import psycopg
    from rich.table import Table

    from callcenter.cli.common import store_dsn
    from callcenter.errors import CallcenterError
    from callcenter.reports.labels import label, title
    from callcenter.reports.outbound import live_activity

    tz = ZoneInfo(tz_name)
    day = dt.datetime.combine(cli_clock().now(tz).date(), dt.time(), tz)
    try:
        with psycopg.connect(store_dsn(dsn, conf_dir, start=False), connect_timeout=2,
                             ) as conn:
            rows = live_activity(conn, day)
    except (psycopg.Error, CallcenterError):
        return None
    if not rows:
        return None
    cols = ("campaign", "dialling", "attempts", "reached", "answer_rate")
    table = Table(title=title("Outbound now", lang), title_justify="left")
    for c in cols:
        table.add_column(label(c, lang), justify="left" if c == "campaign" else "right")
    for r in rows:
        rate = r["answer_rate"]
        table.add_row(*(str(r[c]) for c in cols[:-1]),
                      "–" if rate is None else f"{rate * 100:.1f}%")
    return table


@click.command()
@conf_option
@dsn_option
@click.option("--once", is_flag=True, help="Print one frame and exit (for scripts).")
@click.option("--interval", type=click.FloatRange(0.2, 60), default=1.0, show_default=True)
@click.option("--lang", type=click.Choice(["en", "zh"]), default=None,
              help="Labels' language (default: the site's company.language).")
def top(conf_dir: Path, dsn: str | None, once: bool, interval: float, lang: str | None
        ) -> None:
    """Per queue: waiting, longest wait, agents, today's answer rate and service level; per
    agent: state and time in it; per campaign dialling today: calls dialling now, today's
    attempts and reached. Ctrl-C leaves."""
    from rich.console import Console, Group
    from rich.live import Live
    from rich.text import Text

    from callcenter.daemon.paths import daemon_paths
    from callcenter.daemon.status import query_status
    from callcenter.errors import CallcenterError
    from callcenter.reports.wallboard import render_wallboard

    sock = daemon_paths(conf_dir).socket
    with reported():
        doc = query_status(sock)  # not running: a clear error, exit 1
        spec = _site(doc)
        lang = lang or (spec.company.language if spec is not None else "en")
        tz_name = spec.company.timezone if spec is not None else "Asia/Shanghai"

        def frame(board: dict[str, Any]) -> Any:
            outbound = outbound_lines(dsn, conf_dir, tz_name, lang)
            shown = render_wallboard(board, lang=lang)
            return shown if outbound is None else Group(shown, outbound)

        if once:
            Console().print(frame(doc["wallboard"]))
            return
        try:
            with Live(frame(doc["wallboard"]), refresh_per_second=4, screen=False) as live:
                while True:
                    time.sleep(interval)
                    try:
                        live.update(frame(query_status(sock)["wallboard"]))
                    except CallcenterError as exc:
                        live.update(Text(f"daemon not answering — retrying ({exc})",
                                         style="bold red"))
        except KeyboardInterrupt:
            pass


COMMANDS = (top,)
