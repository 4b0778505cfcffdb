"""The site description: one YAML file, loaded into checked dataclasses."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from callcenter.errors import Problem, SiteError
from callcenter.site.flowcheck import compile_flows
from callcenter.site.flowfiles import load_flow_sources
from callcenter.site.model import Site, SiteFile
from callcenter.site.schema import parse_site_file
from callcenter.site.secrets import locate_secrets, resolve_secrets
from callcenter.site.validate import check_site
from callcenter.site.yamlsrc import Source, load_yaml

__all__ = ["Site", "SiteFile", "load_site", "load_site_file"]


def _parse(path: Path) -> tuple[Source, SiteFile, list[Problem]]:
    """The site file parsed, type-checked and cross-checked; raises SiteError if it cannot
    be read or typed at all, returns later problems to the caller."""
    src, problems = load_yaml(path)
    if src is None:
        raise SiteError(problems)
    spec, errs = parse_site_file(src)
    problems += errs
    if spec is None:
        raise SiteError(problems)
    return src, spec, problems + check_site(src, spec)


def load_site_file(path: str | Path) -> SiteFile:
    """Parse and check the site file alone (no secrets); raise SiteError listing every problem."""
    _, spec, problems = _parse(Path(path))
    if problems:
        raise SiteError(problems)
    return spec


def load_site(path: str | Path, *, secrets: str | Path | None = None,
              env: Mapping[str, str] | None = None) -> Site:
    """Load, type-check and cross-check a site file, its flows and its secrets; the
    flows are compiled here, once (`Site.flows`).

    Raises SiteError listing every problem found (not just the first)."""
    env = os.environ if env is None else env
    path = Path(path)
    src, spec, problems = _parse(path)
    flow_sources, flow_paths, errs = load_flow_sources(src, spec)
    problems += errs
    flows, errs = compile_flows(spec, flow_sources)  # once: the running site keeps these
    problems += errs
    secret_values, errs = resolve_secrets(src, spec, locate_secrets(path, spec, secrets, env), env)
    problems += errs
    if problems or secret_values is None:
        raise SiteError(sorted(problems, key=lambda p: (p.file, p.line, p.column)))
    return Site(path=path.resolve(), spec=spec, secrets=secret_values, flows=flows,
                flow_files=flow_paths)
