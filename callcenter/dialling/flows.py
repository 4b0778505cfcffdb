"""A flow's transfer node: its own restriction (`pattern`, `classes`), then the policy."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from callcenter.dialling.policy import Decision, decide
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
        verdict = Decision(False, "", "", "the target does not match the node's pattern")
        if emit is not None:
            emit("dial.refused", site=site, origin="flow_transfer", number_class="",
                 number="", reason=verdict.reason)
        return verdict
    verdict = decide(spec, "flow_transfer", target, site_name=site, emit=emit)
    if verdict.allowed and classes is not None and verdict.number_class not in classes:
        verdict = Decision(False, verdict.number_class, "",
                           f"{verdict.number_class} is not in the node's classes")
        if emit is not None:
            emit("dial.refused", site=site, origin="flow_transfer",
                 number_class=verdict.number_class, number="", reason=verdict.reason)
    return verdict
