"""init, check, render and secrets: the site file's commands."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import click

from callcenter.cli.common import load, reported, secrets_option, site_argument
from callcenter.errors import SiteError
from callcenter.render import render_site
from callcenter.site import load_site_file
from callcenter.site.secrets import generate_secrets, locate_secrets

__all__ = ["COMMANDS"]


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing site.yaml.")
@click.option("--cluster", is_flag=True,
              help="A centre of three Asterisk nodes, two proxies and two daemons.")
def init(directory: Path, force: bool, cluster: bool) -> None:
    """Write a complete example site (two sites, five queues, a 400 and a 95 number) into
    DIRECTORY, with freshly generated secrets beside it."""
    with reported():
        site = directory / "site.yaml"
        if site.exists() and not force:
            raise click.UsageError(f"{site} exists; use --force to overwrite it")
        example = resources.files("callcenter") / "example"
        directory.mkdir(parents=True, exist_ok=True)
        with resources.as_file(example) as src:
            shutil.copytree(src, directory, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "cluster.yaml"))
            if cluster:  # appended as text, so its comments stay for the reader
                with site.open("a", encoding="utf-8") as fh:
                    fh.write((src / "cluster.yaml").read_text(encoding="utf-8"))
        spec = load_site_file(site)
        added = generate_secrets(spec, directory / "secrets.yaml")
        click.echo(f"wrote the example site to {site}")
        if added:
            click.echo(f"generated {len(added)} secrets in {directory / 'secrets.yaml'} "
                       "(mode 0600; keep it out of version control)")
        click.echo(f"next: callcenter check {site} && callcenter render {site} --out DIR")


@click.command()
@site_argument
@secrets_option
def check(site: Path, secrets: Path | None) -> None:
    """Check SITE and the flows it names; print every problem as file:line:column (and
    warnings, which do not fail the check)."""
    from callcenter.site.advice import site_warnings

    with reported():
        s = load(site, secrets)
        spec = s.spec
        warnings = site_warnings(s)
        for w in warnings:
            click.echo(f"warning: {w}", err=True)
        click.echo(f"{site}: OK — {len(spec.sites)} sites, {len(spec.agents)} agents, "
                   f"{len(spec.queues)} queues, {len(spec.trunks)} trunks, "
                   f"{len(spec.numbers)} numbers, {len(spec.flows)} flows"
                   + (f", {len(spec.nodes)} nodes, "
                      f"{len(spec.proxy.addresses) if spec.proxy else 0} proxies, "
                      f"{len(spec.daemons)} daemons" if spec.nodes else "")
                   + (f", {len(warnings)} warning{'s' if len(warnings) != 1 else ''}"
                      if warnings else ""))


@click.command()
@site_argument
@secrets_option
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the Asterisk configuration (Asterisk's -C folder).")
@click.option("--node", default=None, metavar="NAME",
              help="Several nodes: render only node NAME's Asterisk folder into OUT.")
def render(site: Path, secrets: Path | None, out: Path, node: str | None) -> None:
    """Check SITE and render its Asterisk configuration into OUT (nothing written on error).

    A site with `nodes:` gets OUT/nodes/NAME for each node and OUT/kamailio for the
    proxies; with --node, OUT is that one node's folder."""
    from callcenter.render.nodes import node_site, render_cluster

    with reported():
        s = load(site, secrets)
        if node is not None:
            changed = {str(out): render_site(node_site(s, node), out)}
        elif s.clustered:
            changed = {str(out / k): v for k, v in render_cluster(s, out).items()}
        else:
            changed = {str(out): render_site(s, out)}
        for folder, names in changed.items():
            click.echo(f"rendered {folder}: " + (", ".join(names) if names else "no changes"))


@click.group()
def secrets() -> None:
    """Manage the secrets file (SIP passwords, PINs, AMI secret)."""


@secrets.command("generate")
@site_argument
@secrets_option
def secrets_generate(site: Path, secrets: Path | None) -> None:
    """Add random values for every secret SITE needs that the secrets file lacks."""
    import os

    with reported():
        try:
            spec = load_site_file(site)
        except SiteError:
            raise
        path = locate_secrets(site, spec, secrets, os.environ)
        added = generate_secrets(spec, path)
        click.echo(f"{path}: " + (f"added {', '.join(added)}" if added else "nothing missing"))


COMMANDS = (init, check, render, secrets)
