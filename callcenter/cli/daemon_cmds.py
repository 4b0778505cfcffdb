"""`callcenter run` (the daemon) and `callcenter status` (what the running daemon sees)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from callcenter.cli.common import conf_option, load, reported, secrets_option, site_argument

__all__ = ["COMMANDS"]


@click.command()
@site_argument
@secrets_option
@conf_option
@click.option("--log-level", default="INFO", show_default=True)
@click.option("--json-logs", is_flag=True, help="One JSON document per log line.")
@click.option("--at", "at", default=None, help='Run the flows\' clock as if it were now this '
              'time, e.g. "2026-11-24 20:05" (company time zone) — for tests and rehearsals.')
@click.option("--dsn", default=None, help="PostgreSQL for the call events ($CALLCENTER_DSN, "
              "else the site's database.dsn, else a private cluster under --conf).")
@click.option("--no-store", is_flag=True, help="Keep events in the local spool only.")
@click.option("--as", "name", default=None, envvar="CALLCENTER_DAEMON", metavar="NAME",
              help="Several daemons: which of the site file's `daemons` this one is.")
def run(site: Path, secrets: Path | None, conf_dir: Path, log_level: str,
        json_logs: bool, at: str | None, dsn: str | None, no_store: bool,
        name: str | None) -> None:
    """Run the daemon: AMI to Asterisk, FastAGI for the IVR flows, until SIGTERM."""
    from callcenter.daemon.app import Daemon
    from callcenter.daemon.logs import setup_logging
    from callcenter.daemon.loop import run as run_loop

    with reported():
        setup_logging(log_level.upper(), json_logs)
        loaded = load(site, secrets)
        offset = dt.timedelta(0)
        if at:
            tz = ZoneInfo(loaded.spec.company.timezone)
            try:
                offset = dt.datetime.fromisoformat(at).replace(tzinfo=tz) - dt.datetime.now(tz)
            except ValueError as exc:
                raise click.BadParameter(f"{at!r} is not a time like '2026-11-24 20:05'",
                                         param_hint="--at") from exc
        daemon = Daemon(loaded, conf_dir, clock_offset=offset, dsn=dsn, store=not no_store,
                        name=name)
        run_loop(daemon.run())


@click.command()
@conf_option
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON document.")
def status(conf_dir: Path, as_json: bool) -> None:
    """Ask the running daemon what it sees: AMI link, live calls, flows in progress."""
    from callcenter.daemon.paths import daemon_paths
    from callcenter.daemon.status import query_status

    with reported():
        doc = query_status(daemon_paths(conf_dir).socket)
        if as_json:
            click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
            return
        ami = doc["ami"]
        click.echo(f"callcenter {doc['version']}, up {doc['uptime_seconds']:.0f} s, site "
                   f"{doc['site']}")
        for alarm in doc.get("alarms", []):
            click.secho(f"ALARM: {alarm}", fg="red", bold=True)
        click.echo(f"AMI: {'connected' if ami['connected'] else 'NOT connected'} "
                   f"({ami['connects']} connects, {ami['events']} events)")
        click.echo(f"FastAGI: port {doc['agi']['port']}, {doc['agi']['sessions']} sessions")
        for line in cluster_lines(doc.get("cluster")):
            click.echo(line)
        click.echo(f"live channels: {len(doc['channels'])}")
        for ch in doc["channels"]:
            click.echo(f"  {ch['name']:<40} {ch['state']:<8} {ch['caller']:<16} "
                       f"{ch['context']}/{ch['exten']}")
        click.echo(f"flows in progress: {len(doc['flows']['active'])}")
        for flow in doc["flows"]["active"]:
            click.echo(f"  {flow['call']:<20} {flow['flow']:<12} at {flow['node']:<16} "
                       f"caller {flow['caller']}")
        agents = [a for a in doc.get("agents", []) if a["state"] != "logged_out"]
        click.echo(f"agents logged in: {len(agents)}")
        for a in agents:
            why = f" ({a['reason']})" if a.get("reason") else ""
            click.echo(f"  {a['id']:<8} {a['state'] + why:<24} at {a['device'] or '-'}")
        store = doc.get("store", {})
        if store:
            from callcenter.daemon.status import store_state

            state = store_state(store)
            click.echo(f"store: {state}; {store['stored']} events stored, "
                       f"{store['backlog_bytes']} bytes waiting in the spool")


def cluster_lines(part: dict | None) -> list[str]:
    """A daemon of several: whether it leads, who does, and each node's AMI link."""
    if not part:
        return []
    lease = part.get("lease") or {}
    holder = lease.get("holder") or "nobody"
    if part["leading"]:
        head = f"daemon {part['name']}: LEADS the ACD (term {part['term']})"
    else:
        head = (f"daemon {part['name']}: standing by (leader {holder}, term "
                f"{lease.get('term', '?')})")
    lines = [head]
    for name, node in sorted(part.get("nodes", {}).items()):
        lines.append(f"  node {name:<12} {node.get('address', ''):<16} AMI "
                     + ("up" if node["ami"] else "DOWN")
                     + f", {node.get('channels', 0)} channels ({node['connects']} connects)"
                     + (f", {node['channels_lost']} ended by its loss"
                        if node.get("channels_lost") else ""))
    return lines


COMMANDS = (run, status)
