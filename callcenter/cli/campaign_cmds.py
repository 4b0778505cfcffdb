"""`callcenter campaign`: outbound campaigns for supervisors — their state, pause and resume,
a CSV of calls to place, and the results (docs/campaigns.md)."""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from callcenter.cli.common import (
    cli_clock,
    conf_option,
    dsn_option,
    reported,
    store_connection,
    store_dsn,
)
from callcenter.errors import CallcenterError

__all__ = ["COMMANDS"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

NO_OUTBOUND = ("the store has no outbound tables yet — run 'callcenter db upgrade' (the "
               "daemon upgrades the schema when it starts)")


def site_file_option(f: F) -> F:
    return click.option("--site-file", required=True,
                        type=click.Path(dir_okay=False, exists=True, path_type=Path),
                        help="The site file whose outbound: section defines the "
                        "campaigns.")(f)


def fmt_option(f: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]),
                        default="table", show_default=True)(f)


def _spec(site_file: Path) -> Any:
    from callcenter.site import load_site_file

    return load_site_file(site_file)


def _campaign(spec: Any, name: str, site_file: Path) -> Any:
    """The campaign `name` of the site file; an unknown name is a usage error (exit 2)."""
    found = spec.outbound.campaigns.get(name)
    if found is None:
        known = ", ".join(sorted(spec.outbound.campaigns)) or "none"
        raise click.BadParameter(f"{name!r} is not a campaign of {site_file} — its campaigns: "
                                 f"{known}", param_hint="NAME")
    return found


def _day_start(spec: Any) -> dt.datetime:
    tz = ZoneInfo(spec.company.timezone)
    return dt.datetime.combine(cli_clock().now(tz).date(), dt.time(), tz)


def _read(dsn: str | None, conf_dir: Path, work: Callable[[Any], T]) -> T:
    """Run `work` on a connection to the daemon's store; a reader never starts the store."""
    import psycopg

    try:
        with store_connection(dsn, conf_dir, start=False) as conn:
            return work(conn)
    except psycopg.errors.UndefinedTable:
        raise CallcenterError(NO_OUTBOUND) from None


