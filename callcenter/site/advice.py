"""Warnings: things in a valid site file that work, but probably not as the writer meant.

`callcenter check` prints them and still succeeds; nothing else reads them."""

from __future__ import annotations

from callcenter.acd.rules import site_overflow_queue
from callcenter.errors import Problem
from callcenter.site.model import Site
from callcenter.site.outboundcheck import outbound_warnings
from callcenter.site.queuecheck import expansion_only
from callcenter.site.topologycheck import topology_warnings
from callcenter.site.yamlsrc import load_yaml

__all__ = ["site_warnings"]


def _skills(skills: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(skills.items())) or "none"


def site_warnings(site: Site) -> list[Problem]:
    """Located warnings about a site that loaded without errors."""
    src, _ = load_yaml(site.path)  # the positions only; the file was checked already
    if src is None:
        return []
    spec = site.spec
    out: list[Problem] = []
    for key in expansion_only(spec):
        out.append(src.problem(
            ("queues", key, "skills"),
            "no agent has the required levels: calls wait expand_after_seconds "
            f"({spec.queues[key].expand_after_seconds} s), then go to agents one level below",
            "give an agent these levels, or lower them if that is what you meant"))
    for key, q in sorted(spec.queues.items()):
        if q.max_wait_seconds == 0 and q.overflow != "voicemail:default":
            out.append(src.problem(("queues", key, "overflow"),
                                   "never used: max_wait_seconds is 0, so calls wait for ever",
                                   "set max_wait_seconds, or remove 'overflow:'"))
    for key, q in sorted(spec.queues.items()):
        if q.expand_after_seconds is None:
            for name, unused in (("overflow_site", q.overflow_site is not None),
                                 ("expand_levels", q.expand_levels != 1)):
                if unused:
                    out.append(src.problem(
                        ("queues", key, name), "never used: skill expansion is off",
                        "set expand_after_seconds (when expansion starts), or remove "
                        f"'{name}:'"))
    for key, q in sorted(spec.queues.items()):
        kind, _, name = q.overflow.partition(":")
        if kind == "site" and site_overflow_queue(spec.queues, key, name) is None:
            out.append(src.problem(
                ("queues", key, "overflow"), f"site {name} has no queue asking for the same "
                f"skills ({_skills(q.skills)}): overflowing calls take the static fallback",
                f"give site {name} a queue with these skills, or overflow to queue:NAME"))
    for i, num in enumerate(spec.numbers):
        if num.one_route:
            out.append(src.problem(
                ("numbers", i), f"one route only (trunk '{num.first_route}'): if that "
                "carrier fails, outbound calls and callbacks for this number fail",
                "add a second carrier's trunk as 'second_route:' when you have one"))
    for key, sd in sorted(spec.sites.items()):
        if not sd.phone_networks:
            out.append(src.problem(("sites", key), "its desk phones may register from any "
                                   "address", "set phone_networks to the office network "
                                   "(e.g. [10.8.0.0/16]); remote agents get agents[].networks"))
    if spec.asterisk.sip_bind == "0.0.0.0":
        out.append(src.problem(("asterisk", "sip_bind"), "SIP listens on every interface",
                               "bind the one address phones and carriers use, and firewall "
                               "the rest (README: Security)"))
    out += outbound_warnings(src, spec)
    out += topology_warnings(src, spec)
    return sorted(out, key=lambda p: (p.line, p.column))
