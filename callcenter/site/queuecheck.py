"""Queues the ACD could never serve, and overflow chains that never end."""

from __future__ import annotations

from callcenter.acd import rules
from callcenter.acd.rules import site_overflow_queue
from callcenter.errors import Problem
from callcenter.site.model import Agent, Queue, SiteFile
from callcenter.site.yamlsrc import Source

__all__ = ["check_queues", "expansion_only", "serves"]


def serves(agent: Agent, queue: Queue, expanded: bool = False) -> bool:
    """Whether the scheduler would offer `queue`'s calls to `agent` (as its _tier does):
    its staff (acd.rules.serves), or under skill expansion also the overflow_site's agents,
    and up to expand_levels lower, never below 1."""
    if not expanded:
        return rules.serves(agent.site, agent.skills, queue.site, queue.skills)
    if queue.site is not None and agent.site not in {queue.site, queue.overflow_site}:
        return False
    drop = queue.expand_levels
    return all(agent.skills.get(s, 0) >= max(1, m - drop) for s, m in queue.skills.items())


def _servers(spec: SiteFile, queue: Queue) -> tuple[list[Agent], list[Agent]]:
    normal = [a for a in spec.agents if serves(a, queue)]
    wider = ([a for a in spec.agents if serves(a, queue, expanded=True)]
             if queue.expand_after_seconds is not None else [])
    return normal, wider


def expansion_only(spec: SiteFile) -> list[str]:
    """Queues that only agents below the queue's levels serve (after expand_after_seconds)."""
    out = []
    for key, queue in sorted(spec.queues.items()):
        normal, wider = _servers(spec, queue)
        if not normal and wider:
            out.append(key)
    return out


def check_queues(src: Source, spec: SiteFile) -> list[Problem]:
    """An error for each queue no agent could ever serve and each overflow cycle."""
    out: list[Problem] = []
    for key, queue in spec.queues.items():
        if not queue.skills or any(s not in spec.skills for s in queue.skills):
            continue  # reported already as a missing or unknown skill
        normal, wider = _servers(spec, queue)
        if normal or wider:
            continue
        need = ", ".join(f"{s} ≥ {m}" for s, m in sorted(queue.skills.items()))
        where = f" at site '{queue.site}'" if queue.site else ""
        out.append(src.problem(("queues", key, "skills"),
                               f"no agent{where} has {need}: no call in this queue could "
                               "ever be answered",
                               "lower the levels, give an agent these skills"
                               + (", or remove 'site:'" if queue.site else "")))
    out += _overflow_cycles(src, spec)
    return out


def _overflow_cycles(src: Source, spec: SiteFile) -> list[Problem]:
    # an overflowed call keeps its waiting time, so a cycle bounces it between the queues
    # at once and for ever; max_wait_seconds 0 means the queue never overflows
    nxt: dict[str, str] = {}
    for key, q in spec.queues.items():
        kind, _, target = q.overflow.partition(":")
        if kind == "site":  # the same skills at that site's queue (acd/live/overflow.py)
            target = site_overflow_queue(spec.queues, key, target) or ""
        if kind in ("queue", "site") and target in spec.queues and target != key \
                and q.max_wait_seconds:
            nxt[key] = target
    out: list[Problem] = []
    reported: set[str] = set()
    for start in sorted(nxt):
        chain = [start]
        while chain[-1] in nxt and nxt[chain[-1]] not in chain:
            chain.append(nxt[chain[-1]])
        last = chain[-1]
        if last not in nxt:
            continue
        cycle = chain[chain.index(nxt[last]):]
        if reported & set(cycle):
            continue
        reported |= set(cycle)
        first = min(cycle)
        i = cycle.index(first)
        ring = [*cycle[i:], *cycle[:i], first]
        out.append(src.problem(("queues", first, "overflow"),
                               "overflow cycle: " + " → ".join(ring) + " (a call would "
                               "never leave these queues)",
                               "end the chain with voicemail:, callback, hangup or site:"))
    return out
