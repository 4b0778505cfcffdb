"""Site-file checks of the `dialling:` section: class, role and site names must exist."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from callcenter.dialling.classes import CLASSES
from callcenter.site.model import SiteFile

__all__ = ["dialling_problems"]

Problem = tuple[tuple[str | int, ...], str, str]


def _classes(path: tuple[str | int, ...], names: list[str]) -> Iterator[Problem]:
    for i, name in enumerate(names):
        if name not in CLASSES:
            close = difflib.get_close_matches(name, CLASSES, n=1, cutoff=0.6)
            yield ((*path, i), f"unknown number class '{name}'",
                   f"did you mean '{close[0]}'?" if close else
                   "use one of: " + ", ".join(CLASSES))


def dialling_problems(spec: SiteFile) -> Iterator[Problem]:
    """(path, message, hint) of every problem in `dialling:` and the agents' roles."""
    pol = spec.dialling
    yield from _classes(("dialling", "allow"), pol.allow)
    roles = set(pol.roles)
    for role, names in pol.roles.items():
        yield from _classes(("dialling", "roles", role), names)
    for site, over in pol.sites.items():
        if site not in spec.sites:
            yield (("dialling", "sites", site), f"unknown site '{site}'",
                   "use a key under 'sites:'")
        if over.allow is not None:
            yield from _classes(("dialling", "sites", site, "allow"), over.allow)
        for role, names in over.roles.items():
            roles.add(role)
            yield from _classes(("dialling", "sites", site, "roles", role), names)
    for i, agent in enumerate(spec.agents):
        if agent.role not in roles:
            yield (("agents", i, "role"), f"unknown dialling role '{agent.role}'",
                   "define it under 'dialling: roles:' (known: " + ", ".join(sorted(roles))
                   + ")")
