"""Rendering a centre of several nodes: each node's Asterisk folder, bound to its own
address and handing calls first to the first daemon, and the proxies' Kamailio folder.

Everything is rendered in memory first, so a site that fails for one node writes nothing
for any of them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from callcenter.errors import RenderError
from callcenter.site.model import Site
from callcenter.site.topology import node_settings

__all__ = ["node_site", "render_cluster"]


def node_site(site: Site, name: str) -> Site:
    """`site` as node `name` renders it: its `asterisk:` settings are the node's."""
    spec = site.spec
    if name not in spec.nodes:
        raise RenderError(f"no node {name!r} in the site file — known: "
                          + (", ".join(spec.nodes) or "none (this site is one server)"))
    daemon = next(iter(spec.daemons.values()))
    settings = node_settings(spec.asterisk, spec.nodes[name], daemon)
    return dataclasses.replace(site, spec=dataclasses.replace(spec, asterisk=settings),
                               node=name)


def render_cluster(site: Site, out_dir: str | Path,
                   only: str | None = None) -> dict[str, list[str]]:
    """Render every node (or node `only`) into OUT/nodes/NAME and the proxies into
    OUT/kamailio; return folder → names of the files that changed."""
    from callcenter.render import render_files, render_site
    from callcenter.render.kamailio import kamailio_files, write_kamailio

    out = Path(out_dir)
    names = [only] if only else list(site.spec.nodes)
    copies = {name: node_site(site, name) for name in names}
    for name, copy in copies.items():  # every failure before anything is written
        render_files(copy, out / "nodes" / name)
    proxies = kamailio_files(site) if only is None else {}
    changed: dict[str, list[str]] = {}
    for name, copy in copies.items():
        changed[f"nodes/{name}"] = render_site(copy, out / "nodes" / name)
    if proxies:
        changed["kamailio"] = write_kamailio(proxies, out / "kamailio")
    return changed
