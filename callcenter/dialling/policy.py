"""The one decision every outbound path takes: may this origin dial this number?"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from callcenter.dialling.classes import classify
from callcenter.site.model import DEFAULT_ALLOWED, Agent, SiteFile

__all__ = ["DEFAULT_ALLOWED", "ORIGINS", "Decision", "allowed_classes", "decide", "refuse"]

log = logging.getLogger(__name__)

ORIGINS: tuple[str, ...] = ("agent", "transfer", "flow_transfer", "callback", "campaign")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    number_class: str
    dial_digits: str  # what the dialplan may dial ("" when refused)
    reason: str


def allowed_classes(spec: SiteFile, origin: str, *, agent: Agent | None = None,
                    site_name: str | None = None) -> frozenset[str]:
    """The classes `origin` may dial: the agent role's list (agent origin) or the site's
    list, a per-site override winning over the company-wide `dialling:` section."""
    pol = spec.dialling
    site = agent.site if agent is not None else site_name
    over = pol.sites.get(site) if site else None
    allow = over.allow if over is not None and over.allow is not None else pol.allow
    if origin == "agent" and agent is not None:
        roles = over.roles if over is not None and agent.role in over.roles else pol.roles
        if agent.role in roles:
            allow = roles[agent.role]
        # a person at a desk phone may always reach the emergency services
        return frozenset(allow) | ({"emergency"} if pol.agent_emergency else set())
    return frozenset(allow) - {"emergency"}


def decide(spec: SiteFile, origin: str, number: str, *, agent: Agent | None = None,
           site_name: str | None = None,
           emit: Callable[..., Any] | None = None, **event: Any) -> Decision:
    """Classify `number` and apply the policy for `origin`; a refusal is logged and, with
    `emit` (the recorder's), recorded as a `dial.refused` event carrying `event` too."""
    site = agent.site if agent is not None else site_name
    area = spec.sites[site].area_codes if site in spec.sites else []
    extensions = {a.extension for a in spec.agents}
    cls, digits = classify(number, extensions=extensions, area_codes=area)
    if origin not in ORIGINS:
        dec = Decision(False, cls, "", f"unknown origin {origin!r}")
    elif cls == "invalid":
        dec = Decision(False, cls, "", "not a number that can be dialled")
    elif cls in allowed_classes(spec, origin, agent=agent, site_name=site):
        return Decision(True, cls, digits, "allowed")
    else:
        dec = Decision(False, cls, "", f"{cls} numbers are not allowed for {origin}")
    return refuse(dec, origin, number, site=site, agent=agent, emit=emit, **event)


def refuse(dec: Decision, origin: str, number: str, *, site: str | None = None,
           agent: Agent | None = None, emit: Callable[..., Any] | None = None,
           **event: Any) -> Decision:
    """Log a refusal and record it as a `dial.refused` event (the number masked); every
    outbound path refuses through here, so each refusal is recorded alike."""
    log.warning("dial refused (%s): %s — %s", origin, _mask(number) or "-", dec.reason)
    if emit is not None:
        emit("dial.refused", site=site, agent_id=agent.id if agent else None,
             origin=origin, number_class=dec.number_class, number=_mask(number),
             reason=dec.reason, **event)
    return dec


def _mask(number: str) -> str:
    """The dialled number with its middle hidden: enough to trace an attack pattern."""
    clean = "".join(c for c in number if c.isdigit() or c == "+")[:24]
    if len(clean) <= 5:
        return clean
    if len(clean) <= 9:
        return clean[:3] + "*" * (len(clean) - 5) + clean[-2:]
    return clean[:5] + "*" * (len(clean) - 9) + clean[-4:]
