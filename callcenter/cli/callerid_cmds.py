"""`callcenter callerid`: which number an outbound call presents, and why."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from callcenter.cli.common import cli_clock, conf_option, dsn_option, reported, store_dsn
from callcenter.errors import CallcenterError
from callcenter.site.outbound import CALL_KINDS

__all__ = ["COMMANDS", "usage_today"]


@click.group()
def callerid() -> None:
    """Local caller ID (号码归属地): the pool in the site file's outbound.caller_ids
    (docs/callerid.md)."""


def usage_today(dsn: str | None, conf_dir: Path, day: dt.date) -> tuple[dict[str, int], str]:
    """Presentations per pool number on `day` from caller_id_usage, and where they came
    from; without a reachable store (never started here: a report-like reader) all 0."""
    import psycopg

    try:
        found = store_dsn(dsn, conf_dir, start=False)
        with psycopg.connect(found, connect_timeout=5) as conn:
            rows: list[Any] = conn.execute(
                "SELECT number, uses FROM caller_id_usage WHERE day = %s", (day,)).fetchall()
    except CallcenterError as exc:
        return {}, f"assumed 0 for every number ({exc})"
    except psycopg.errors.UndefinedTable:
        return {}, "assumed 0 for every number (the store has no caller_id_usage table yet)"
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return {}, f"assumed 0 for every number (cannot read the call-event store: {first})"
    return {str(n): int(u) for n, u in rows}, f"read from the call-event store for {day}"


@callerid.command()
@click.argument("number")
@click.option("--site-file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The site file: its outbound.caller_ids pool and override CSV.")
@click.option("--kind", type=click.Choice(CALL_KINDS), default=None,
              help="The kind of call (default: reminder; agent with --agent-site).")
@click.option("--agent-site", default=None,
              help="For an agent's manual call: the agent's site (职场).")
@dsn_option
@conf_option
def explain(number: str, site_file: Path, kind: str | None, agent_site: str | None,
            dsn: str | None, conf_dir: Path) -> None:
    """The callee's region, the number a call to NUMBER would present, its trunk and why."""
    from callcenter.outbound import callerid as cid
    from callcenter.outbound import region as rg
    from callcenter.site import load_site_file

    kind = kind or ("agent" if agent_site else "reminder")
    try:
        rg.national_digits(number)
    except rg.BadNumber as exc:
        raise click.BadParameter(str(exc), param_hint="NUMBER") from None
    with reported():
        spec = load_site_file(site_file)
        if agent_site is not None and agent_site not in spec.sites:
            raise click.BadParameter(f"no site {agent_site!r} in {site_file} — the sites are "
                                     f"{', '.join(spec.sites)}", param_hint="--agent-site")
        if agent_site is not None and kind != "agent":
            raise click.BadParameter("only an agent's manual call has a site: use --kind "
                                     "agent (or leave --kind out)", param_hint="--agent-site")
        region = rg.lookup(number, rg.overrides_for(spec.outbound, site_file.parent))
        day = cli_clock().now(ZoneInfo(spec.company.timezone)).date()
        usage, usage_note = usage_today(dsn, conf_dir, day)
        choice = cid.choose(spec.outbound, region, kind, usage,
                            national=cid.national_number(spec),
                            site_caller_id=cid.site_caller_id_for(spec, agent_site))
        source = {"phonenumbers": "from the phonenumbers data",
                  "override": "from the override CSV (outbound.region_overrides)",
                  "none": "not known to the phonenumbers data or the override CSV"}
        rows = [("number", f"{rg.national_digits(number)} ({region.kind}), kind of call: "
                 f"{kind}"),
                ("region", f"{region.describe()} — {source[region.source]}"),
                ("presents", f"{choice.number} ({choice.tier})"),
                ("trunk", choice.trunk or "the usual routes of that number"),
                ("why", choice.why),
                ("usage today", usage_note)]
        for label, text in rows:
            click.echo(f"{label + ':':<13}{text}")


COMMANDS: list[click.Command] = [callerid]
