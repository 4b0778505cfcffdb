"""Checks of flow documents against the site (placeholder until the flow language lands)."""

from __future__ import annotations

from callcenter.errors import Problem
from callcenter.site.model import SiteFile
from callcenter.site.yamlsrc import Source

__all__ = ["check_flows"]


def check_flows(site_src: Source, spec: SiteFile, flows: dict[str, Source]) -> list[Problem]:
    """Every problem in the site's flow files."""
    return []
