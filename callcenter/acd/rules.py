"""Routing rules every part of callcenter must apply the same way.

The scheduler twins, the live ACD, the wallboard and the site checker all ask these
functions; the Cython twin mirrors `serves` in its own membership code (marked there) and
the twin-comparison tests hold the two to the same answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["queue_staff", "serves", "site_overflow_queue"]


def serves(agent_site: str, agent_skills: Mapping[str, int], queue_site: str | None,
           queue_skills: Mapping[str, int]) -> bool:
    """Whether an agent counts as staff of a queue: of the queue's site (a queue with no
    site takes any) and at or above every required skill level. Expansion (lower levels,
    the overflow site) only widens who may be offered a long-waiting call; it does not make
    an agent staff."""
    if queue_site is not None and queue_site != "" and agent_site != queue_site:
        return False
    return all(agent_skills.get(skill, 0) >= level for skill, level in queue_skills.items())


def queue_staff(spec: Any) -> dict[str, list[str]]:
    """Per queue of a site file (`SiteFile`), the ids of the agents who count as its staff
    (`serves`): what the scheduler, the wallboard and the alarms count."""
    return {name: [a.id for a in spec.agents
                   if serves(a.site, a.skills, q.site, q.skills)]
            for name, q in spec.queues.items()}


def site_overflow_queue(queues: Mapping[str, object], from_queue: str,
                        site: str) -> str | None:
    """The queue an `overflow: site:NAME` sends a call to: the queue of site NAME that asks
    for the same skills at the same levels (the first by name when several do)."""
    skills = dict(getattr(queues[from_queue], "skills", {}))
    for name in sorted(queues):
        q = queues[name]
        if name != from_queue and getattr(q, "site", None) == site \
                and dict(getattr(q, "skills", {})) == skills:
            return name
    return None
