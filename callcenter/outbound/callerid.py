"""Which number an outbound call presents (local caller ID), and why: pure, no I/O.

Pool numbers the call's kind may use and still under their daily cap; the callee's city
first, then the province, then the national 400/95 number. Among equals the one used least
today, ties by pool order. Agents' manual calls from a site listed in
`outbound.agent_site_caller_id` present that site's own caller_id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from callcenter.outbound.region import Region, short_name
from callcenter.site.model import SiteFile
from callcenter.site.numbers import classify
from callcenter.site.outbound import Outbound, PoolNumber

__all__ = ["Choice", "Tier", "choose", "national_number", "site_caller_id_for"]

Tier = Literal["local_city", "local_province", "national", "site"]


@dataclass(frozen=True)
class Choice:
    """The number to present, the trunk that must carry it (None: the usual routes of the
    national number or the site), its tier (outbound events' caller_id_kind) and why."""

    number: str
    trunk: str | None
    tier: Tier
    why: str


def national_number(spec: SiteFile) -> str:
    """The fallback: the first 400/95 number of the site file (else its first number)."""
    for n in spec.numbers:
        if (n.kind or classify(n.number)) in ("400", "95"):
            return n.number
    return spec.numbers[0].number if spec.numbers else ""


def site_caller_id_for(spec: SiteFile, site: str | None) -> str | None:
    """The caller_id an agent's manual call from `site` presents, if the site file lists
    the site in outbound.agent_site_caller_id (None: the pool chooses)."""
    if site is None or site not in spec.outbound.agent_site_caller_id:
        return None
    s = spec.sites.get(site)
    return s.caller_id if s is not None and s.caller_id else None


def _uses(p: PoolNumber, usage: Mapping[str, int]) -> int:
    return usage.get(p.number, 0)


def _pick_text(p: PoolNumber, among: int, kind: str, usage: Mapping[str, int]) -> str:
    """'02880002000 is the least used of 2 pool numbers for reminder calls' and its use."""
    cap = f" of its daily cap {p.daily_cap}" if p.daily_cap else ""
    which = (f"the least used of {among} pool numbers" if among > 1
             else "the pool number")
    return f"{p.number} is {which} for {kind} calls", f"used {_uses(p, usage)}{cap} today"


def _near(p: PoolNumber, city: str, province: str) -> bool:
    return bool((p.province and short_name(p.province) == province)
                or (city and p.city and short_name(p.city) == city))


def _best(candidates: list[tuple[int, PoolNumber]], usage: Mapping[str, int]) -> PoolNumber:
    return min(candidates, key=lambda c: (_uses(c[1], usage), c[0]))[1]


def choose(outbound: Outbound, region: Region, kind: str, usage: Mapping[str, int], *,
           national: str, site_caller_id: str | None = None) -> Choice:
    """The number a call of `kind` to a callee in `region` presents. `usage`: presentations
    today per pool number; `national`: the 400/95 fallback (national_number);
    `site_caller_id`: for kind 'agent', the site's own number (site_caller_id_for)."""
    where = region.describe()
    if kind == "agent" and site_caller_id:
        return Choice(site_caller_id, None, "site",
                      f"an agent's manual call from a site that presents its own caller_id "
                      f"(outbound.agent_site_caller_id): {site_caller_id}, whatever the "
                      f"callee's region ({where})")
    allowed = [(i, p) for i, p in enumerate(outbound.caller_ids) if kind in p.kinds]
    usable = [(i, p) for i, p in allowed if not p.daily_cap or _uses(p, usage) < p.daily_cap]
    if not region.known:
        return Choice(national, None, "national",
                      f"the callee's region is unknown ({_unknown_reason(region)}), so the "
                      f"national number {national} is presented")
    city, province = short_name(region.city), short_name(region.province)
    # local numbers passed over for their cap are worth naming: "why not the 绵阳 number?"
    passed = [(p, f"{p.number} reached its daily cap of {p.daily_cap}") for _, p in allowed
              if _uses(p, usage) >= p.daily_cap > 0 and _near(p, city, province)]
    passed += [(p, f"{p.number} is not for {kind} calls") for p in outbound.caller_ids
               if kind not in p.kinds and _near(p, city, province)]
    note = f" ({'; '.join(t for _, t in passed)})" if passed else ""
    same_city = [(i, p) for i, p in usable if city and p.city and short_name(p.city) == city
                 and (not p.province or short_name(p.province) == province)]
    if same_city:
        p = _best(same_city, usage)
        pick, used = _pick_text(p, len(same_city), kind, usage)
        # only the city's own numbers passed over explain a city choice
        passed = [(q, t) for q, t in passed if _near(q, city, "")]
        note = f" ({'; '.join(t for _, t in passed)})" if passed else ""
        return Choice(p.number, p.trunk, "local_city",
                      f"the callee is in {where}; {pick} in the same city ({used}){note}")
    same_province = [(i, p) for i, p in usable
                     if p.province and short_name(p.province) == province]
    if same_province:
        p = _best(same_province, usage)
        pick, used = _pick_text(p, len(same_province), kind, usage)
        return Choice(p.number, p.trunk, "local_province",
                      f"the callee is in {where}; no usable pool number in "
                      f"{region.city or 'that city'}{note}, so {pick} in the same province "
                      f"({p.city or province}, {used})")
    return Choice(national, None, "national",
                  f"the callee is in {where}; no usable pool number for {kind} calls in "
                  f"that city or province{note}, so the national number {national} is "
                  "presented")


def _unknown_reason(region: Region) -> str:
    if region.kind == "unknown":
        return "not a mobile or a landline with its area code"
    return (f"the {region.kind} prefix is not in the phonenumbers data nor in the "
            "override CSV (outbound.region_overrides)")
