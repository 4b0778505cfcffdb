"""A flow's transfer node: its own restriction (`pattern`, `classes`), then the policy."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from callcenter.dialling.policy import Decision, decide, refuse
from callcenter.site.model import SiteFile

__all__ = ["flow_transfer"]


def flow_transfer(spec: SiteFile, target: str, *, number: str = "",
                  pattern: str | None = None, classes: list[str] | None = None,
                  emit: Callable[..., Any] | None = None) -> Decision:
    """Decide a transfer to `target` (digits after variable substitution) for a call on
    service `number`; a node's pattern/classes narrow the site's policy, never widen it."""
    numdef = next((d for d in spec.numbers if d.number == number), None)
    site = numdef.site if numdef is not None else None
    if pattern is not None and not re.fullmatch(pattern, target):
        return refuse(Decision(False, "", "", "the target does not match the node's pattern"),
                      "flow_transfer", "", site=site, emit=emit)
    verdict = decide(spec, "flow_transfer", target, site_name=site, emit=emit)
    if verdict.allowed and classes is not None and verdict.number_class not in classes:
        verdict = refuse(Decision(False, verdict.number_class, "",
                                  f"{verdict.number_class} is not in the node's classes"),
                         "flow_transfer", "", site=site, emit=emit)
    return verdict
