"""`callcenter report NAME`: the supervisor's figures from the call-event store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from callcenter.cli.common import cli_clock, conf_option, dsn_option, reported, store_connection
from callcenter.clock import Clock
from callcenter.reports.model import REPORTS

__all__ = ["COMMANDS", "NO_TABLES", "window"]

NO_TABLES = ("no calls yet: the store has no call-event tables (the daemon creates them when "
             "it first runs; or run 'callcenter db upgrade')")


def _when(text: str | None, tz: ZoneInfo, name: str, clock: Clock) -> dt.datetime | None:
    if text is None:
        return None
    words = {"today": 0, "yesterday": -1}
    if text in words:
        day = clock.now(tz).date() + dt.timedelta(days=words[text])
        return dt.datetime.combine(day, dt.time(), tz)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date or time like 2026-11-24 or "
                                 "'2026-11-24 19:00' (or today, yesterday)",
                                 param_hint=name) from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


def window(start: str | None, end: str | None, tz: ZoneInfo, clock: Clock | None = None,
           names: tuple[str, str] = ("--from", "--to")) -> tuple[dt.datetime, dt.datetime]:
    """--from/--to (the options `names`) in the company's time zone; by default today so
    far."""
    clock = clock or cli_clock()
    s = _when(start, tz, names[0], clock) or _when("today", tz, names[0], clock)
    e = _when(end, tz, names[1], clock)
    assert s is not None
    if e is None:
        e = max(clock.now(tz) + dt.timedelta(minutes=1), s + dt.timedelta(days=1)
                if start and len(start) == 10 else s + dt.timedelta(seconds=1))
    return s, e


@click.command()
@click.argument("names", nargs=-1, required=True,
                type=click.Choice([*REPORTS, "all"], case_sensitive=False))
@click.option("--site-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The site file: service-level targets per queue, names, time zone.")
@click.option("--from", "start", default=None, help="Start (company time): 2026-11-24, "
              "'2026-11-24 19:00', today, yesterday. Default: today 00:00.")
@click.option("--to", "end", default=None, help="End, not included. Default: now (or the "
              "end of the --from day).")
@click.option("--site", default=None, help="Only this site (职场).")
@click.option("--queue", default=None, help="Only this queue.")
@click.option("--agent", default=None, help="Only calls this agent answered.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]),
              default="table", show_default=True)
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write one self-contained HTML page with charts.")
@click.option("--short-abandon", type=click.IntRange(0, 600), default=None,
              help="Abandons under this many seconds are short (default: the site's "
              "database.short_abandon_seconds, else 5).")
@click.option("--count-short-abandons", is_flag=True,
              help="Count short abandons as offered and abandoned.")
@click.option("--sl-formula", type=click.Choice(["offered", "answered"]), default="offered",
              show_default=True, help="The service level printed: 'offered' is answered "
              "within T ÷ (answered + abandoned after T), 'answered' ÷ answered; 'SL of "
              "offered' (answered within T ÷ offered) is always printed beside it.")
@click.option("--sl-seconds", type=click.IntRange(1, 3600), default=None,
              help="One target T for every queue (default: each queue's "
              "service_level_seconds, else 20).")
@click.option("--lang", type=click.Choice(["en", "zh"]), default=None,
              help="Labels' language (default: the site file's company.language, else en).")
@dsn_option
@conf_option
def report(names: tuple[str, ...], site_file: Path | None, start: str | None,
           end: str | None, site: str | None, queue: str | None, agent: str | None, fmt: str,
           html_file: Path | None, short_abandon: int | None, count_short_abandons: bool,
           sl_formula: str, sl_seconds: int | None, lang: str | None, dsn: str | None,
           conf_dir: Path) -> None:
    """Reports: summary, hourly, daily, queues, sites, agents, trunks, ivr, surveys, the
    outbound-* sections (or all). Definitions: docs/metrics.md, docs/campaigns.md."""
    import psycopg

    from callcenter.errors import CallcenterError
    from callcenter.reports import Filters, build_report
    from callcenter.reports.outbound import OUTBOUND_REPORTS, has_outbound, lateness_target
    from callcenter.reports.output import render_csv, render_html, render_json, render_table
    from callcenter.reports.projection import refresh
    from callcenter.reports.selection import known_names, store_is_empty, unknown_filters

    with reported():
        tz_name, sl, short, spec, late = "Asia/Shanghai", {}, 5, None, {}
        if site_file is not None:
            from callcenter.site import load_site_file

            spec = load_site_file(site_file)
            tz_name, short = spec.company.timezone, spec.database.short_abandon_seconds
            sl = {n: q.service_level_seconds for n, q in spec.queues.items()}
            late = {n: t for n, c in spec.outbound.campaigns.items()
                    if (t := lateness_target(c.kind, c.target_minutes)) is not None}
            lang = lang or spec.company.language
        lang = lang or "en"
        if sl_seconds is not None:
            sl = {}
        tz = ZoneInfo(tz_name)
        s, e = window(start, end, tz)
        filters = Filters(start=s, end=e, site=site, queue=queue, agent=agent,
                          now=cli_clock().now(),
                          timezone=tz_name, short_abandon_seconds=(
                              short if short_abandon is None else short_abandon),
                          count_short_abandons=count_short_abandons,
                          sl_formula=sl_formula,  # type: ignore[arg-type]
                          sl_seconds=sl, default_sl_seconds=sl_seconds or 20,
                          lateness_targets=late)
        wanted = list(REPORTS) if "all" in names else list(dict.fromkeys(names))
        try:
            # a report reads the daemon's store; it never starts a PostgreSQL of its own
            with store_connection(dsn, conf_dir, start=False) as conn:
                outbound = has_outbound(conn)
                if store_is_empty(conn) and not outbound:
                    click.echo("no calls yet: the call-event store is empty (the daemon "
                               "records every call as it arrives)", err=fmt != "table")
                    if fmt == "table":
                        return
                refresh(conn)  # once, before the names are read and every report is built
                asked = {"site": site, "queue": queue, "agent": agent}
                if any(v is not None for v in asked.values()):
                    wrong = unknown_filters(asked, known_names(conn, spec))
                    if wrong:
                        raise click.UsageError("; ".join(wrong))
                if "all" in names and not outbound:  # a site that dials nobody
                    wanted = [n for n in wanted if n not in OUTBOUND_REPORTS]
                reports = [build_report(conn, n, filters, fold=False) for n in wanted]
        except psycopg.errors.UndefinedTable:
            raise CallcenterError(NO_TABLES) from None
        if fmt == "json":
            click.echo(render_json(reports), nl=False)
        elif fmt == "csv":
            click.echo("\n".join(render_csv(r) for r in reports), nl=False)
        else:
            click.echo("\n".join(render_table(r, lang=lang) for r in reports), nl=False)
        if html_file is not None:
            html_file.write_text(render_html(
                reports, f"callcenter — {s:%Y-%m-%d %H:%M} to {e:%Y-%m-%d %H:%M}", lang),
                encoding="utf-8")
            click.echo(f"wrote {html_file}", err=True)


COMMANDS = (report,)
