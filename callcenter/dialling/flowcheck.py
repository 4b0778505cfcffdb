"""`callcenter check` rule: a flow may not transfer to a number the caller chose (keyed in,
or their own caller ID) unless the transfer node restricts it with `pattern`/`classes`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from callcenter.dialling.classes import CLASSES
from callcenter.site import flownodes as n

__all__ = ["CALLER_VARS", "caller_vars", "transfer_problems"]

# built-ins the caller controls: the caller ID they present and its name
CALLER_VARS = frozenset({"caller", "caller_name"})

Problem = tuple[str, tuple[Any, ...], str, str]


def caller_vars(flow: n.Flow) -> set[str]:
    """Variables holding caller-chosen text: input nodes' vars, and set nodes' vars whose
    value uses one of those (to a fixpoint)."""
    tainted = set(CALLER_VARS) | {v.var for v in flow.nodes.values() if isinstance(v, n.Input)}
    changed = True
    while changed:
        changed = False
        for node in flow.nodes.values():
            if not isinstance(node, n.Set):
                continue
            for key, value in node.vars.items():
                if key not in tainted and any(m[1] in tainted for m in n.VAR.finditer(value)):
                    tainted.add(key)
                    changed = True
    return tainted


def transfer_problems(flow: n.Flow) -> Iterator[Problem]:
    """(node, path, message, hint) for each unrestricted or badly restricted transfer."""
    tainted = caller_vars(flow)
    for name, node in flow.nodes.items():
        if not isinstance(node, n.Transfer):
            continue
        if node.pattern is not None:
            try:
                re.compile(node.pattern)
            except re.error as exc:
                yield name, ("pattern",), f"pattern is not a regular expression: {exc}", \
                    "fix the regex, e.g. '1[3-9][0-9]{9}' for a mobile number"
        for i, cls in enumerate(node.classes or []):
            if cls not in CLASSES:
                yield name, ("classes", i), f"unknown number class '{cls}'", \
                    "use one of: " + ", ".join(CLASSES)
        used = [m[1] for m in n.VAR.finditer(node.to) if m[1] in tainted]
        if used and node.pattern is None and not node.classes:
            yield name, ("to",), (f"transfer to '${{{used[0]}}}', which the caller chooses, "
                                  "is an open dial-out (toll fraud)"), \
                "restrict it with 'pattern:' (e.g. '1[3-9][0-9]{9}') and/or 'classes: " \
                "[mobile]' on this node (docs/dialling.md)"