def _write(dsn: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work` on an open JobStore (the one writer of outbound jobs and campaign state)."""
    from callcenter.outbound.jobs import JobStore

    async def run() -> T:
        async with JobStore(dsn, clock=cli_clock()) as store:
            return await work(store)

    return asyncio.run(run())


_KNOWN_KEYS = ("SELECT idempotency_key FROM outbound_jobs WHERE client = %s "
               "AND idempotency_key = ANY(%s)")


def _emit(report: Any, fmt: str, lang: str) -> None:
    from callcenter.reports.output import render_csv, render_json, render_table

    if fmt == "json":
        click.echo(render_json([report]), nl=False)
    elif fmt == "csv":
        click.echo(render_csv(report), nl=False)
    else:
        click.echo(render_table(report, lang=lang), nl=False)


@click.group()
def campaign() -> None:
    """Outbound campaigns of the site file: list, show, pause, resume, import, results."""


_COUNTS = """
SELECT campaign,
    count(*) FILTER (WHERE state = 'pending') AS pending,
    count(*) FILTER (WHERE state = 'dialling') AS dialling,
    count(*) FILTER (WHERE state = 'done' AND updated_at >= %(day)s) AS done_today,
    count(*) FILTER (WHERE state IN ('refused', 'expired', 'cancelled')
                     AND updated_at >= %(day)s) AS given_up_today
FROM outbound_jobs
WHERE campaign = ANY(%(names)s) AND (state IN ('pending', 'dialling')
                                     OR updated_at >= %(day)s)
GROUP BY campaign
"""
_PAUSED = "SELECT name, paused, changed_at, changed_by FROM campaign_state"


def _counts(conn: Any, names: list[str], day: dt.datetime) -> dict[str, tuple[int, ...]]:
    return {r[0]: tuple(r[1:]) for r in conn.execute(
        _COUNTS, {"day": day, "names": names}).fetchall()}


@campaign.command("list")
@site_file_option
@fmt_option
@dsn_option
@conf_option
def list_(site_file: Path, fmt: str, dsn: str | None, conf_dir: Path) -> None:
    """Every campaign: kind, window, concurrency, paused, jobs pending, dialling, done today
    and given up today (refused, expired or cancelled)."""
    from callcenter.reports.model import Report

    with reported():
        spec = _spec(site_file)
        camps = spec.outbound.campaigns
        day = _day_start(spec)

        def work(conn: Any) -> tuple[dict[str, tuple[int, ...]], dict[str, bool]]:
            state = {r[0]: r[1] for r in conn.execute(_PAUSED).fetchall()}
            return _counts(conn, list(camps), day), state

        counts, paused = _read(dsn, conf_dir, work)
        rows = [[name, c.kind, c.window, c.concurrency, "yes" if paused.get(name) else "no",
                 *counts.get(name, (0, 0, 0, 0))] for name, c in sorted(camps.items())]
        _emit(Report("campaigns", "Campaigns",
                     ["campaign", "kind", "window", "concurrency", "paused", "pending",
                      "dialling", "done_today", "given_up_today"], rows,
                     [f"today: since {day:%Y-%m-%d %H:%M %Z}"] if camps else
                     [f"{site_file} defines no campaigns (outbound: campaigns:)"]),
              fmt, spec.company.language)


_LAST = """
SELECT a.started_at, j.number, coalesce(j.external_id, ''), coalesce(a.result, 'dialling'),
    coalesce(a.trunk, ''), coalesce(a.caller_id, ''), coalesce(a.caller_id_kind, ''),
    coalesce(a.dial_status, '')
FROM outbound_attempts a JOIN outbound_jobs j ON j.id = a.job_id
WHERE j.campaign = %(name)s ORDER BY a.started_at DESC LIMIT %(n)s
"""
_STATES = "SELECT state, count(*) FROM outbound_jobs WHERE campaign = %s GROUP BY 1"
_SETTINGS = ("kind", "template", "window", "concurrency", "trunks", "queue", "mode",
             "target_minutes", "abandon_ceiling", "flow", "consent_required")
_FOR_KIND = {"lead": {"queue", "mode", "target_minutes", "abandon_ceiling"},
             "survey": {"flow"}}


def _setting(key: str, value: Any) -> str:
    if key == "trunks":
        return ", ".join(value) or "any trunk of the pool's numbers"
    if key == "consent_required" and value is None:
        return "by kind (reminders need none)"
    return "-" if value is None else str(value)


@campaign.command()
@click.argument("name")
@click.option("--last", type=click.IntRange(0, 1000), default=10, show_default=True,
              help="How many of the latest attempts to list.")
@site_file_option
@dsn_option
@conf_option
def show(name: str, last: int, site_file: Path, dsn: str | None, conf_dir: Path) -> None:
    """One campaign: its settings, its jobs by state, today's counts, the latest attempts."""
    with reported():
        spec = _spec(site_file)
        c = _campaign(spec, name, site_file)
        day, tz = _day_start(spec), ZoneInfo(spec.company.timezone)

        def work(conn: Any) -> tuple[Any, ...]:
            state = conn.execute(_PAUSED + " WHERE name = %s", (name,)).fetchone()
            return (state, dict(conn.execute(_STATES, (name,)).fetchall()),
                    _counts(conn, [name], day).get(name, (0, 0, 0, 0)),
                    conn.execute(_LAST, {"name": name, "n": last}).fetchall())

        state, by_state, today, attempts = _read(dsn, conf_dir, work)
        click.echo(f"campaign {name}")
        other = set().union(*_FOR_KIND.values()) - _FOR_KIND.get(c.kind, set())
        for key in _SETTINGS:
            if key not in other:
                click.echo(f"  {key:<17} {_setting(key, getattr(c, key))}")
        if state is not None and state[1]:
            click.echo(f"  {'paused':<17} yes, since {state[2].astimezone(tz):%Y-%m-%d %H:%M}"
                       + (f" by {state[3]}" if state[3] else ""))
        else:
            click.echo(f"  {'paused':<17} no")
        click.echo("jobs: " + (", ".join(f"{k} {v}" for k, v in sorted(by_state.items()))
                               or "none yet"))
        click.echo(f"today: done {today[2]}, given up {today[3]}")
        if attempts:
            click.echo(f"latest {len(attempts)} attempts:")
            for at, number, ext, result, trunk, cid, kind, status in attempts:
                click.echo(f"  {at.astimezone(tz):%Y-%m-%d %H:%M:%S}  {number:<13} "
                           f"{ext or '-':<12} {result:<10} {trunk or '-'} {cid or '-'} "
                           f"({kind or '-'}) {status}".rstrip())


def _set_paused(name: str, paused: bool, site_file: Path, dsn: str | None,
                conf_dir: Path) -> None:
    with reported():
        _campaign(_spec(site_file), name, site_file)
        by = getpass.getuser()
        _write(store_dsn(dsn, conf_dir), lambda store: store.set_paused(name, paused, by))
        if paused:
            click.echo(f"campaign {name} paused: the dialler places none of its calls until "
                       f"'callcenter campaign resume {name}' (calls ringing now finish)")
        else:
            click.echo(f"campaign {name} resumed: its due calls are placed again")


def _pause_command(paused: bool, doc: str) -> None:
    """`pause` and `resume`: one command each, the same options."""
    def command(name: str, site_file: Path, dsn: str | None, conf_dir: Path) -> None:
        _set_paused(name, paused, site_file, dsn, conf_dir)

    command.__doc__ = doc
    campaign.command("pause" if paused else "resume")(
        click.argument("name")(site_file_option(dsn_option(conf_option(command)))))


_pause_command(True, "Stop placing the campaign's calls (the jobs wait; their deadlines "
               "still apply).")
_pause_command(False, "Place the campaign's calls again.")


@campaign.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check FILE only; change nothing.")
@site_file_option
@dsn_option
@conf_option
def import_(name: str, file: Path, dry_run: bool, site_file: Path, dsn: str | None,
            conf_dir: Path) -> None:
    """Queue the calls of a CSV: reminders (number, lesson_id, lesson_start, student,
    course[, template]), leads (number, name, source, interest), surveys (number[, name]).
    All or nothing: one bad row and no job is stored. A row imported before is skipped."""
    from callcenter.cli.campaign_csv import CLIENT, read_jobs

    with reported():
        spec = _spec(site_file)
        c = _campaign(spec, name, site_file)
        rows = read_jobs(file, name, c, spec, cli_clock())
        if dry_run:
            click.echo(f"{file}: {len(rows)} rows good; nothing written (--dry-run)")
            return
        url = store_dsn(dsn, conf_dir)
        # a row imported before is left alone: its job may have been placed meanwhile, and
        # a lead's or survey's times (from now) differ on every import
        keys = [job.idempotency_key for _, job in rows]
        known = {k for (k,) in _read(url, conf_dir, lambda conn: conn.execute(
            _KNOWN_KEYS, (CLIENT, keys)).fetchall())}
        fresh = [job for _, job in rows if job.idempotency_key not in known]

        async def submit(store: Any) -> int:
            return sum(1 for _, new in await store.submit_many(fresh) if new)

        created = _write(url, submit) if fresh else 0
        before = len(rows) - created
        click.echo(f"{file}: {created} calls queued in campaign {name}"
                   + (f", {before} rows imported before (skipped)" if before else ""))


_RESULTS = """
SELECT coalesce(a.result, 'in_progress'), count(*)
FROM outbound_attempts a JOIN outbound_jobs j ON j.id = a.job_id
WHERE j.campaign = %(name)s AND a.started_at >= %(start)s AND a.started_at < %(end)s
GROUP BY 1
"""


@campaign.command()
@click.argument("name")
@click.option("--since", default=None, help="Start (company time): 2026-11-24, "
              "'2026-11-24 19:00', today, yesterday. Default: today 00:00.")
@click.option("--until", default=None, help="End, not included. Default: now.")
@site_file_option
@fmt_option
@dsn_option
@conf_option
def results(name: str, since: str | None, until: str | None, site_file: Path, fmt: str,
            dsn: str | None, conf_dir: Path) -> None:
    """The campaign's attempts by result in a window (default: today)."""
    from callcenter.cli.report_cmds import window
    from callcenter.outbound.jobs import RESULTS
    from callcenter.reports.figures import rate
    from callcenter.reports.model import Report

    with reported():
        spec = _spec(site_file)
        _campaign(spec, name, site_file)
        s, e = window(since, until, ZoneInfo(spec.company.timezone),
                      names=("--since", "--until"))
        counts = dict(_read(dsn, conf_dir, lambda conn: conn.execute(
            _RESULTS, {"name": name, "start": s, "end": e}).fetchall()))
        total = sum(counts.values())
        order = [*RESULTS, "in_progress"]
        rows = [[r, counts[r], rate(counts[r], total)]
                for r in sorted(counts, key=lambda r: order.index(r) if r in order else 99)]
        rows.append(["all", total, rate(total, total)])
        _emit(Report("results", "Attempts by result", ["result", "attempts", "share"], rows,
                     [f"campaign {name}: attempts started from {s:%Y-%m-%d %H:%M %Z} to "
                      f"before {e:%Y-%m-%d %H:%M %Z}"]), fmt, spec.company.language)


COMMANDS: list[click.Command] = [campaign]
