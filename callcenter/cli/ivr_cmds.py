"""`callcenter ivr simulate|graph` and `callcenter prompts build`."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import click

from callcenter.cli.common import cli_clock, load, reported, secrets_option
from callcenter.errors import CallcenterError

__all__ = ["COMMANDS"]

site_option = click.option("--site", "site_path", default="site.yaml", show_default=True,
                           type=click.Path(dir_okay=False, path_type=Path),
                           help="The site file whose flows, prompts and queues are used.")


def _flow_or_fail(site, flow: str):
    if flow not in site.flows:
        raise CallcenterError(f"no flow named {flow!r} — the site has: "
                              + ", ".join(sorted(site.flows)))
    return site.flows[flow]


@click.group()
def ivr() -> None:
    """Simulate and draw IVR flows (no Asterisk needed)."""


@ivr.command()
@click.argument("flow")
@site_option
@secrets_option
@click.option("--caller", default="13800138000", show_default=True, help="Caller's number.")
@click.option("--digits", default="", help="What the caller presses each time the flow "
              "waits, comma-separated; '-' or empty = presses nothing. E.g. 2,1")
@click.option("--at", "at", default=None, help='The clock, e.g. "2026-11-24 20:05" '
              "(company time zone; default now).")
@click.option("--contact-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Contacts (CSV/YAML) instead of the site's.")
def simulate(flow: str, site_path: Path, secrets: Path | None, caller: str, digits: str,
             at: str | None, contact_file: Path | None) -> None:
    """Run FLOW with no Asterisk and print the path. Exit status: 0 queue, 10 transfer,
    11 voicemail, 12 hangup, 13 caller hung up."""
    from callcenter.ivr.contacts import ContactBook
    from callcenter.ivr.simulate import EXIT_CODES
    from callcenter.ivr.simulate import simulate as run

    with reported():
        site = load(site_path, secrets)
        _flow_or_fail(site, flow)
        presses = ["" if d.strip() in ("-", "") else d.strip() for d in digits.split(",")] \
            if digits else []
        when = None
        if at:
            try:
                when = dt.datetime.fromisoformat(at)
            except ValueError as exc:
                raise click.BadParameter(f"{at!r} is not a time like '2026-11-24 20:05'",
                                         param_hint="--at") from exc
        contacts = ContactBook.load(contact_file) if contact_file else None
        outcome = asyncio.run(run(site, flow, caller=caller, presses=presses, at=when,
                                  contacts=contacts, echo=click.echo, clock=cli_clock()))
        raise SystemExit(EXIT_CODES.get(outcome.kind, 1))


@ivr.command()
@click.argument("flow")
@site_option
@secrets_option
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid", "svg"]), default="dot",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
def graph(flow: str, site_path: Path, secrets: Path | None, fmt: str,
          output: Path | None) -> None:
    """Draw FLOW: nodes, and edges labelled with keys and conditions."""
    from callcenter.ivr.graph import to_dot, to_mermaid, to_svg

    with reported():
        f = _flow_or_fail(load(site_path, secrets), flow)
        text = {"dot": to_dot, "mermaid": to_mermaid, "svg": to_svg}[fmt](f)
        if output:
            output.write_text(text, encoding="utf-8")
            click.echo(f"wrote {output}")
        else:
            click.echo(text, nl=False)


@click.group()
def prompts() -> None:
    """Prompt audio for the site."""


@prompts.command("build")
@click.argument("site", type=click.Path(dir_okay=False, path_type=Path))
@secrets_option
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The rendered configuration folder (sounds go to OUT/sounds).")
@click.option("--force", is_flag=True, help="Rebuild every prompt.")
def prompts_build(site: Path, secrets: Path | None, out: Path, force: bool) -> None:
    """Render every prompt to an 8 kHz WAV: recordings converted, texts spoken (espeak-ng)."""
    from callcenter.ivr.prompts import build_prompts

    with reported():
        result = build_prompts(load(site, secrets), out, force=force)
        built = [k for k, v in result.items() if v == "built"]
        click.echo(f"{len(built)} prompts built, {len(result) - len(built)} unchanged "
                   f"in {out / 'sounds'}")


COMMANDS = (ivr, prompts)
