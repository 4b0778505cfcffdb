"""The one rule for what every outbound call shows and which carriers carry it: reminders,
leads, surveys, callbacks and agents' manual calls. A pool number goes out through its own
carrier only; the second route (another carrier) presents the national number."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from callcenter.errors import CallcenterError
from callcenter.outbound.callerid import choose, national_number, site_caller_id_for
from callcenter.outbound.region import Region, lookup, overrides_for
from callcenter.site.model import SiteFile

__all__ = ["Presentation", "present"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Presentation:
    number: str  # shown on the first route
    fallback: str  # shown on the second route: the national number
    first: str  # trunks
    second: str  # == first when there is no other carrier
    tier: str  # local_city, local_province, national, site (caller_id_kind)
    why: str


def present(spec: SiteFile, base_dir: Path, digits: str, kind: str,
            usage: Mapping[str, int], *, site: str | None = None,
            trunks: Collection[str] = ()) -> Presentation:
    """What a call of `kind` to `digits` presents; `usage`: pool numbers' uses today;
    `site`: an agent's site (kind agent); `trunks`: the carriers a campaign may use."""
    national = national_number(spec)
    nat = next(n for n in spec.numbers if n.number == national)
    try:
        region = lookup(digits, overrides_for(spec.outbound, base_dir))
    except CallcenterError as exc:  # an override file gone bad must not stop calls
        log.warning("callee region unknown: %s", exc)
        region = Region("", "", "unknown", "none")
    choice = choose(spec.outbound, region, kind, usage, national=national,
                    site_caller_id=site_caller_id_for(spec, site) if kind == "agent" else None)
    routes = [t for t in (nat.first_route, nat.second_route or nat.first_route)
              if not trunks or t in trunks] or [nat.first_route]
    number, tier, why, first = choice.number, choice.tier, choice.why, choice.trunk
    if first is not None and trunks and first not in trunks:
        number, tier = national, "national"
        why += f"; its carrier {first} is not one this campaign uses, so the national number"
        first = None
    if first is None:
        first = routes[0]
    second = next((t for t in routes if t != first), first)
    return Presentation(number, national, first, second, tier, why)
